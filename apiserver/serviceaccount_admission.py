"""The ServiceAccount admission of new Pods, as Kubernetes' ServiceAccount plugin.

- ``spec.serviceAccountName`` is already defaulted to ``default`` (api/defaults.py);
- a pod naming an account that does not exist is refused ("error looking up service
  account NS/NAME"). The ``default`` account is made by the serviceaccount controller a
  moment after its namespace: Kubernetes waits a second or two for it before refusing;
  kubelab admits the pod without a token instead (nothing to mount yet), so clusters
  without a controller manager (tests, a bare apiserver) keep running pods;
- unless ``automountServiceAccountToken: false`` (the pod's, else the account's), the pod
  gets the projected volume ``kube-api-access-<5 random>`` (a bound token, the cluster CA
  from the ``kube-root-ca.crt`` ConfigMap, the namespace), mounted read-only at
  /var/run/secrets/kubernetes.io/serviceaccount in every container that has no mount there.
"""

from __future__ import annotations

import random
from typing import Any

from api.errors import ApiError
from api.mirror import is_mirror_pod

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
# Kubernetes' token lifetime for this volume: one hour and 7 seconds, so that tokens of
# these volumes can be told apart from others (the apiserver may extend them).
TOKEN_SECONDS = 3607
# utilrand.String's alphabet: no vowels, no look-alike characters.
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

Obj = dict[str, Any]


def api_access_volume(name: str) -> Obj:
    """The projected volume Kubernetes' admission adds, field for field."""
    return {
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_SECONDS, "path": "token"}},
                {
                    "configMap": {
                        "name": ROOT_CA_CONFIGMAP,
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {
                                    "apiVersion": "v1",
                                    "fieldPath": "metadata.namespace",
                                },
                            }
                        ]
                    }
                },
            ],
        },
    }


def wants_token(pod_spec: Obj, account: Obj) -> bool:
    """The pod's automountServiceAccountToken decides, else the account's; default yes."""
    own = pod_spec.get("automountServiceAccountToken")
    if own is not None:
        return bool(own)
    return account.get("automountServiceAccountToken") is not False


def add_api_access(pod: Obj, suffix: str | None = None) -> None:
    """Add the token volume and its mounts to ``pod`` (already-mounted containers kept)."""
    spec = pod.setdefault("spec", {})
    volumes = spec.setdefault("volumes", [])
    if any(str(v.get("name", "")).startswith(VOLUME_PREFIX) for v in volumes):
        return  # already added
    name = VOLUME_PREFIX + (suffix or "".join(random.choices(_ALPHABET, k=5)))
    volumes.append(api_access_volume(name))
    for group in ("initContainers", "containers"):
        for c in spec.get(group) or []:
            mounts = c.setdefault("volumeMounts", [])
            if any(m.get("mountPath") == MOUNT_PATH for m in mounts):
                continue
            mounts.append({"name": name, "readOnly": True, "mountPath": MOUNT_PATH})


def admit_service_account(pod: Obj, account_of: Any) -> None:
    """Check a new pod's account and give it API access; ``account_of(ns, name)`` is the
    stored ServiceAccount or None. 403 Status when a named account does not exist."""
    meta = pod.get("metadata") or {}
    if is_mirror_pod(pod):
        return
    spec = pod.get("spec") or {}
    ns = str(meta.get("namespace") or "default")
    name = str(spec.get("serviceAccountName") or "default")
    account = account_of(ns, name)
    if account is None:
        if name == "default":
            return
        raise ApiError(
            403,
            f'pods "{meta.get("name", "")}" is forbidden: error looking up service account '
            f'{ns}/{name}: serviceaccount "{name}" not found (create it first: '
            f"kl create serviceaccount {name} -n {ns})",
            "Forbidden",
            name=str(meta.get("name", "")),
            kind="pods",
        )
    if wants_token(spec, account):
        add_api_access(pod)
