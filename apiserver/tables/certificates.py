"""Table cells for CertificateSigningRequests (upstream's printer)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from apiserver.tables.format import AGE_COL, NAME_COL, Obj, age_cell, col, human_duration, obj_name

CSR_COLUMNS = [
    NAME_COL,
    AGE_COL,
    col("SignerName", "Name of the signer that will sign the certificate"),
    col("Requestor", "Name of the user who created the request"),
    col("RequestedDuration", "Requested duration of the issued certificate"),
    col("Condition", "Whether the request is approved, denied, failed and issued"),
]


def csr_condition(csr: Obj) -> str:
    """Upstream's extractCSRStatus: Approved|Denied|Pending, then ,Failed and ,Issued."""
    status = csr.get("status") or {}
    types = {c.get("type") for c in status.get("conditions") or [] if isinstance(c, dict)}
    out = "Denied" if "Denied" in types else "Approved" if "Approved" in types else "Pending"
    if "Failed" in types:
        out += ",Failed"
    if status.get("certificate"):
        out += ",Issued"
    return out


def csr_cells(csr: Obj, now: dt.datetime) -> list[Any]:
    spec = csr.get("spec") or {}
    exp = spec.get("expirationSeconds")
    duration = human_duration(exp) if isinstance(exp, int) else "<none>"
    return [
        obj_name(csr),
        age_cell(csr, now),
        spec.get("signerName") or "",
        spec.get("username") or "",
        duration,
        csr_condition(csr),
    ]
