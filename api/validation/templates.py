"""The parts every workload kind validates alike: its pod template and the selector that
must select the template's labels."""

from __future__ import annotations

from typing import Any

from api.selectors import LabelSelector
from api.validation.common import Errs, as_dict, check_labels, invalid, required
from api.validation.pod import validate_pod_spec

Obj = dict[str, Any]


def check_selector(errs: Errs, field: str, sel: Any, template: Any, template_field: str) -> None:
    """Selector present, non-empty, parseable, and matching the template's labels."""
    if not isinstance(sel, dict) or not (sel.get("matchLabels") or sel.get("matchExpressions")):
        required(
            errs,
            field,
            "a non-empty selector is required; set matchLabels to the template's labels "
            "(e.g. selector: {matchLabels: {app: web}})",
        )
        return
    try:
        parsed = LabelSelector.from_dict(sel)
    except ValueError as e:
        invalid(errs, field, sel, str(e))
        return
    labels = as_dict(template.get("metadata")).get("labels") if isinstance(template, dict) else None
    if not parsed.matches(labels if isinstance(labels, dict) else {}):
        invalid(
            errs,
            f"{template_field}.metadata.labels",
            labels or {},
            f"`selector` does not match template `labels`; make {template_field}.metadata.labels "
            f"satisfy {field} ({parsed.to_string()})",
        )


def validate_template(
    errs: Errs, spec: Obj, allowed_restart: tuple[str, ...], prefix: str = "spec"
) -> Any:
    """The pod template at ``{prefix}.template``: labels and pod spec; None when missing."""
    template = spec.get("template")
    if not isinstance(template, dict):
        required(
            errs,
            f"{prefix}.template",
            "a pod template (metadata.labels and spec.containers) is required",
        )
        return None
    check_labels(
        errs, f"{prefix}.template.metadata.labels", as_dict(template.get("metadata")).get("labels")
    )
    tspec = template.get("spec")
    validate_pod_spec(errs, f"{prefix}.template.spec", tspec, allowed_restart)
    return template
