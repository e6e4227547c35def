"""``kl get`` of a custom kind: the server's Table (its CRD's additionalPrinterColumns), as
kubectl prints it; kl has no built-in columns for kinds it learnt from discovery."""

from __future__ import annotations

from typing import Any

from api.registry import ResourceInfo
from kubectl.printers.table import render_table

TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def _cell(value: Any) -> str:
    if value is None:
        return ""  # as kubectl prints a null cell
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def table_text(
    table: dict[str, Any], *, wide: bool, with_namespace: bool, no_headers: bool
) -> tuple[str, int]:
    """A meta.k8s.io Table as kubectl's text (priority > 0 columns only with -o wide),
    and how many rows it has."""
    defs = table.get("columnDefinitions") or []
    keep = [i for i, c in enumerate(defs) if wide or not int(c.get("priority") or 0)]
    headers = [str(defs[i].get("name") or "").upper() for i in keep]
    rows = []
    for row in table.get("rows") or []:
        cells = row.get("cells") or []
        out = [_cell(cells[i]) if i < len(cells) else "" for i in keep]
        if with_namespace:
            meta = (row.get("object") or {}).get("metadata") or {}
            out.insert(0, str(meta.get("namespace") or ""))
        rows.append(out)
    if with_namespace:
        headers.insert(0, "NAMESPACE")
    if not rows:
        return "", 0
    text = render_table(headers, rows)
    if no_headers:
        text = text.split("\n", 1)[1]
    return text, len(rows)


def fetch_table(
    client: Any,
    info: ResourceInfo,
    namespace: str | None,
    name: str = "",
    label_selector: str | None = None,
    field_selector: str | None = None,
) -> dict[str, Any]:
    """The server's Table of one custom object or a collection."""
    path = info.object_path(name, namespace) if name else info.collection_path(namespace)
    params = {
        k: v
        for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector))
        if v and not name
    }
    table: dict[str, Any] = client.request(
        "GET", path, params=params, headers={"accept": TABLE_ACCEPT}
    ).json()
    return table
