"""The chart census's pure parts: which folders are charts, Helm's error on one line, the
steps in order, and the census line."""

from __future__ import annotations

from pathlib import Path

from tests.tools.chart_census import Outcome, charts_in, helm_error, steps


def test_charts_are_folders_with_a_chart_yaml_library_charts_aside(tmp_path: Path) -> None:
    for name, kind in (("web", "application"), ("common", "library"), ("db", None)):
        (tmp_path / name).mkdir()
        body = f"apiVersion: v2\nname: {name}\nversion: 1.0.0\n"
        (tmp_path / name / "Chart.yaml").write_text(body + (f"type: {kind}\n" if kind else ""))
    (tmp_path / "notes").mkdir()
    assert [c.name for c in charts_in(tmp_path)] == ["db", "web"]


def test_helm_error_keeps_the_error_line_and_what_follows() -> None:
    out = (
        "coalesce.go:298: warning: cannot overwrite table\n"
        "Error: INSTALLATION FAILED: resource Job/ns/hook not ready.\n"
        "status: InProgress, message: Job in progress\n"
        "context deadline exceeded\n"
    )
    assert helm_error(out) == (
        "Error: INSTALLATION FAILED: resource Job/ns/hook not ready. "
        "status: InProgress, message: Job in progress context deadline exceeded"
    )
    assert helm_error("Error: " + "x" * 900, limit=50).endswith("…")
    assert helm_error("no error line\nlast words\n") == "no error line last words"


def test_steps_install_upgrade_rollback_uninstall_each_waiting() -> None:
    got = steps("web", Path("/charts/web"), "web", "3m")
    assert [name for name, _ in got] == ["install", "upgrade", "rollback", "uninstall"]
    assert got[2][1][:3] == ["rollback", "web", "1"]
    assert all(["--wait", "--timeout", "3m"] == args[-3:] for _, args in got)
    assert all(args[args.index("--namespace") + 1] == "web" for _, args in got)


def test_census_line_says_what_passed_or_where_it_stopped() -> None:
    ok = Outcome("grafana", passed=["install", "upgrade"], seconds=4.2)
    assert ok.line().split() == ["grafana", "installs:", "install,", "upgrade", "(4", "s)"]
    stopped = Outcome("minio", failed="install", error="Error: boom", privileged=True)
    assert stopped.line().endswith("stops at install (namespace labelled privileged): Error: boom")
