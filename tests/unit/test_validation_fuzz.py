"""Defaulting and validation never crash on a mutated manifest: whatever a user sends, the
answer is a list of Causes (the apiserver turns an exception here into a 500)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.defaults import apply_defaults, generate_job_selector
from api.registry import RESOURCES
from api.validation import validate
from tests.integration.test_fuzz_api import EDITS, SEEDS, Edit, _mutate

KINDS = {r.plural: r.kind for r in RESOURCES}


@settings(
    max_examples=1500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(plural=st.sampled_from(sorted(SEEDS)), edits=EDITS, old_edits=EDITS)
def test_defaults_and_validation_answer_with_causes(
    plural: str, edits: list[Edit], old_edits: list[Edit]
) -> None:
    kind = KINDS[plural]
    new: Any = _mutate(SEEDS[plural], edits)
    apply_defaults(kind, new)
    assert isinstance(validate(kind, new), list)
    new["metadata"] = {
        **(new.get("metadata") if isinstance(new.get("metadata"), dict) else {}),
        "uid": "u",
    }
    if kind == "Job":
        generate_job_selector(new)
    # An update: the mutated object over a valid stored one, and a valid one over a mutant.
    old = copy.deepcopy(SEEDS[plural])
    apply_defaults(kind, old)
    assert isinstance(validate(kind, new, old), list)
    assert isinstance(validate(kind, old, _mutate(old, old_edits)), list)
