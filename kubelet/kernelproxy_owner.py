"""Which process owns a kernel proxy table, and the clean-up of tables whose owner died.

A kubelet removes its table when it stops cleanly and replaces it at its next start, but
a kubelet that is killed (a crash, ``kill -9``, a test's fault injection) and never comes
back under the same cluster and node name leaves its table behind, still DNATing the
ClusterIPs it knew: a later cluster on the box that allocates one of them would see its
traffic go to the dead cluster's endpoints. So each table names its owner in its nft
comment (pid, the process's start time, its pid namespace: a reused pid is another
process) and every kubelet, at start, removes the kubelab tables whose owner is gone.
A table whose comment it cannot read, or whose owner lives in another pid namespace
(where it cannot tell), is left alone.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

_COMMENT = re.compile(r"^kubelab kubelet pid (\d+) start (\d+) pidns (\d+)$")


@dataclass(frozen=True)
class Owner:
    """A process, as the kernel knows it for the lifetime of the box."""

    pid: int
    start: int  # clock ticks after boot (field 22 of /proc/PID/stat)
    pidns: int  # inode of /proc/PID/ns/pid

    def comment(self) -> str:
        """The table's nft comment naming this owner."""
        return f"kubelab kubelet pid {self.pid} start {self.start} pidns {self.pidns}"


def parse_owner(comment: str) -> Owner | None:
    """The owner a table comment names, None when it names none (pure)."""
    m = _COMMENT.match(comment.strip())
    return Owner(int(m[1]), int(m[2]), int(m[3])) if m else None


def process(pid: int) -> Owner | None:
    """The process ``pid`` is now, None when there is none."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        pidns = os.stat(f"/proc/{pid}/ns/pid").st_ino
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its end.
    fields = stat[stat.rindex(")") + 2 :].split()
    return Owner(pid, int(fields[19]), pidns)


def this_process() -> Owner:
    me = process(os.getpid())
    assert me is not None
    return me


def is_orphan(owner: Owner | None, me: Owner) -> bool:
    """Whether a table of ``owner`` may be removed by ``me``: its process is gone (or is
    another process under the same pid), seen from the same pid namespace."""
    if owner is None or owner.pidns != me.pidns:
        return False
    return process(owner.pid) != owner
