"""The admission webhook steps of a write (apiserver/objects.py decides where they run):
the request's attributes, the mutating webhooks with the built-in checks run again on
what they made, the validating webhooks, and subresources shown as their own kinds
(a Binding, an Eviction, a Scale), as kube-apiserver sends them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from api.errors import ApiError
from api.registry import ResourceInfo
from api.webhook_match import Request
from apiserver.admission_webhooks import AdmissionWebhooks

Obj = dict[str, Any]


class Asked(Protocol):
    """What a write's options tell the webhooks (objects.WriteOptions)."""

    dry_run: bool
    warnings: list[str] | None


@dataclass(frozen=True)
class SubresourceView:
    """A subresource that is a view of its object (``scale``: an autoscaling/v1 Scale), as
    admission webhooks are shown it: ``show`` makes the view of an object, ``apply`` puts a
    view the mutating webhooks changed back into the object."""

    show: Callable[[Obj], Obj]
    apply: Callable[[Obj, Obj], Obj]


class WebhookWrites:
    """Admission webhooks as steps of ObjectService's writes."""

    def __init__(
        self,
        webhooks: AdmissionWebhooks,
        revalidate: Callable[[ResourceInfo, Obj, Obj | None], None],
        validate: Callable[[ResourceInfo, Obj, Obj | None], None],
        versions: Callable[[ResourceInfo], tuple[str, ...]],
    ) -> None:
        self.webhooks = webhooks
        self.revalidate = revalidate  # kind, fields, defaults, validation, Pod Security
        self.validate_object = validate
        self.versions = versions

    def wants(self, info: ResourceInfo, operation: str, subresource: str = "") -> bool:
        """Could a webhook be called? With no configuration: one attribute test."""
        hooks = self.webhooks
        return hooks.configured and hooks.wants(operation, info.group, info.plural, subresource)

    def _request(
        self, info: ResourceInfo, operation: str, ns: str, name: str, subresource: str
    ) -> tuple[Request, tuple[tuple[str, str], ...]]:
        """The request's attributes, and the other versions its resource is served as
        (matchPolicy Equivalent)."""
        is_ns = info.kind == "Namespace" and not info.group
        req = Request(
            operation=operation,
            group=info.group,
            version=info.version,
            resource=info.plural,
            subresource=subresource,
            kind=info.kind,
            namespace=name if is_ns else ns,
            name=name,
            is_namespace=is_ns,
        )
        others = tuple((info.group, v) for v in self.versions(info) if v != info.version)
        return req, others

    def _common(self, opts: Asked) -> dict[str, Any]:
        return {
            "dry_run": opts.dry_run,
            "user": self.webhooks.current_user(),
            "warnings": opts.warnings,
        }

    async def mutate(
        self,
        info: ResourceInfo,
        operation: str,
        ns: str,
        name: str,
        subresource: str,
        obj: Obj | None,
        old: Obj | None,
        opts: Asked,
    ) -> Obj:
        """``obj`` as the mutating webhooks leave it, checked again (the built-in checks see
        what will be stored). DELETE (``obj`` None): the webhooks are asked, ``old`` is
        answered."""
        req, others = self._request(info, operation, ns, name, subresource)
        new = await self.webhooks.mutate(req, obj, old, equivalents=others, **self._common(opts))
        if obj is None:
            assert old is not None
            return old
        if new is obj or new is None:
            return obj
        meta = new.get("metadata") if isinstance(new, dict) else None
        if (
            not isinstance(meta, dict)
            or meta.get("name") != name
            or ((meta.get("namespace") or "") != (ns if info.namespaced else ""))
        ):
            raise ApiError(
                500,
                "Internal error occurred: a mutating admission webhook changed the object's "
                "name or namespace, which may not change",
            )
        self.revalidate(info, new, old)
        if old is not None and info.has_spec and new.get("spec") != old.get("spec"):
            gen = int((old.get("metadata") or {}).get("generation") or 0)
            if int(meta.get("generation") or 0) <= gen:
                meta["generation"] = gen + 1
        return new

    async def validate(
        self,
        info: ResourceInfo,
        operation: str,
        ns: str,
        name: str,
        subresource: str,
        obj: Obj | None,
        old: Obj | None,
        opts: Asked,
    ) -> None:
        req, others = self._request(info, operation, ns, name, subresource)
        await self.webhooks.validate(req, obj, old, equivalents=others, **self._common(opts))

    async def view(
        self,
        info: ResourceInfo,
        ns: str,
        name: str,
        subresource: str,
        new: Obj,
        current: Obj,
        opts: Asked,
        view: SubresourceView,
    ) -> Obj:
        """An UPDATE of ``subresource`` as Kubernetes sends it: the view (a Scale), old and
        new; a mutated view goes back into the object, which is validated again."""
        req, _ = self._request(info, "UPDATE", ns, name, subresource)
        shown, old_shown = view.show(new), view.show(current)
        req = dataclasses.replace(
            req, kind=str(shown.get("kind")), kind_api_version=str(shown.get("apiVersion"))
        )
        mutated = await self.webhooks.mutate(req, shown, old_shown, **self._common(opts))
        if mutated is not None and mutated != shown:
            new = view.apply(new, mutated)
            self.validate_object(info, new, current)
            shown = view.show(new)
        await self.webhooks.validate(req, shown, old_shown, **self._common(opts))
        return new

    async def subresource_create(
        self, info: ResourceInfo, ns: str, name: str, subresource: str, obj: Obj, opts: Asked
    ) -> Obj:
        """The CREATE of a subresource that is an object of its own (a Binding, an
        Eviction): ``obj`` as the mutating webhooks leave it, once the validating ones
        allowed it."""
        req, _ = self._request(info, "CREATE", ns, name, subresource)
        req = dataclasses.replace(
            req, kind=str(obj.get("kind") or ""), kind_api_version=str(obj.get("apiVersion") or "")
        )
        new = await self.webhooks.mutate(req, obj, None, **self._common(opts))
        out = new if new is not None else obj
        await self.webhooks.validate(req, out, None, **self._common(opts))
        return out
