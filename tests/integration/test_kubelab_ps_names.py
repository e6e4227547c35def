"""`ps` names each component as the README says: ``kubelab apiserver --home …``,
``kubelab scheduler --kubeconfig …`` (the process title), not ``python -m kubelab``."""

from __future__ import annotations

from pathlib import Path

from tests.harness import start_apiserver
from tests.wait import wait_for


def cmdline(pid: int) -> str:
    """/proc/PID/cmdline as ``ps`` shows it (NULs as spaces, the padding dropped)."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()


def test_components_are_named_in_ps(tmp_path: Path) -> None:
    api = start_apiserver(tmp_path / "home")
    sched = None
    try:
        assert api.component is not None and api.component.proc is not None
        line = cmdline(api.component.proc.pid)
        assert line.startswith(f"kubelab apiserver --home {api.home} --port {api.port}"), line

        sched = api.component_proc("scheduler", "--metrics-port", "0").start()
        assert sched.proc is not None
        pid = sched.proc.pid
        # The title is set once the interpreter has started and read its arguments.
        line = wait_for(
            lambda: (text := cmdline(pid)).startswith("kubelab ") and text,
            "the scheduler's process title",
            diagnostics=lambda: cmdline(pid),
        )
        assert line.startswith("kubelab scheduler --kubeconfig "), line
    finally:
        if sched is not None:
            sched.stop()
        api.stop()
