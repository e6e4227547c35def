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


# kopf's own admission webhooks: kopf serves them and writes the configurations itself.
WEBHOOK_OPERATOR = textwrap.dedent(
    """
    import kopf


    @kopf.on.startup()
    def configure(settings: kopf.OperatorSettings, **_):
        settings.admission.server = kopf.WebhookServer(
            addr="127.0.0.1", port=PORT, host="127.0.0.1",
            certfile="pki/hook.crt", pkeyfile="pki/hook.key", cafile="pki/ca.crt",
        )
        settings.admission.managed = "MANAGED"


    @kopf.on.validate("kopf.dev", "v1", "kopfexamples")
    def refuse_wrong(spec, **_):
        if spec.get("field") == "wrong":
            raise kopf.AdmissionError("field may not be wrong", code=422)


    @kopf.on.mutate("kopf.dev", "v1", "kopfexamples")
    def add_label(patch, **_):
        patch.metadata.labels["mutated-by-kopf"] = "yes"
    """
)


def _kopf() -> str:
    found = shutil.which("kopf", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("kopf is not installed (pip install -e '.[test]')")
    return found


def _start_kopf(
    shared_apiserver: ApiServer, tmp_path: Path, ns: str, source: str
) -> tuple[subprocess.Popen[bytes], Path]:
    (tmp_path / "operator.py").write_text(source)
    log = tmp_path / "kopf.log"
    env = {**os.environ, "KUBECONFIG": str(shared_apiserver.kubeconfig), "HOME": str(tmp_path)}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [_kopf(), "run", "--standalone", "--namespace", ns, "--verbose", "operator.py"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc, log


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _namespace_and_crd(shared_apiserver: ApiServer) -> str:
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
    cl.close()
    return ns


@pytest.fixture
def operator(shared_apiserver: ApiServer, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A namespace of its own, the CRD, and kopf running the operator over it."""
    _kopf()
    ns = _namespace_and_crd(shared_apiserver)
    proc, log = _start_kopf(shared_apiserver, tmp_path, ns, OPERATOR)
    try:
        yield ns, log
    finally:
        _stop(proc)


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


def test_kopf_admission_webhooks(shared_apiserver: ApiServer, tmp_path: Path) -> None:
    """kopf's own webhooks: kopf writes a Validating- and a MutatingWebhookConfiguration
    (url, caBundle, objectSelector null) and serves them over HTTPS; the apiserver calls
    them, so a wrong object is refused in kopf's words and a right one gets kopf's label."""
    from apiserver.tls import ensure_ca, issue_serving_cert
    from tests.harness import free_port

    ns = _namespace_and_crd(shared_apiserver)
    ensure_ca(tmp_path)  # tmp_path/pki/ca.crt: the webhook's own CA
    issue_serving_cert(tmp_path, "hook", ["127.0.0.1"])
    managed = f"{ns}.kopf.dev"
    source = WEBHOOK_OPERATOR.replace("PORT", str(free_port())).replace("MANAGED", managed)
    proc, log = _start_kopf(shared_apiserver, tmp_path, ns, source)
    cl = shared_apiserver.client()
    try:
        for plural in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
            try:
                wait_for(lambda p=plural: cl.get(p, managed), f"kopf's {plural}", 30)
            except AssertionError:
                raise AssertionError(
                    f"kopf wrote no {plural}:\n{log.read_text()[-3000:]}"
                ) from None
        path = f"/apis/{GROUP}/v1/namespaces/{ns}/{PLURAL}"

        def create(name: str, field: str) -> Any:
            body = {
                "apiVersion": f"{GROUP}/v1",
                "kind": "KopfExample",
                "metadata": {"name": name},
                "spec": {"field": field},
            }
            return cl.request("POST", path, json=body, raise_for_status=False)

        # kopf's server may still be starting after it wrote the configurations.
        good = wait_for(
            lambda: (r := create("right-one", "right")).status_code == 201 and r,
            "a create through kopf's webhooks",
            30,
        )
        assert good.json()["metadata"]["labels"] == {"mutated-by-kopf": "yes"}
        bad = create("wrong-one", "wrong")
        assert bad.status_code == 422, bad.text
        assert bad.json()["message"] == (
            'admission webhook "refuse-wrong.' + managed + '" denied the request: '
            "field may not be wrong"
        )
    finally:
        _stop(proc)
        for plural in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
            try:
                cl.delete(plural, managed)
            except ApiError as e:
                if e.code != 404:
                    raise
        cl.close()
