"""The REST API against a real apiserver process over HTTPS, on SQLite and PostgreSQL."""

from __future__ import annotations

import ssl
import threading
from typing import Any

import httpx
import pytest

from api.errors import ApiError
from tests.harness import ApiServer


def pod(name: str, labels: dict[str, str] | None = None, image: str = "busybox") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": "web"}},
        "spec": {
            "containers": [{"name": "main", "image": image, "ports": [{"containerPort": 80}]}]
        },
    }


def deployment(name: str, replicas: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }


def test_pod_crud_list_patch_delete(apiserver_any_db: ApiServer) -> None:
    c = apiserver_any_db.client()
    created = c.create("pods", pod("web-1"), "default")
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert isinstance(meta["resourceVersion"], str) and meta["generation"] == 1
    assert created["spec"]["restartPolicy"] == "Always"
    assert created["spec"]["terminationGracePeriodSeconds"] == 30
    assert created["status"]["phase"] == "Pending"
    c.create("pods", pod("db-1", {"app": "db"}), "default")

    got = c.get("pods", "web-1", "default")
    assert got["metadata"]["uid"] == meta["uid"]
    names = [
        p["metadata"]["name"] for p in c.list("pods", "default", label_selector="app=web")["items"]
    ]
    assert names == ["web-1"]
    names = [
        p["metadata"]["name"]
        for p in c.list("pods", "default", label_selector="app in (web,db)")["items"]
    ]
    assert sorted(names) == ["db-1", "web-1"]
    names = [
        p["metadata"]["name"] for p in c.list("pods", field_selector="metadata.name=db-1")["items"]
    ]
    assert names == ["db-1"]

    patched = c.patch("pods", "web-1", {"metadata": {"labels": {"tier": "front"}}}, "default")
    assert patched["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert int(patched["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    # Strategic merge keeps the container's ports that a merge patch would wipe.
    smp = {"spec": {"containers": [{"name": "main", "image": "busybox:2"}]}}
    patched = c.patch("pods", "web-1", smp, "default", patch_type="strategic")
    assert patched["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert patched["spec"]["containers"][0]["image"] == "busybox:2"
    assert patched["metadata"]["generation"] == 2
    jp = [{"op": "add", "path": "/metadata/annotations", "value": {"a": "b"}}]
    patched = c.patch("pods", "web-1", jp, "default", patch_type="json")
    assert patched["metadata"]["annotations"] == {"a": "b"}

    # An unbound pod goes at once.
    c.delete("pods", "web-1", "default")
    with pytest.raises(ApiError) as err:
        c.get("pods", "web-1", "default")
    assert err.value.code == 404 and err.value.reason == "NotFound"


def test_deployment_scale_and_generation(apiserver_any_db: ApiServer) -> None:
    c = apiserver_any_db.client()
    d = c.create("deployments", deployment("web"), "default")
    assert d["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}
    assert d["spec"]["revisionHistoryLimit"] == 10 and d["spec"]["progressDeadlineSeconds"] == 600
    scale = c.get("deployments", "web", "default", subresource="scale")
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 2
    assert scale["status"]["selector"] == "app=web"
    scale = c.patch("deployments", "web", {"spec": {"replicas": 5}}, "default", subresource="scale")
    assert scale["spec"]["replicas"] == 5
    d2 = c.get("deployments", "web", "default")
    assert d2["spec"]["replicas"] == 5 and d2["metadata"]["generation"] == 2
    # Writes to the main resource ignore status; writes to /status ignore the rest.
    d2["status"] = {"replicas": 99}
    d3 = c.replace("deployments", "web", d2, "default")
    assert "replicas" not in (d3.get("status") or {})
    d3["status"] = {"replicas": 3}
    d3["spec"]["replicas"] = 7
    d4 = c.replace("deployments", "web", d3, "default", subresource="status")
    assert d4["status"]["replicas"] == 3 and d4["spec"]["replicas"] == 5
    assert d4["metadata"]["generation"] == 2


def test_watch_sees_create_update_delete_in_order(apiserver_any_db: ApiServer) -> None:
    c = apiserver_any_db.client()
    start = c.list("pods", "default")["metadata"]["resourceVersion"]
    c.create("pods", pod("w1"), "default")
    c.patch("pods", "w1", {"metadata": {"labels": {"x": "1"}}}, "default")
    c.delete("pods", "w1", "default")
    seen = []
    for ev in c.watch("pods", "default", resource_version=start, timeout_seconds=2):
        if ev["type"] != "BOOKMARK":
            seen.append((ev["type"], ev["object"]["metadata"]["name"]))
        if len(seen) == 3:
            break
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


def test_stale_resource_version_exactly_one_wins(apiserver_any_db: ApiServer) -> None:
    c = apiserver_any_db.client()
    obj = c.create(
        "configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}},
        "default",
    )
    rv_before = c.list("configmaps", "default")["metadata"]["resourceVersion"]
    results: list[Any] = []
    barrier = threading.Barrier(2)

    def writer(value: str) -> None:
        body = {**obj, "data": {"a": value}}
        cl = apiserver_any_db.client()
        barrier.wait()
        try:
            results.append(cl.replace("configmaps", "cfg", body, "default"))
        except ApiError as exc:
            results.append(exc)

    threads = [threading.Thread(target=writer, args=(v,)) for v in ("x", "y")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [r for r in results if isinstance(r, dict)]
    errs = [r for r in results if isinstance(r, ApiError)]
    assert len(ok) == 1 and len(errs) == 1
    assert errs[0].code == 409 and errs[0].reason == "Conflict"
    assert "modified" in errs[0].message
    rv_after = c.list("configmaps", "default")["metadata"]["resourceVersion"]
    assert int(rv_after) == int(rv_before) + 1


def test_many_writers_two_watches_identical_gap_free(apiserver: ApiServer) -> None:
    c = apiserver.client()
    start = int(c.list("configmaps", "default")["metadata"]["resourceVersion"])
    n_writers, per_writer = 4, 250

    def write(w: int) -> None:
        cl = apiserver.client()
        for i in range(per_writer):
            cl.create(
                "configmaps", {"metadata": {"name": f"w{w}-{i}"}, "data": {"i": str(i)}}, "default"
            )

    threads = [threading.Thread(target=write, args=(w,)) for w in range(n_writers)]
    for t in threads:
        t.start()
    streams: list[list[int]] = []
    for _ in range(2):
        revs: list[int] = []
        for ev in apiserver.client().watch(
            "configmaps", "default", resource_version=str(start), timeout_seconds=30
        ):
            if ev["type"] == "BOOKMARK":
                continue
            revs.append(int(ev["object"]["metadata"]["resourceVersion"]))
            if len(revs) == n_writers * per_writer:
                break
        streams.append(revs)
    for t in threads:
        t.join()
    assert streams[0] == streams[1]
    assert len(streams[0]) == 1000
    assert streams[0] == sorted(streams[0])
    # Gap-free: nothing else was written, so the revisions are consecutive.
    assert streams[0] == list(range(streams[0][0], streams[0][0] + 1000))


def test_kill_9_loses_no_acknowledged_write(apiserver_any_db: ApiServer) -> None:
    srv = apiserver_any_db
    c = srv.client()
    start = c.list("configmaps", "default")["metadata"]["resourceVersion"]
    acked = []
    for i in range(200):
        o = c.create(
            "configmaps", {"metadata": {"name": f"cm-{i}"}, "data": {"i": str(i)}}, "default"
        )
        acked.append(o["metadata"]["resourceVersion"])
    srv.kill()
    srv.start()
    c = srv.client()
    names = {o["metadata"]["name"] for o in c.list("configmaps", "default")["items"]}
    assert {f"cm-{i}" for i in range(200)} <= names
    revs = []
    for ev in c.watch("configmaps", "default", resource_version=start, timeout_seconds=3):
        if ev["type"] == "BOOKMARK":
            continue
        revs.append(ev["object"]["metadata"]["resourceVersion"])
        if len(revs) == 200:
            break
    assert revs == acked
    # Writes continue after the restart with higher revisions.
    o = c.create("configmaps", {"metadata": {"name": "after"}}, "default")
    assert int(o["metadata"]["resourceVersion"]) > int(acked[-1])


def test_watch_from_compacted_revision_is_410(tmp_path: Any) -> None:
    from tests.harness import start_apiserver

    srv = start_apiserver(tmp_path / "h", extra_args=["--keep-revisions", "50"])
    try:
        c = srv.client()
        first = int(
            c.create("configmaps", {"metadata": {"name": "c0"}}, "default")["metadata"][
                "resourceVersion"
            ]
        )
        for i in range(1, 700):
            c.create("configmaps", {"metadata": {"name": f"c{i}"}}, "default")
        with pytest.raises(ApiError) as err:
            for _ in c.watch(
                "configmaps", "default", resource_version=str(first), timeout_seconds=2
            ):
                pass
        assert err.value.code == 410
    finally:
        srv.stop()


def _raw(srv: ApiServer) -> httpx.Client:
    return httpx.Client(
        base_url=srv.url,
        verify=ssl.create_default_context(cafile=str(srv.ca_file)),
        headers={"Authorization": f"Bearer {srv.token}"},
    )


def test_bad_input_gets_status_and_changes_nothing(apiserver: ApiServer) -> None:
    c = apiserver.client()
    c.create("pods", pod("keep"), "default")
    before_rv = c.list("pods", "default")["metadata"]["resourceVersion"]
    before_n = len(c.list("pods")["items"])
    h = _raw(apiserver)
    base = "/api/v1/namespaces/default/pods"
    cases: list[tuple[str, str, Any, dict[str, str], int]] = [
        ("POST", base, b"{not json", {"Content-Type": "application/json"}, 400),
        ("POST", base, b"a: [b\n  c: :", {"Content-Type": "application/yaml"}, 400),
        (
            "POST",
            "/api/v1/namespaces/default/widgets",
            b"{}",
            {"Content-Type": "application/json"},
            404,
        ),
        (
            "POST",
            base,
            b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"Bad_Name"},"spec":{"containers":[{"name":"a","image":"x"}]}}',
            {"Content-Type": "application/json"},
            422,
        ),
        (
            "POST",
            base,
            b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"nocont"},"spec":{}}',
            {"Content-Type": "application/json"},
            422,
        ),
        (
            "POST",
            base,
            b"{" + b'"x":"' + b"a" * (4 * 1024 * 1024) + b'"}',
            {"Content-Type": "application/json"},
            413,
        ),
        (
            "POST",
            "/api/v1/namespaces/nope/pods",
            b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a","image":"x"}]}}',
            {"Content-Type": "application/json"},
            404,
        ),
    ]
    keep = c.get("pods", "keep", "default")
    stale = {**keep, "metadata": {**keep["metadata"], "resourceVersion": "1"}}
    import orjson

    cases.append(
        ("PUT", f"{base}/keep", orjson.dumps(stale), {"Content-Type": "application/json"}, 409)
    )
    for method, path, body, headers, code in cases:
        r = h.request(method, path, content=body, headers=headers)
        assert r.status_code == code, (method, path, r.status_code, r.text[:300])
        status = r.json()
        assert (
            status["kind"] == "Status" and status["status"] == "Failure" and status["code"] == code
        )
        assert status["message"]
    invalid = h.post(base, content=cases[3][2], headers={"Content-Type": "application/json"}).json()
    assert any(cause["field"] == "metadata.name" for cause in invalid["details"]["causes"])
    assert c.list("pods", "default")["metadata"]["resourceVersion"] == before_rv
    assert len(c.list("pods")["items"]) == before_n


def test_unauthenticated_is_401(apiserver: ApiServer) -> None:
    r = httpx.get(
        f"{apiserver.url}/api/v1/pods",
        verify=ssl.create_default_context(cafile=str(apiserver.ca_file)),
    )
    assert r.status_code == 401 and r.json()["reason"] == "Unauthorized"
    r = httpx.get(
        f"{apiserver.url}/api/v1/pods",
        verify=ssl.create_default_context(cafile=str(apiserver.ca_file)),
        headers={"Authorization": "Bearer wrong"},
    )
    assert r.status_code == 401
    assert (
        httpx.get(
            f"{apiserver.url}/healthz",
            verify=ssl.create_default_context(cafile=str(apiserver.ca_file)),
        ).text
        == "ok"
    )


def test_field_validation_strict_names_the_field(apiserver: ApiServer) -> None:
    h = _raw(apiserver)
    body = pod("strict")
    body["spec"]["containers"][0]["imagee"] = "typo"
    r = h.post("/api/v1/namespaces/default/pods?fieldValidation=Strict", json=body)
    # As Kubernetes answers: 400, in its decoder's words (kubectl prints them as they are).
    assert r.status_code == 400, r.text
    assert r.json()["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "spec.containers[0].imagee"'
    )
    assert r.json()["details"]["causes"][0]["field"] == "spec.containers[0].imagee"
    r = h.post("/api/v1/namespaces/default/pods?fieldValidation=Warn", json=body)
    assert r.status_code == 201
    assert "imagee" in r.headers.get("warning", "")
    assert "imagee" not in r.json()["spec"]["containers"][0]


def test_finalizers_hold_an_object_until_empty(apiserver: ApiServer) -> None:
    c = apiserver.client()
    cm = {"metadata": {"name": "held", "finalizers": ["example.com/wait"]}}
    c.create("configmaps", cm, "default")
    c.delete("configmaps", "held", "default")
    got = c.get("configmaps", "held", "default")
    assert got["metadata"]["deletionTimestamp"]
    c.patch("configmaps", "held", {"metadata": {"finalizers": None}}, "default")
    with pytest.raises(ApiError):
        c.get("configmaps", "held", "default")


def test_bound_pod_delete_is_graceful_and_binding_guards_gpus(apiserver: ApiServer) -> None:
    c = apiserver.client()
    for name in ("g1", "g2"):
        c.create("pods", pod(name), "default")
    ann = {"kubelab.io/gpu-uuids": "GPU-aaa"}
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "g1", "annotations": ann},
        "target": {"kind": "Node", "name": "n1"},
    }
    c.create("pods", binding, "default", subresource="binding", name="g1")
    g1 = c.get("pods", "g1", "default")
    assert g1["spec"]["nodeName"] == "n1"
    assert g1["metadata"]["annotations"]["kubelab.io/gpu-uuids"] == "GPU-aaa"
    with pytest.raises(ApiError) as err:  # already bound
        c.create("pods", binding, "default", subresource="binding", name="g1")
    assert err.value.code == 409
    b2 = {**binding, "metadata": {"name": "g2", "annotations": ann}}
    with pytest.raises(ApiError) as err:  # GPU held by g1
        c.create("pods", b2, "default", subresource="binding", name="g2")
    assert err.value.code == 409 and "GPU-aaa" in err.value.message
    c.delete("pods", "g1", "default")
    assert c.get("pods", "g1", "default")["metadata"]["deletionTimestamp"]
    c.delete("pods", "g1", "default", grace_period_seconds=0)
    with pytest.raises(ApiError):
        c.get("pods", "g1", "default")
    c.create("pods", b2, "default", subresource="binding", name="g2")


def test_final_delete_of_a_pod_held_by_a_finalizer_is_recorded(apiserver: ApiServer) -> None:
    """The kubelet's DELETE (grace 0) may come before the garbage collector removes the
    foregroundDeletion finalizer: it must shorten the grace period, so that removing the
    last finalizer removes the pod (it used to stay Terminating for ever)."""
    c = apiserver.client()
    c.create("pods", pod("held"), "default")
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "held"},
        "target": {"kind": "Node", "name": "n1"},
    }
    c.create("pods", binding, "default", subresource="binding", name="held")
    c.delete("pods", "held", "default", propagation_policy="Foreground")
    meta = c.get("pods", "held", "default")["metadata"]
    assert meta["finalizers"] == ["foregroundDeletion"]
    assert meta["deletionGracePeriodSeconds"] == 30
    c.delete("pods", "held", "default", grace_period_seconds=0)
    meta = c.get("pods", "held", "default")["metadata"]
    assert meta["deletionGracePeriodSeconds"] == 0 and meta["finalizers"] == ["foregroundDeletion"]
    c.patch("pods", "held", {"metadata": {"finalizers": None}}, "default")
    with pytest.raises(ApiError) as err:
        c.get("pods", "held", "default")
    assert err.value.code == 404


def test_list_paging_with_continue(apiserver: ApiServer) -> None:
    c = apiserver.client()
    for i in range(25):
        c.create("configmaps", {"metadata": {"name": f"p{i:02d}"}}, "default")
    seen: list[str] = []
    token = None
    while True:
        page = c.list("configmaps", "default", limit=10, continue_token=token)
        seen += [o["metadata"]["name"] for o in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert seen == [f"p{i:02d}" for i in range(25)]
