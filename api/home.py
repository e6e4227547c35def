"""Where a kubelab installation keeps its state: ``$KUBELAB_HOME``, default ``~/.kubelab``
(the database, PKI, tokens, kubeconfigs, logs). Every component's default comes from here."""

from __future__ import annotations

import os
from pathlib import Path


def kubelab_home() -> Path:
    """``$KUBELAB_HOME``, default ``~/.kubelab``."""
    return Path(os.environ.get("KUBELAB_HOME") or Path.home() / ".kubelab").expanduser()
