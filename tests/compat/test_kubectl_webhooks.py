"""Admission webhook configurations through the real kubectl: apply, get (the WEBHOOKS
column), -o yaml with Kubernetes' defaults, explain, an invalid one refused in
Kubernetes' words, and the webhooks' effects as kubectl shows them (a denial's message,
a mutating webhook's label and warning)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.compat.conftest import Kubectl
from tests.compat.test_kubectl import rows
from tests.webhook_server import MUTATED_LABEL, WebhookServer

pytestmark = pytest.mark.timeout(180)


def _configuration(kind: str, name: str, ns: str, url: str, ca: str) -> dict:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": f"{name}.kubelab.test",
                "clientConfig": {"url": url, "caBundle": ca},
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["configmaps"],
                        "scope": "Namespaced",
                    }
                ],
                "namespaceSelector": {"matchLabels": {"webhook-test": ns}},
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    }


def test_webhook_configurations_through_kubectl(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    kubectl("label", "namespace", namespace, f"webhook-test={namespace}")
    with WebhookServer(tmp_path / "pki", []) as hook:
        vname, mname = f"{namespace}-names", f"{namespace}-labels"
        docs = [
            _configuration(
                "ValidatingWebhookConfiguration",
                vname,
                namespace,
                hook.url("/validate"),
                hook.ca_bundle,
            ),
            _configuration(
                "MutatingWebhookConfiguration",
                mname,
                namespace,
                hook.url("/mutate"),
                hook.ca_bundle,
            ),
        ]
        (tmp_path / "hooks.yaml").write_text(yaml.safe_dump_all(docs))
        try:
            out = kubectl("apply", "-f", str(tmp_path / "hooks.yaml"))
            assert (
                f"validatingwebhookconfiguration.admissionregistration.k8s.io/{vname} created"
                in out
            )
            assert (
                f"mutatingwebhookconfiguration.admissionregistration.k8s.io/{mname} created" in out
            )
            table = rows(kubectl("get", "validatingwebhookconfigurations", vname))
            assert table[vname]["WEBHOOKS"] == "1"
            stored = yaml.safe_load(
                kubectl("get", "mutatingwebhookconfiguration", mname, "-o", "yaml")
            )
            webhook = stored["webhooks"][0]
            assert webhook["failurePolicy"] == "Fail" and webhook["timeoutSeconds"] == 10
            assert webhook["reinvocationPolicy"] == "Never"
            assert webhook["objectSelector"] == {} and webhook["matchPolicy"] == "Equivalent"
            explained = kubectl("explain", "validatingwebhookconfiguration.webhooks.failurePolicy")
            assert "FIELD: failurePolicy" in explained

            refused = kubectl.run("create", "configmap", "refused-by-hook", "-n", namespace)
            assert refused.returncode != 0
            assert (
                f'admission webhook "{vname}.kubelab.test" denied the request: '
                "names beginning with refused- are not allowed here"
            ) in refused.stderr
            made = kubectl.run("create", "configmap", "let-in", "-n", namespace)
            assert made.returncode == 0, made.stderr
            assert "Warning: the label-adding webhook added a label" in made.stderr
            labels = kubectl(
                "get", "configmap", "let-in", "-n", namespace, "-o", "jsonpath={.metadata.labels}"
            )
            assert MUTATED_LABEL in labels

            bad = docs[0] | {"metadata": {"name": f"{namespace}-bad"}}
            bad["webhooks"] = [dict(bad["webhooks"][0], timeoutSeconds=31)]
            (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
            invalid = kubectl.run("apply", "-f", str(tmp_path / "bad.yaml"))
            assert invalid.returncode != 0
            assert (
                f'The ValidatingWebhookConfiguration "{namespace}-bad" is invalid: '
                "webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value "
                "must be between 1 and 30 seconds"
            ) in invalid.stderr, invalid.stderr
        finally:
            kubectl.run("delete", "-f", str(tmp_path / "hooks.yaml"), "--ignore-not-found")
