"""The built-in ``kubelab`` IngressClass (controller ``kubelab.io/ingress-router``, the
kubelets' router), created as the cluster's default class at the first start, beside
storage_bootstrap, when the store holds no IngressClass at all (a first start, or a store
from before Ingress was served). A store with any class is left alone: a user who takes
away the default mark, or brings another controller's classes, keeps that choice."""

from __future__ import annotations

from typing import Any

from api.errors import ApiError
from api.ingress import kubelab_ingress_class
from api.registry import by_plural
from apiserver.objects import WriteOptions


async def ensure_kubelab_ingress_class(objects: Any, store: Any) -> None:
    """Create ``kubelab`` unless the store already has IngressClasses (a later start, or a
    cluster that brings its own); ``objects`` is the ObjectService, ``store`` the Store."""
    info = by_plural("networking.k8s.io", "ingressclasses")
    assert info is not None
    _, existing = store.list_raw(f"{info.group}/{info.plural}")
    if existing:
        return
    try:
        await objects.create(info, kubelab_ingress_class(), None, WriteOptions())
    except ApiError as exc:
        if exc.code != 409:
            raise
