"""Bad input, property-based: random and mutated objects, patches of every type, selectors
and query strings against one real apiserver.

Each request must be answered without a 5xx; every 4xx must be a ``Status`` with a
message; the server must stay up; and every object it stored must still pass
``api.validation.validate`` (checked after each test over a full listing). The example
counts are bounded so the whole file runs in well under two minutes on a small box.
"""

from __future__ import annotations

import copy
import itertools
import json
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.registry import RESOURCES, ResourceInfo, by_plural
from api.validation import validate
from tests.harness import ApiServer, start_apiserver

NS = "fuzz"
_FUZZ = settings(
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure is reproducible
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # the fixtures only check the server afterwards
        HealthCheck.large_base_example,
    ],
    database=None,
)


def fuzz(examples: int) -> settings:
    """Hypothesis settings for one property, with a bounded number of examples."""
    return settings(_FUZZ, max_examples=examples)


_names = itertools.count()

# ---------------------------------------------------------------------------------------
# Valid seeds, one per kind the mutations start from.


def _seeds() -> dict[str, dict[str, Any]]:
    tmpl = {
        "metadata": {"labels": {"app": "fz"}},
        "spec": {
            "containers": [{"name": "c", "image": "nginx:1", "ports": [{"containerPort": 80}]}]
        },
    }
    return {
        "pods": {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "x", "labels": {"app": "fz"}, "annotations": {"a": "b"}},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "nginx:1",
                        "env": [{"name": "A", "value": "1"}],
                        "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}},
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    }
                ],
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 0,
            },
        },
        "deployments": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "x"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "fz"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
                "template": copy.deepcopy(tmpl),
            },
        },
        "statefulsets": {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "x"},
            "spec": {
                "replicas": 2,
                "serviceName": "x",
                "selector": {"matchLabels": {"app": "fz"}},
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
                "persistentVolumeClaimRetentionPolicy": {"whenScaled": "Delete"},
                "template": copy.deepcopy(tmpl),
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
                    }
                ],
            },
        },
        "services": {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "x"},
            "spec": {
                "selector": {"app": "fz"},
                "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
                "type": "ClusterIP",
            },
        },
        "configmaps": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "x"},
            "data": {"k": "v", "file.txt": "hello"},
        },
        "jobs": {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "x"},
            "spec": {
                "completions": 2,
                "parallelism": 1,
                "backoffLimit": 3,
                "template": {
                    "metadata": {},
                    "spec": {**copy.deepcopy(tmpl["spec"]), "restartPolicy": "Never"},
                },
            },
        },
    }


SEEDS = _seeds()

# ---------------------------------------------------------------------------------------
# Strategies.

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


def _nest(depth: int) -> Any:
    v: Any = "bottom"
    for i in range(depth):
        v = [v] if i % 2 else {"n": v}
    return v


WEIRD_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-5, max_value=5),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
    st.sampled_from(
        ["", "-", "-1", "0", "1Gi", "500m", "nginx:1", "UPPER_case", "a" * 254, "a" * 64, "🚀"]
    ),
    st.integers(min_value=1_000, max_value=300_000).map(lambda n: "é" * n),  # huge strings
)
WEIRD = st.one_of(
    WEIRD_SCALARS,
    st.integers(min_value=30, max_value=250).map(_nest),  # deep nesting
    st.recursive(
        WEIRD_SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)
        ),
        max_leaves=8,
    ),
)
NAMES = st.one_of(
    st.builds(lambda: f"fz-{next(_names)}"),
    st.builds(lambda: f"fz-{next(_names)}"),
    st.sampled_from(["", "A", "-x", "x-", "a.b", "a" * 253, "a" * 254, "a" * 64, "ü", "a/b"]),
    TEXT,
    st.integers(min_value=300, max_value=100_000).map(lambda n: "n" * n),
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every location in ``obj`` (dict keys and list indexes), parents before children."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


# One edit: (where, what, new key, new value). ``where`` picks a location by index modulo
# the number of locations, so the same drawn edits apply to whatever object the server
# returned; hypothesis needs draws that do not depend on the server's answers.
Edit = tuple[int, str, str, Any]
EDITS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2**16),
        st.sampled_from(["replace", "replace", "delete", "add"]),
        TEXT,
        WEIRD,
    ),
    min_size=1,
    max_size=4,
)


def _mutate(obj: dict[str, Any], edits: list[Edit]) -> dict[str, Any]:
    """``obj`` with the edits applied: a value replaced, a key deleted, or a key added."""
    obj = copy.deepcopy(obj)
    for where, op, key, value in edits:
        paths = [p for p in _paths(obj) if p]
        if not paths:
            break
        path = paths[where % len(paths)]
        parent: Any = obj
        for part in path[:-1]:
            parent = parent[part]
        if op == "replace":
            parent[path[-1]] = copy.deepcopy(value)
        elif op == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[key] = copy.deepcopy(value)
        else:
            parent.append(copy.deepcopy(value))
    return obj


LABEL_SELECTORS = st.one_of(
    TEXT,
    st.sampled_from(
        [
            "app=fz",
            "app!=fz",
            "app in (a,b)",
            "app notin (a)",
            "!app",
            "app",
            "app==",
            "in (",
            "a=b,,c",
            "x in ()",
            "a=" + "b" * 70,
            "a>1",
            "app=fz,tier in (x,y),!gone",
            "=,!,()",
        ]
    ),
    st.lists(
        st.sampled_from(["app", "app=fz", "!x", "k in (v)", "k notin (v)", "k!=v", ",", " "]),
        max_size=5,
    ).map("".join),
)
FIELD_SELECTORS = st.one_of(
    TEXT,
    st.sampled_from(
        [
            "metadata.name=x",
            "metadata.namespace!=default",
            "spec.nodeName=",
            "spec.nodeName=node-1",
            "status.phase=Running",
            "no.such.field=1",
            "metadata.name",
            "a==b==c",
            "spec.nodeName=a,metadata.name!=b",
            "involvedObject.name=x",
        ]
    ),
)
QUERY_KEYS = [
    "labelSelector",
    "fieldSelector",
    "limit",
    "continue",
    "resourceVersion",
    "resourceVersionMatch",
    "timeoutSeconds",
    "fieldValidation",
    "fieldManager",
    "dryRun",
    "propagationPolicy",
    "gracePeriodSeconds",
    "orphanDependents",
    "allowWatchBookmarks",
    "sendInitialEvents",
    "container",
    "tailLines",
    "follow",
    "previous",
    "timestamps",
    "sinceSeconds",
    "limitBytes",
    "pretty",
    "force",
    "includeObject",
    "command",
    "zzz-unknown",
]
QUERY_VALUES = st.one_of(
    TEXT,
    st.integers(min_value=-(2**40), max_value=2**40).map(str),
    st.sampled_from(
        [
            "true",
            "false",
            "1",
            "0",
            "-1",
            "All",
            "Strict",
            "Ignore",
            "Warn",
            "Orphan",
            "NotOlderThan",
            "Exact",
            "99999999999999999999",
            "abc==",
        ]
    ),
)
QUERIES = st.lists(st.tuples(st.sampled_from(QUERY_KEYS), QUERY_VALUES), max_size=5)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/yaml",
        "text/plain",
        "application/octet-stream",
        "application/xml",
        "",
        "application/vnd.kubernetes.protobuf",
    ]
)
PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}


# ---------------------------------------------------------------------------------------
# The server and its checks.


@pytest.fixture(scope="module")
def fz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServer, httpx.Client]]:
    """One apiserver for the module, a namespace to play in and one object of each seed."""
    srv = start_apiserver(tmp_path_factory.mktemp("fuzz") / "home")
    h = httpx.Client(
        base_url=srv.url,
        verify=ssl.create_default_context(cafile=str(srv.ca_file)),
        headers={"Authorization": f"Bearer {srv.token}"},
        timeout=20,
    )
    try:
        r = h.post(
            "/api/v1/namespaces",
            json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        )
        assert r.status_code == 201, r.text
        for plural in SEEDS:
            _ensure_target(h, plural)
        yield srv, h
        _check_alive(h)
        _check_everything_stored_is_valid(h)
    finally:
        h.close()
        srv.stop()
        log = srv.component.log() if srv.component else ""
        assert "Traceback" not in log, f"the apiserver logged a traceback:\n{log[-6000:]}"


def _info(plural: str) -> ResourceInfo:
    info = next(r for r in RESOURCES if r.plural == plural)
    return info


def _base(info: ResourceInfo, ns: str | None = NS) -> str:
    return info.collection_path(ns if info.namespaced else None)


def _ensure_target(h: httpx.Client, plural: str) -> str:
    """The path of a valid object ``target`` of this kind, created again if a test deleted it."""
    info = _info(plural)
    path = f"{_base(info)}/target"
    if h.get(path).status_code == 200:
        return path
    body = copy.deepcopy(SEEDS[plural])
    body["metadata"]["name"] = "target"
    r = h.post(_base(info), json=body)
    assert r.status_code in (201, 409), r.text
    return path


def _check_answer(r: httpx.Response, what: str, allow_503: bool = False) -> None:
    """No 5xx; a 4xx is a Status with a message."""
    code = r.status_code
    if allow_503 and code == 503:
        # The log/exec proxy cannot reach a node that is not registered: the kubelet is
        # unavailable, which is what 503 ServiceUnavailable says. Still a Status.
        assert r.json()["reason"] == "ServiceUnavailable", (what, r.text[:500])
        return
    assert code < 500, f"{what}: {code} {r.text[:1000]}"
    if code >= 400:
        try:
            body = r.json()
        except ValueError:
            raise AssertionError(
                f"{what}: {code} with a body that is not JSON: {r.text[:300]!r}"
            ) from None
        assert body.get("kind") == "Status", (what, code, r.text[:500])
        assert body.get("status") == "Failure" and body.get("code") == code, (what, r.text[:500])
        assert isinstance(body.get("message"), str) and body["message"], (what, r.text[:500])


def _check_stored(kind: str, obj: Any, what: str) -> None:
    """An object the server answered with after a write passes validation."""
    if not isinstance(obj, dict) or obj.get("kind") in (None, "Status") or "metadata" not in obj:
        return
    if obj.get("kind") in ("Scale", "Binding", "Eviction"):
        return
    causes = validate(kind, obj)
    assert not causes, f"{what}: the server stored an invalid {kind}: {causes}\n{str(obj)[:800]}"


def _check_alive(h: httpx.Client) -> None:
    r = h.get("/readyz")
    assert r.status_code == 200, "the apiserver stopped answering"


def _check_everything_stored_is_valid(h: httpx.Client) -> None:
    for info in RESOURCES:
        if "list" not in info.verbs:
            continue  # the review kinds are answered at once and never stored
        r = h.get(info.collection_path(None))
        assert r.status_code == 200, (info.plural, r.text[:300])
        for obj in r.json()["items"]:
            obj.setdefault("apiVersion", info.api_version)
            obj.setdefault("kind", info.kind)
            causes = validate(info.kind, obj)
            assert not causes, f"stored {info.kind} fails validation: {causes}\n{str(obj)[:800]}"


@pytest.fixture(autouse=True)
def _alive_after_each(fz: tuple[ApiServer, httpx.Client]) -> Iterator[None]:
    yield
    _check_alive(fz[1])
    _check_everything_stored_is_valid(fz[1])


def _encode(body: Any, content_type: str) -> bytes:
    if "yaml" in content_type:
        return yaml.safe_dump(body).encode()
    try:
        return orjson.dumps(body)
    except TypeError:  # integers past 64 bits: the standard library writes them
        return json.dumps(body).encode()


# ---------------------------------------------------------------------------------------
# The properties.


@fuzz(400)
@given(
    plural=st.sampled_from(sorted(SEEDS)),
    name=NAMES,
    edits=EDITS,
    put_edits=EDITS,
    ct=st.sampled_from(["application/json", "application/json", "application/yaml"]),
)
def test_mutated_objects_are_refused_or_stored_valid(
    fz: tuple[ApiServer, httpx.Client],
    plural: str,
    name: str,
    edits: list[Edit],
    put_edits: list[Edit],
    ct: str,
) -> None:
    _, h = fz
    info = _info(plural)
    body = copy.deepcopy(SEEDS[plural])
    body["metadata"]["name"] = name
    body = _mutate(body, edits)
    r = h.post(_base(info), content=_encode(body, ct), headers={"Content-Type": ct})
    _check_answer(r, f"POST {plural}")
    if r.status_code == 201:
        _check_stored(info.kind, r.json(), f"POST {plural}")
        # More edits through PUT of the object that now exists.
        stored = r.json()
        r2 = h.put(f"{_base(info)}/{stored['metadata']['name']}", json=_mutate(stored, put_edits))
        _check_answer(r2, f"PUT {plural}")
        if r2.status_code == 200:
            _check_stored(info.kind, r2.json(), f"PUT {plural}")


@fuzz(60)
@given(raw=st.one_of(st.binary(max_size=300), TEXT.map(str.encode)), ct=CONTENT_TYPES)
def test_garbage_bodies_are_400s(fz: tuple[ApiServer, httpx.Client], raw: bytes, ct: str) -> None:
    _, h = fz
    for path in ("/api/v1/namespaces/fuzz/configmaps", "/api/v1/namespaces/fuzz/pods"):
        r = h.post(path, content=raw, headers={"Content-Type": ct})
        _check_answer(r, f"POST garbage {raw[:40]!r} as {ct}")
        if r.status_code == 201:
            _check_stored(r.json()["kind"], r.json(), "POST garbage")


JSON_PATCH_OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]),
        st.one_of(st.integers(min_value=0, max_value=2**16), TEXT, st.just("/spec/containers/-")),
        st.one_of(st.none(), WEIRD),
        st.one_of(st.none(), st.integers(min_value=0, max_value=2**16), TEXT),
    ),
    max_size=4,
)


def _pointer(target: Any, where: int | str) -> str:
    """A JSON pointer: to a location of ``target`` picked by index, or the drawn text."""
    if isinstance(where, str):
        return where
    paths = list(_paths(target))
    path = paths[where % len(paths)]
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _json_patch(target: Any, ops: list[tuple[str, Any, Any, Any]]) -> list[dict[str, Any]]:
    out = []
    for op, path, value, frm in ops:
        d: dict[str, Any] = {"op": op, "path": _pointer(target, path)}
        if value is not None:
            d["value"] = value
        if frm is not None:
            d["from"] = _pointer(target, frm)
        out.append(d)
    return out


@fuzz(400)
@given(
    plural=st.sampled_from(sorted(SEEDS)),
    ptype=st.sampled_from(sorted(PATCH_TYPES)),
    sub=st.sampled_from(["", "", "status", "scale"]),
    shape=st.sampled_from(["edits", "edits", "anything"]),
    edits=EDITS,
    ops=JSON_PATCH_OPS,
    anything=WEIRD,
    query=QUERIES,
    manager=st.booleans(),
)
def test_random_patches(
    fz: tuple[ApiServer, httpx.Client],
    plural: str,
    ptype: str,
    sub: str,
    shape: str,
    edits: list[Edit],
    ops: list[tuple[str, Any, Any, Any]],
    anything: Any,
    query: list[tuple[str, str]],
    manager: bool,
) -> None:
    _, h = fz
    info = _info(plural)
    path = _ensure_target(h, plural)
    if sub and sub not in info.subresources:
        sub = ""
    if sub:
        path += f"/{sub}"
    current = h.get(path).json()
    patch: Any
    if shape == "anything":
        patch = anything
    elif ptype == "json":
        patch = _json_patch(current, ops)
    elif ptype == "apply":
        base = copy.deepcopy(current)
        base["metadata"] = {"name": "target"}
        patch = _mutate(base, edits)
    else:  # a fragment of the object, mutated
        keep = ("metadata", "spec", "status", "data")
        patch = _mutate({k: v for k, v in current.items() if k in keep}, edits)
    params: dict[str, str] = dict(query)
    if ptype == "apply" and manager:
        params["fieldManager"] = "fuzz"
    ct = PATCH_TYPES[ptype]
    r = h.patch(path, params=params, content=_encode(patch, ct), headers={"Content-Type": ct})
    _check_answer(r, f"PATCH {ptype} {path} {str(patch)[:200]}")
    if r.status_code == 200 and sub != "scale":
        _check_stored(info.kind, r.json(), f"PATCH {ptype} {plural}")


ENDPOINT_KINDS = [
    "collection",
    "all-namespaces",
    "object",
    "status",
    "scale",
    "binding",
    "eviction",
    "log",
    "delete",
    "delete-collection",
]


@fuzz(400)
@given(
    data=st.data(),
    info=st.sampled_from(RESOURCES),
    kind=st.sampled_from(ENDPOINT_KINDS),
    query=QUERIES,
    ls=st.one_of(st.none(), LABEL_SELECTORS),
    fs=st.one_of(st.none(), FIELD_SELECTORS),
)
def test_selectors_and_query_strings_on_every_endpoint(
    fz: tuple[ApiServer, httpx.Client],
    data: st.DataObject,
    info: ResourceInfo,
    kind: str,
    query: list[tuple[str, str]],
    ls: str | None,
    fs: str | None,
) -> None:
    _, h = fz
    params = [(k, v) for k, v in query if k not in ("watch", "follow")]
    if ls is not None:
        params.append(("labelSelector", ls))
    if fs is not None:
        params.append(("fieldSelector", fs))
    ns = NS if info.namespaced else None
    coll = info.collection_path(ns)
    name = data.draw(st.sampled_from(["target", "missing", "fz-0"]), label="name")
    if info.plural in SEEDS and name == "target":
        _ensure_target(h, info.plural)
    obj = f"{coll}/{name}"
    if kind == "collection":
        r = h.get(coll, params=params)
    elif kind == "all-namespaces":
        r = h.get(info.collection_path(None), params=params)
    elif kind == "object":
        r = h.get(obj, params=params)
    elif kind in ("status", "scale"):
        method = data.draw(st.sampled_from(["GET", "PUT", "PATCH"]))
        body = data.draw(st.one_of(WEIRD, st.just({"spec": {"replicas": 1}})), label="body")
        ct = "application/merge-patch+json" if method == "PATCH" else "application/json"
        r = h.request(
            method,
            f"{obj}/{kind}",
            params=params,
            content=_encode(body, ct),
            headers={"Content-Type": ct},
        )
    elif kind in ("binding", "eviction"):
        body = {
            "binding": {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": name, "annotations": {"kubelab.io/gpu-uuids": "GPU-fz"}},
                "target": {"kind": "Node", "name": "fz-node"},
            },
            "eviction": {
                "apiVersion": "policy/v1",
                "kind": "Eviction",
                "metadata": {"name": name},
                "deleteOptions": {"gracePeriodSeconds": 0},
            },
        }[kind]
        body = _mutate(body, data.draw(EDITS)) if data.draw(st.booleans()) else body
        r = h.post(f"{obj}/{kind}", params=params, json=body)
    elif kind == "log":
        r = h.get(f"{obj}/log", params=params)
        _check_answer(r, f"GET {obj}/log {params}", allow_503=True)
        return
    elif kind == "delete":
        body = data.draw(st.one_of(st.none(), WEIRD), label="delete-options")
        r = h.request(
            "DELETE", obj, params=params, content=b"" if body is None else _encode(body, "")
        )
    else:
        # Delete-collection only where the fuzz namespace keeps things a test may lose.
        r = (
            h.request("DELETE", coll, params=params)
            if info.namespaced
            else h.get(coll, params=params)
        )
    _check_answer(r, f"{kind} {info.plural} {params}")
    if r.status_code in (200, 201) and kind != "log":
        body = r.json()
        if isinstance(body, dict) and body.get("kind") == info.kind:
            _check_stored(info.kind, body, f"{kind} {info.plural}")


@fuzz(12)
@given(
    plural=st.sampled_from(["pods", "deployments", "configmaps", "events", "nodes"]),
    query=QUERIES,
    ls=st.one_of(st.none(), LABEL_SELECTORS),
    fs=st.one_of(st.none(), FIELD_SELECTORS),
    on_object=st.booleans(),
)
def test_watch_with_random_selectors(
    fz: tuple[ApiServer, httpx.Client],
    plural: str,
    query: list[tuple[str, str]],
    ls: str | None,
    fs: str | None,
    on_object: bool,
) -> None:
    _, h = fz
    info = _info(plural)
    params = [(k, v) for k, v in query if k != "timeoutSeconds"]
    params += [("watch", "true"), ("timeoutSeconds", "1")]
    if ls is not None:
        params.append(("labelSelector", ls))
    if fs is not None:
        params.append(("fieldSelector", fs))
    path = _base(info)
    if on_object:
        path += "/target"
    with h.stream("GET", path, params=params, timeout=15) as r:
        if r.status_code != 200:
            r.read()
            _check_answer(r, f"watch {plural} {params}")
            return
        for line in r.iter_lines():
            if line.strip():
                ev = orjson.loads(line)
                assert ev["type"] in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"), ev
                if ev["type"] == "ERROR":
                    assert ev["object"]["kind"] == "Status" and ev["object"]["message"], ev


# ---------------------------------------------------------------------------------------
# Refused early: oversized bodies, deep nesting, very long names.


def _big_cm(size: int) -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "big"},
            "data": {"k": "x" * size},
        }
    )


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_over_3_mib_is_413(fz: tuple[ApiServer, httpx.Client], method: str) -> None:
    _, h = fz
    path = "/api/v1/namespaces/fuzz/configmaps" + ("" if method == "POST" else "/target")
    _ensure_target(h, "configmaps")
    ct = "application/merge-patch+json" if method == "PATCH" else "application/json"
    body = _big_cm(3 * 1024 * 1024 + 10)
    r = h.request(method, path, content=body, headers={"Content-Type": ct})
    assert r.status_code == 413, r.text[:300]
    _check_answer(r, "oversized")
    assert r.json()["reason"] == "RequestEntityTooLarge"

    # Without a Content-Length (chunked), the limit still holds while reading.
    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]

    r = h.request(method, path, content=chunks(), headers={"Content-Type": ct})
    assert r.status_code == 413, r.text[:300]
    # Just under the limit is fine for the size check (the object may still be refused).
    r = h.post("/api/v1/namespaces/fuzz/configmaps", content=_big_cm(900 * 1024))
    assert r.status_code in (201, 409), r.text[:300]


@pytest.mark.parametrize("ct", ["application/json", "application/yaml"])
@pytest.mark.parametrize("depth", [150, 5_000, 200_000])
def test_deep_nesting_is_400(fz: tuple[ApiServer, httpx.Client], ct: str, depth: int) -> None:
    _, h = fz
    if ct == "application/json":
        inner = b'{"a":' * depth + b"1" + b"}" * depth
    else:
        inner = b"[" * depth + b"1" + b"]" * depth
    body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"x":' + inner + b"}"
    if ct == "application/yaml":
        body = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\nx: " + inner + b"\n"
    r = h.post("/api/v1/namespaces/fuzz/configmaps", content=body, headers={"Content-Type": ct})
    assert r.status_code == 400, r.text[:300]
    _check_answer(r, f"nesting {depth} {ct}")
    assert h.get("/api/v1/namespaces/fuzz/configmaps/deep").status_code == 404


@pytest.mark.parametrize("length", [254, 10_000, 1_000_000])
def test_very_long_names_are_refused(fz: tuple[ApiServer, httpx.Client], length: int) -> None:
    _, h = fz
    body = copy.deepcopy(SEEDS["configmaps"])
    body["metadata"]["name"] = "n" * length
    r = h.post("/api/v1/namespaces/fuzz/configmaps", json=body)
    assert 400 <= r.status_code < 500, r.text[:300]
    _check_answer(r, f"name of {length}")
    # The same name in the URL of a GET and a DELETE.
    for method in ("GET", "DELETE"):
        r = h.request(method, "/api/v1/namespaces/fuzz/configmaps/" + "n" * min(length, 60_000))
        assert 400 <= r.status_code < 500, r.text[:300]
        _check_answer(r, f"{method} name of {length}")
    # A namespace that long, too.
    r = h.post(
        f"/api/v1/namespaces/{'s' * min(length, 60_000)}/configmaps", json=SEEDS["configmaps"]
    )
    assert 400 <= r.status_code < 500, r.text[:300]
    _check_answer(r, "namespace")


def test_unknown_kinds_and_versions(fz: tuple[ApiServer, httpx.Client]) -> None:
    _, h = fz
    for path in (
        "/api/v2/pods",
        "/apis/apps/v9/namespaces/fuzz/deployments",
        "/apis/nope/v1/things",
        "/api/v1/namespaces/fuzz/pods/target/nosuchsub",
        "/api/v1/namespaces/fuzz/pods/target/status/extra",
        "/api/v1/namespaces//pods",
        "/api/v1/namespaces/fuzz/configmaps/target/status",
    ):
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            r = h.request(method, path, content=b"{}", headers={"Content-Type": "application/json"})
            _check_answer(r, f"{method} {path}")
    assert by_plural("", "pods") is not None
