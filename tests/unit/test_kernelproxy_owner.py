"""Who owns a kernel proxy table (kubelet/kernelproxy_owner.py): the comment, and which
owners count as gone."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

from kubelet.kernelproxy_owner import Owner, is_orphan, parse_owner, process, this_process


def test_the_comment_names_the_owner_and_reads_back() -> None:
    me = this_process()
    assert me.pid == os.getpid() and me.start > 0 and me.pidns > 0
    assert parse_owner(me.comment()) == me
    assert parse_owner(f"  {me.comment()} ") == me
    assert parse_owner("") is None
    assert parse_owner("written by hand") is None


def test_a_live_owner_is_no_orphan_a_dead_or_reused_pid_is() -> None:
    me = this_process()
    assert not is_orphan(me, me)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: its pid names no process now (or, rarely, a new one)
    assert process(child.pid) != Owner(child.pid, me.start, me.pidns)
    assert is_orphan(dataclasses.replace(me, pid=child.pid), me)
    # The same pid started at another time is another process: the owner is gone.
    assert is_orphan(dataclasses.replace(me, start=me.start + 1), me)


def test_owners_it_cannot_judge_are_left_alone() -> None:
    me = this_process()
    dead = dataclasses.replace(me, pid=2**22 + 1)  # above the default pid_max
    assert is_orphan(dead, me)
    assert not is_orphan(dataclasses.replace(dead, pidns=me.pidns + 1), me)  # other pid ns
    assert not is_orphan(None, me)  # no owner comment (not written by this code)
