"""``make test``'s lanes: each lane's junit file, and which tests it names as failed (those
run once more alone)."""

from __future__ import annotations

from pathlib import Path

from tests import lanes

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="2" tests="4">
<testcase classname="tests.unit.test_lanes" name="test_ok" time="0.1"/>
<testcase classname="tests.unit.test_lanes" name="test_bad[a-b]" time="0.1">
  <failure message="assert 1 == 2">boom</failure></testcase>
<testcase classname="tests.unit.test_lanes.TestGroup" name="test_in_class" time="0.1">
  <failure message="x">x</failure></testcase>
<testcase classname="tests.unit.test_lanes" name="test_setup" time="0.1">
  <error message="fixture">e</error></testcase>
</testsuite></testsuites>
"""


def test_failed_tests_are_named_by_node_id(tmp_path: Path) -> None:
    junit = tmp_path / "lane.xml"
    junit.write_text(JUNIT)
    assert lanes.failed_tests(junit) == [
        "tests/unit/test_lanes.py::test_bad[a-b]",
        "tests/unit/test_lanes.py::TestGroup::test_in_class",
        "tests/unit/test_lanes.py::test_setup",
    ]


def test_a_missing_or_broken_junit_file_names_nothing(tmp_path: Path) -> None:
    assert lanes.failed_tests(tmp_path / "none.xml") == []
    (tmp_path / "bad.xml").write_text("<testsuites")
    assert lanes.failed_tests(tmp_path / "bad.xml") == []


def test_each_lane_writes_its_own_junit_file(tmp_path: Path) -> None:
    args = ["-x", "--junitxml=/out/run.xml"]
    path = lanes.junit_path("main", args, tmp_path)
    assert path == Path("/out/run-main.xml")
    assert lanes.lane_args("main", args, path) == ["-x", "--junitxml=/out/run-main.xml"]
    own = lanes.junit_path("others", ["-x"], tmp_path)
    assert own == tmp_path / "others.xml"
    assert lanes.lane_args("others", ["-x"], own) == ["-x", f"--junitxml={own}"]
