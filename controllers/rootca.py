"""The ``kube-root-ca.crt`` ConfigMap in every namespace, as kube-controller-manager's
root-ca-cert-publisher: key ``ca.crt`` holds the cluster CA (PEM), which the token volume
of every pod projects as /var/run/secrets/kubernetes.io/serviceaccount/ca.crt so an
in-cluster client can verify the apiserver. Put back when deleted, corrected when edited;
a namespace being deleted gets none.

The decision is the pure ``root_ca_action`` of a namespace and its ConfigMap.
"""

from __future__ import annotations

from client import ApiError

from . import actions as A
from .base import Controller, apply_action
from .objutil import Obj, name_of, namespace_of
from .serviceaccounts import is_active

CONFIGMAP = "kube-root-ca.crt"
# Kubernetes marks the ConfigMap so that tools can tell it from a user's.
DESCRIPTION = "kubernetes.io/description"
WHAT = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using "
    "internal endpoints such as the internal service IP or kubernetes.default.svc. "
    "No other usage is guaranteed across distributions of Kubernetes clusters."
)


def root_ca_action(ns: Obj, current: Obj | None, ca_pem: str) -> A.Action | None:
    """The one write that makes namespace ``ns`` hold the CA, or None."""
    if not is_active(ns) or not ca_pem:
        return None
    namespace = name_of(ns)
    if current is None:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": CONFIGMAP, "annotations": {DESCRIPTION: WHAT}},
            "data": {"ca.crt": ca_pem},
        }
        return A.create("configmaps", namespace, body)
    data = current.get("data") or {}
    if data != {"ca.crt": ca_pem}:
        # The data exactly: a key someone added is not the publisher's to keep.
        wanted: dict[str, str | None] = {k: None for k in data if k != "ca.crt"}
        wanted["ca.crt"] = ca_pem
        return A.patch("configmaps", namespace, CONFIGMAP, {"data": wanted})
    return None


class RootCAPublisher(Controller):
    """One key per namespace."""

    name = "root-ca-cert-publisher"

    def setup(self) -> None:
        self.namespaces = self.ctx.index("namespaces")
        self.configmaps = self.ctx.index("configmaps")
        self.namespaces.informer.add_handler(
            on_add=lambda ns: self.enqueue(name_of(ns)),
            on_update=lambda _old, ns: self.enqueue(name_of(ns)),
        )
        self.configmaps.informer.add_handler(
            on_update=lambda _old, cm: self._configmap(cm), on_delete=self._configmap
        )

    def _configmap(self, cm: Obj) -> None:
        ns = namespace_of(cm)
        if name_of(cm) == CONFIGMAP and ns:
            self.enqueue(ns)

    async def sync(self, key: str) -> float | None:
        ns = self.namespaces.get(key)
        if ns is None:
            return None
        current = self.configmaps.get(f"{key}/{CONFIGMAP}")
        action = root_ca_action(ns, current, self.ctx.options.root_ca)
        if action is None:
            return None
        try:
            await apply_action(self.ctx, action)
        except ApiError as e:
            # Our cache lagged behind a creation: it is there; the update event comes back.
            if e.code != 409:
                raise
        return None
