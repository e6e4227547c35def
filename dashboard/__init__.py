"""The kubelab web dashboard: static files (HTML, plain JavaScript modules, CSS; no build
step, nothing fetched from the internet) that the apiserver serves at ``/dashboard/``.

Every piece of data is the browser's own API request with the user's token: lists and
watches as the apiserver's Tables (the columns ``kl get`` prints), so RBAC decides what
a user sees and the states read as in ``kl``. Nothing here runs on the server.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
