"""Custom resources against a real apiserver process (HTTPS, admin token, SQLite).

Lines: creates/s of a custom object whose CRD has a 20-field structural schema beside a
ConfigMap of the same size (the same 20 values under ``data``), alternated runs in one
server, 32 clients of the shared load generator (target >= 0.8 of the ConfigMap's); and
the time from a CRD's POST to the first successful create of one of its objects (every
CRD a fresh group, the object POSTed in a tight loop until 201; target <= 1 s).

    python -m tests.bench.bench_crd [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import httpx

from tests.bench.common import QUICK, LoadGen, Results, median, workdir
from tests.harness import start_apiserver

FIELDS = 20
NAMESPACE = "default"


def _values() -> dict[str, str]:
    return {f"field{i:02}": f"value-{i:02}-abcdefghijklmnop" for i in range(FIELDS)}


def crd(group: str, plural: str = "widgets", kind: str = "Widget") -> dict[str, Any]:
    """A namespaced CRD whose spec has 20 string fields (two of them with a pattern and a
    maximum length, so validation has work to do)."""
    props: dict[str, Any] = {name: {"type": "string"} for name in _values()}
    props["field00"] = {"type": "string", "pattern": "^value-", "maxLength": 64}
    props["field01"] = {"type": "string", "minLength": 1}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "required": ["field00"],
                                    "properties": props,
                                }
                            },
                        }
                    },
                }
            ],
        },
    }


def custom_object(group: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{group}/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": _values(),
    }


def configmap(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": _values(),
    }


def template(obj: dict[str, Any]) -> tuple[str, str]:
    """``obj``'s JSON split around its name, for the load generator's unique names."""
    body = json.dumps({**obj, "metadata": {**obj["metadata"], "name": "NAME_PLACEHOLDER"}})
    pre, post = body.split("NAME_PLACEHOLDER")
    return pre, post


def time_to_first_create(http: httpx.Client, group: str) -> float:
    """Seconds from the CRD's POST to the first 201 of an object of it."""
    path = f"/apis/{group}/v1/namespaces/{NAMESPACE}/widgets"
    body = custom_object(group, "first")
    t0 = time.monotonic()
    r = http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd(group))
    if r.status_code != 201:
        raise RuntimeError(f"CRD {group}: {r.status_code} {r.text[:300]}")
    while time.monotonic() - t0 < 30:
        if http.post(path, json=body).status_code == 201:
            return time.monotonic() - t0
        time.sleep(0.002)
    raise RuntimeError(f"no object of {group} created within 30 s of its CRD")


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False)) or QUICK
    res = Results("crd")
    wd = workdir("crd")
    srv = start_apiserver(wd / "home")
    http = httpx.Client(
        base_url=srv.url,
        verify=str(srv.ca_file),
        timeout=60,
        headers={"Authorization": f"Bearer {srv.token}"},
    )
    try:
        firsts = [
            time_to_first_create(http, f"g{i}.bench.kubelab.io") for i in range(3 if quick else 8)
        ]
        worst = max(firsts)
        res.add(
            "CRD creation to first custom-object create",
            round(worst, 3),
            "s (worst)",
            target="<= 1 s",
            met=worst <= 1.0,
            higher_is_better=False,
            stats={"median_s": round(median(firsts), 3), "runs": len(firsts)},
            note="each CRD a fresh group; the object POSTed every 2 ms until 201",
        )
        group = "g0.bench.kubelab.io"
        co, cm = custom_object(group, "x"), configmap("x")
        sizes = {"custom": len(json.dumps(co)), "configmap": len(json.dumps(cm))}
        res.extra["body_bytes"] = sizes
        cm_load = LoadGen(srv.url, srv.token, srv.ca_file, wd, template=template(cm))
        co_load = LoadGen(srv.url, srv.token, srv.ca_file, wd, template=template(co))
        res.note(f"load generator: {cm_load.tool} (1 thread, separate process), 32 clients")
        co_path = f"/apis/{group}/v1/namespaces/{NAMESPACE}/widgets"
        cm_path = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
        co_load.creates(NAMESPACE, "warm-co-", 32, 2.0, path=co_path)
        cm_load.creates(NAMESPACE, "warm-cm-", 32, 2.0, path=cm_path)
        runs, secs = (2, 3.0) if quick else (3, 4.0)
        co_runs: list[dict[str, Any]] = []
        cm_runs: list[dict[str, Any]] = []
        for i in range(runs):  # alternated, so drift in the box's load hits both alike
            cm_runs.append(cm_load.creates(NAMESPACE, f"cm{i}-", 32, secs, path=cm_path))
            co_runs.append(co_load.creates(NAMESPACE, f"co{i}-", 32, secs, path=co_path))
        co_rate = median([r["rate"] for r in co_runs])
        cm_rate = median([r["rate"] for r in cm_runs])
        res.extra["runs"] = {"custom": co_runs, "configmap": cm_runs}
        res.add(
            f"custom object creates/s, {FIELDS}-field schema, 32 clients",
            round(co_rate),
            "creates/s",
            target=">= 0.8 x ConfigMap",
            met=cm_rate > 0 and co_rate / cm_rate >= 0.8,
            peer=round(cm_rate),
            peer_label=f"ConfigMap creates/s, the same {FIELDS} values ({sizes['configmap']} B "
            f"beside {sizes['custom']} B), same server, alternated runs",
            stats={
                "p50_ms": median([r["p50_ms"] for r in co_runs]),
                "p99_ms": median([r["p99_ms"] for r in co_runs]),
                "errors": sum(r["errors"] for r in co_runs),
                "peer_p50_ms": median([r["p50_ms"] for r in cm_runs]),
                "peer_p99_ms": median([r["p99_ms"] for r in cm_runs]),
            },
        )
    finally:
        http.close()
        srv.stop()
    return res.as_dict()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args(argv)
    print(json.dumps(run(argparse.Namespace(quick=a.quick, out=None)), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
