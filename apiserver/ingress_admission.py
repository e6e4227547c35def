"""Kubernetes' DefaultIngressClass admission: a new Ingress that names no class (no
``spec.ingressClassName``, no legacy ``kubernetes.io/ingress.class`` annotation) gets the
default IngressClass (the built-in ``kubelab``, unless an admin marked another). With
more than one marked default the create is refused, as upstream, rather than guessed."""

from __future__ import annotations

from typing import Any

import orjson

from api.errors import ApiError
from api.ingress import class_of, default_class_names
from api.registry import ResourceInfo


def admit(info: ResourceInfo, body: Any, store: Any) -> None:
    """Before a create: fill in the default class of an Ingress that names none."""
    if info.kind != "Ingress" or not isinstance(body, dict) or class_of(body):
        return
    spec = body.get("spec")
    if not isinstance(spec, dict):
        return  # validation says what is missing
    _, raw = store.list_raw("networking.k8s.io/ingressclasses")
    names = default_class_names(orjson.loads(r) for r in raw)
    if len(names) > 1:
        name = (body.get("metadata") or {}).get("name") or ""
        raise ApiError(
            403,
            f'ingresses.networking.k8s.io "{name}" is forbidden: {len(names)} default '
            f"IngressClasses were found ({', '.join(names)}), only 1 allowed; set "
            "spec.ingressClassName, or remove the ingressclass.kubernetes.io/is-default-class "
            "annotation from all but one",
            "Forbidden",
        )
    if names:
        spec["ingressClassName"] = names[0]
