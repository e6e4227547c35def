"""ServiceAccounts, as kube-controller-manager's serviceaccount controller.

Every active namespace holds a ServiceAccount named ``default``: pods that name no account
run as it, and clients (the official Python client's test helpers, Helm charts, e2e
frameworks) wait for it after creating a namespace before they create anything else. The
account is created when a namespace appears and again whenever it is deleted; a namespace
being deleted gets none, since the namespace controller is emptying it.

The decision is the pure ``account_creations`` of the cached namespaces and accounts.
"""

from __future__ import annotations

from collections.abc import Iterable

from client import ApiError

from . import actions as A
from .base import Controller, apply_action
from .objutil import Obj, is_deleting, name_of, namespace_of

# The accounts every namespace gets (Kubernetes' --service-account-names default).
ACCOUNT_NAMES = ("default",)


def is_active(ns: Obj) -> bool:
    """A namespace that may receive new content: not deleted, not Terminating."""
    phase = (ns.get("status") or {}).get("phase")
    return not is_deleting(ns) and phase != "Terminating"


def account_creations(namespaces: Iterable[Obj], existing: set[tuple[str, str]]) -> list[A.Action]:
    """The creations that give every active namespace each of ``ACCOUNT_NAMES``;
    ``existing`` holds the (namespace, name) of the accounts already there."""
    out: list[A.Action] = []
    for ns in namespaces:
        if not is_active(ns):
            continue
        namespace = name_of(ns)
        for name in ACCOUNT_NAMES:
            if (namespace, name) not in existing:
                body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}
                out.append(A.create("serviceaccounts", namespace, body))
    return out


class ServiceAccountsController(Controller):
    """One key per namespace."""

    name = "serviceaccount"

    def setup(self) -> None:
        self.namespaces = self.ctx.index("namespaces")
        self.accounts = self.ctx.index("serviceaccounts")
        self.namespaces.informer.add_handler(
            on_add=lambda ns: self.enqueue(name_of(ns)),
            on_update=lambda _old, ns: self.enqueue(name_of(ns)),
        )
        self.accounts.informer.add_handler(on_delete=self._account_gone)

    def _account_gone(self, sa: Obj) -> None:
        ns = namespace_of(sa)
        if ns and name_of(sa) in ACCOUNT_NAMES:
            self.enqueue(ns)

    async def sync(self, key: str) -> float | None:
        ns = self.namespaces.get(key)
        if ns is None:
            return None
        existing = {
            (key, name) for name in ACCOUNT_NAMES if self.accounts.get(f"{key}/{name}") is not None
        }
        for action in account_creations([ns], existing):
            try:
                await apply_action(self.ctx, action)
            except ApiError as e:
                # Our cache lagged behind a creation: the account is there, which is the goal.
                if e.code != 409:
                    raise
        return None
