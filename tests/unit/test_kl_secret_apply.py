"""Client-side apply of a Secret written with ``stringData``: the server keeps only
``data`` (base64), so kl compares in that form."""

from __future__ import annotations

import base64
from typing import Any

from kubectl.applypatch import LAST_APPLIED, apply_patch, with_last_applied


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def stored(obj: dict[str, Any]) -> dict[str, Any]:
    """What the apiserver keeps of a created Secret: stringData folded into data."""
    live = with_last_applied(obj)
    data = dict(live.get("data") or {})
    for k, v in (live.pop("stringData", None) or {}).items():
        data[k] = b64(v)
    live["data"] = data
    live["metadata"].update(resourceVersion="5", uid="u")
    return live


SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "creds", "namespace": "ns"},
    "stringData": {"user": "alice", "password": "s3cr3t"},
    "data": {"other": "eA=="},
}


def test_unchanged_string_data_is_no_patch() -> None:
    assert apply_patch(SECRET, stored(SECRET)) == {}


def test_a_changed_or_removed_key_patches_data_and_records_what_was_written() -> None:
    live = stored(SECRET)
    changed = {**SECRET, "stringData": {"user": "bob"}}
    patch = apply_patch(changed, live)
    assert patch["data"] == {"user": b64("bob"), "password": None}
    assert "stringData" not in patch
    assert '"stringData":{"user":"bob"}' in patch["metadata"]["annotations"][LAST_APPLIED]
