"""``-o custom-columns`` and ``--sort-by`` (kubectl/printers/custom.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubectl.errors import CliError
from kubectl.output import check_format, render_objects
from kubectl.printers import custom


def pod(name: str, node: str | None = None, cpu: str | None = None, **meta: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    if cpu:
        spec["containers"][0]["resources"] = {"requests": {"cpu": cpu}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **meta}, "spec": spec}


def test_columns_missing_values_and_several_values() -> None:
    two = pod("a", node="n1")
    two["spec"]["containers"].append({"name": "d", "image": "nginx"})
    out = render_objects(
        [two, pod("b")],
        "custom-columns=NAME:.metadata.name,NODE:{.spec.nodeName},IMAGES:spec.containers[*].image",
        single=False,
    )
    assert out == (
        "NAME   NODE     IMAGES\n"  # kubectl pads to the widest cell plus three spaces
        "a      n1       busybox,nginx\n"
        "b      <none>   busybox\n"
    )


def test_escaped_dots_in_annotation_keys() -> None:
    p = pod("gpu", annotations={"kubelab.io/gpu-uuids": "GPU-1,GPU-2"})
    out = render_objects(
        [p], r"custom-columns=GPUS:.metadata.annotations.kubelab\.io/gpu-uuids", True
    )
    assert out == "GPUS\nGPU-1,GPU-2\n"


def test_no_headers() -> None:
    out = render_objects([pod("a")], "custom-columns=N:.metadata.name", False, no_headers=True)
    assert out == "a\n"


@pytest.mark.parametrize(
    "fmt, message",
    [
        ("custom-columns", "needs its columns"),
        ("custom-columns=", "no custom columns given"),
        ("custom-columns=NAME", "expected <header>:<json-path-expr>"),
        ("custom-columns=NAME:", "expected <header>:<json-path-expr>"),
        ("custom-columns=NAME:.a[", "error parsing jsonpath"),
        ("custom-colums=NAME:.a", "unable to match a printer"),
    ],
)
def test_bad_specs_fail_before_any_call(fmt: str, message: str) -> None:
    with pytest.raises(CliError) as err:
        check_format(fmt)
    assert message in str(err.value)


def test_columns_file(tmp_path: Path) -> None:
    f = tmp_path / "cols"
    f.write_text("NAME        NODE\n.metadata.name   .spec.nodeName\n")
    cols = custom.columns_for(f"custom-columns-file={f}")
    assert cols is not None
    assert custom.render(cols, [pod("a", node="n1")]) == "NAME   NODE\na      n1\n"
    f.write_text("NAME NODE\n.metadata.name\n")
    with pytest.raises(CliError, match="2 headers but 1 JSONPaths"):
        custom.columns_for(f"custom-columns-file={f}")
    with pytest.raises(CliError, match="cannot read"):
        custom.columns_for(f"custom-columns-file={tmp_path / 'missing'}")


def names(objs: list[dict[str, Any]]) -> list[str]:
    return [o["metadata"]["name"] for o in objs]


def test_sort_by_text_numbers_quantities_and_missing() -> None:
    pods = [pod("b", node="n2"), pod("c"), pod("a", node="n1")]
    assert names(custom.sort_objects(pods, ".metadata.name")) == ["a", "b", "c"]
    # Missing values first; the sort is stable.
    assert names(custom.sort_objects(pods, "{.spec.nodeName}")) == ["c", "a", "b"]
    cpu = [pod("big", cpu="2"), pod("small", cpu="250m"), pod("mid", cpu="1500m")]
    path = ".spec.containers[0].resources.requests.cpu"
    assert names(custom.sort_objects(cpu, path)) == ["small", "mid", "big"]
    counts = [pod(n, annotations={"n": v}) for n, v in (("x", "10"), ("y", "9"), ("z", "abc"))]
    assert names(custom.sort_objects(counts, ".metadata.annotations.n")) == ["y", "x", "z"]
    workers = [pod(n) for n in ("worker-10", "worker-9", "worker-1", "worker-09")]
    # Names are text, compared byte by byte as kubectl does (checked against it in
    # tests/compat/test_agree.py).
    assert names(custom.sort_objects(workers, ".metadata.name")) == [
        "worker-09",
        "worker-1",
        "worker-10",
        "worker-9",
    ]


def test_relaxed_paths() -> None:
    assert custom.relaxed("{.metadata.name}") == ".metadata.name"
    assert custom.relaxed("metadata.name") == ".metadata.name"
    with pytest.raises(CliError, match="must not be empty"):
        custom.relaxed("{}")
