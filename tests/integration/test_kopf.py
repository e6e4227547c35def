"""kopf, unchanged, runs an operator against a kubelab apiserver.

The operator is written the way kopf's own examples are (a CRD with create, update and
delete handlers whose return values kopf writes into ``status``, plus ``kopf.info`` for an
Event) and is run as kopf's own CLI does it: ``kopf run --standalone`` as a subprocess with
the cluster's kubeconfig. What kopf needs of the API is exercised through it: discovery of
the CRD, list + watch with resourceVersion, merge patches of the object and of its
``status`` subresource, its finalizer holding a DELETE until the delete handler ran, and
core/v1 Events.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.errors import ApiError
from tests.harness import ApiServer
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)

GROUP = "kopf.dev"
PLURAL = "kopfexamples"
FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "scope": "Namespaced",
        "group": GROUP,
        "names": {
            "kind": "KopfExample",
            "plural": PLURAL,
            "singular": "kopfexample",
            "shortNames": ["kopfexes", "kopfex"],
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                            "status": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    }
                },
            }
        ],
    },
}

# kopf's example style: handlers return what kopf stores under status.<handler name>.
OPERATOR = textwrap.dedent(
    """
    import kopf


    @kopf.on.create("kopf.dev", "v1", "kopfexamples")
    def create_fn(body, spec, name, logger, **kwargs):
        kopf.info(body, reason="Greeted", message=f"hello {name}")
        return {"message": f"hello {spec.get('field')}"}


    @kopf.on.update("kopf.dev", "v1", "kopfexamples")
    def update_fn(spec, old, new, diff, **kwargs):
        return {"field": spec.get("field"), "changes": len(diff)}


    @kopf.on.delete("kopf.dev", "v1", "kopfexamples")
    def delete_fn(name, **kwargs):
        print(f"DELETE-HANDLER {name}", flush=True)
    """
)


def _kopf() -> str:
    found = shutil.which("kopf", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("kopf is not installed (pip install -e '.[test]')")
    return found


@pytest.fixture
def operator(shared_apiserver: ApiServer, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A namespace of its own, the CRD, and kopf running the operator over it."""
    kopf = _kopf()
    cl = shared_apiserver.client()
    ns = "kopf-" + uuid.uuid4().hex[:6]
    cl.create("namespaces", {"metadata": {"name": ns}})
    try:
        cl.create("customresourcedefinitions", CRD)
    except ApiError as e:
        if e.code != 409:
            raise
    wait_for(
        lambda: cl.request("GET", f"/apis/{GROUP}/v1/namespaces/{ns}/{PLURAL}"),
        "the CRD served",
        10,
    )
    (tmp_path / "operator.py").write_text(OPERATOR)
    log = tmp_path / "kopf.log"
    env = {**os.environ, "KUBECONFIG": str(shared_apiserver.kubeconfig), "HOME": str(tmp_path)}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [kopf, "run", "--standalone", "--namespace", ns, "--verbose", "operator.py"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield ns, log
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        cl.close()


def test_kopf_operator_create_update_delete(
    shared_apiserver: ApiServer, operator: tuple[str, Path]
) -> None:
    ns, log = operator
    cl = shared_apiserver.client()
    path = f"/apis/{GROUP}/v1/namespaces/{ns}/{PLURAL}"
    body = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "KopfExample",
        "metadata": {"name": "kopf-example-1"},
        "spec": {"field": "value"},
    }
    cl.request("POST", path, json=body)
    obj_path = f"{path}/kopf-example-1"

    def current() -> dict[str, Any]:
        return dict(cl.request("GET", obj_path).json())

    def handled(key: str) -> dict[str, Any] | None:
        obj = current()
        return obj if key in (obj.get("status") or {}) else None

    def why() -> str:
        return log.read_text()[-3000:]

    try:
        obj = wait_for(lambda: handled("create_fn"), "the create handler's status", 30)
    except AssertionError:
        raise AssertionError(f"kopf did not handle the create:\n{why()}") from None
    assert obj["status"]["create_fn"] == {"message": "hello value"}
    # kopf's finalizer, so that the delete handler runs before the object goes.
    assert FINALIZER in obj["metadata"]["finalizers"]
    assert "kopf.zalando.org/last-handled-configuration" in obj["metadata"]["annotations"]
    events = cl.list("events", ns)["items"]
    greeted = [e for e in events if e.get("reason") == "Greeted"]
    assert greeted, f"kopf.info posted no Event: {events}"
    assert greeted[0]["involvedObject"]["name"] == "kopf-example-1"
    assert greeted[0]["message"] == "hello kopf-example-1"

    cl.request(
        "PATCH",
        obj_path,
        content=b'{"spec": {"field": "changed"}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    try:
        obj = wait_for(lambda: handled("update_fn"), "the update handler's status", 30)
    except AssertionError:
        raise AssertionError(f"kopf did not handle the update:\n{why()}") from None
    assert obj["status"]["update_fn"] == {"field": "changed", "changes": 1}

    cl.request("DELETE", obj_path)

    def gone() -> bool:
        try:
            current()
        except ApiError as e:
            return e.code == 404
        return False

    try:
        wait_for(gone, "the object deleted once kopf removed its finalizer", 30)
    except AssertionError:
        raise AssertionError(f"the object stayed:\n{why()}") from None
    assert "DELETE-HANDLER kopf-example-1" in log.read_text()
    cl.close()
