"""What a write means in Kubernetes: server-owned metadata, generation, status
separation, optimistic concurrency, finalizers and graceful deletion.

This layer knows nothing of HTTP; ``rest.py`` turns requests into calls here.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from api import defaults, validation
from api.crd import definition as crd_definition
from api.crd.definition import CustomKind, CustomVersion
from api.errors import ApiError, Cause, already_exists, bad_request, conflict, invalid, not_found
from api.registry import ResourceInfo
from apiserver import csr, server_side_apply
from apiserver.admission_webhooks import AdmissionWebhooks
from apiserver.cluster_state import PROTECTED_NAMESPACES, ClusterState
from apiserver.ids import new_uid, now_rfc3339
from apiserver.service_ips_spec import keep_on_update
from apiserver.store import DELETED, Event, StorageError, Store
from apiserver.webhook_writes import SubresourceView, WebhookWrites

Obj = dict[str, Any]

# Kinds whose status is written only through /status (the main resource ignores it).
_SEPARATE_STATUS = {
    "Pod",
    "Node",
    "Service",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "Job",
    "Namespace",
    "PodDisruptionBudget",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "DaemonSet",
    "CronJob",
    "ReplicationController",
    "HorizontalPodAutoscaler",
}
_CRD_KIND = "CustomResourceDefinition"


def store_key(info: ResourceInfo) -> str:
    """The store's name for a resource: ``group/plural`` (``/pods`` for core)."""
    return f"{info.group}/{info.plural}"


def rfc3339(t: datetime | None = None) -> str:
    if t is None:
        return now_rfc3339()
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class WriteOptions:
    dry_run: bool = False
    field_validation: str = "Strict"  # Strict | Warn | Ignore
    warnings: list[str] | None = None
    # The manager a non-apply write records an Update entry of managedFields for (None:
    # none, as for a server-side apply, which records its own Apply entry, or a write the
    # server makes itself; "" is a request that named no manager and sent no User-Agent,
    # recorded nameless as kube-apiserver does).
    manager: str | None = None


def strict_decoding_error(info: ResourceInfo, obj: Obj, unknown: list[str]) -> ApiError:
    """The 400 Kubernetes answers ``fieldValidation=Strict`` with, worded as upstream's
    decoder (kubectl prints it as is); each cause names a field and the fix."""
    fields = ", ".join(f'unknown field "{f}"' for f in unknown)
    err = bad_request(
        f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
        f"strict decoding error: {fields}"
    )
    err.kind, err.group = info.kind, info.group
    err.name = str((obj.get("metadata") or {}).get("name") or "")
    err.causes = [
        Cause(f, f'unknown field "{f}": remove it, or check its spelling', "FieldValueInvalid")
        for f in unknown
    ]
    return err


def _shortens_grace(meta: Obj, grace_period: int | None) -> int | None:
    """The new grace period when a DELETE asks for less than the one running, else None."""
    if grace_period is None:
        return None
    current = meta.get("deletionGracePeriodSeconds")
    wanted = max(0, int(grace_period))
    if current is None or wanted >= int(current):
        return None
    return wanted


# How often an update or patch that webhooks saw is decided again when the object changed
# while they were asked (Kubernetes' GuaranteedUpdate retries likewise).
_WEBHOOK_ATTEMPTS = 5


class _Stale(ApiError):
    """The object changed between the decision the webhooks saw and its commit."""


def _random_suffix(n: int = 5) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(secrets.choice(alphabet) for _ in range(n))


class ObjectService:
    """Create, update, patch and delete objects with Kubernetes semantics."""

    def __init__(
        self,
        store: Store,
        state: ClusterState,
        toleration_seconds: tuple[int, int] = (
            defaults.DEFAULT_TOLERATION_SECONDS,
            defaults.DEFAULT_TOLERATION_SECONDS,
        ),
    ) -> None:
        self.store = store
        self.state = state
        # (not-ready, unreachable): kube-apiserver's --default-*-toleration-seconds.
        self.toleration_seconds = toleration_seconds
        # (group, plural) -> the served CRD's kind; kept by apiserver/crds.py.
        self.custom_kinds: dict[tuple[str, str], CustomKind] = {}
        # Admission webhooks (use_webhooks): mutating after the built-in admission,
        # validating last before quota, as Kubernetes orders its admission chain.
        self.hooks: WebhookWrites | None = None

    def custom_version(self, info: ResourceInfo) -> CustomVersion | None:
        """The CRD version ``info`` is served from (None for a built-in kind)."""
        if not info.custom:
            return None
        ck = self.custom_kinds.get((info.group, info.plural))
        if ck is None or info.version not in ck.versions:
            raise not_found(info.plural, "", info.group)
        return ck.versions[info.version]

    def _separate_status(self, info: ResourceInfo) -> bool:
        if info.custom:
            cv = self.custom_version(info)
            return cv is not None and cv.status
        return info.kind in _SEPARATE_STATUS or self._is_crd(info)

    @staticmethod
    def _is_crd(info: ResourceInfo) -> bool:
        return info.kind == _CRD_KIND and info.group == crd_definition.GROUP

    def to_storage(self, info: ResourceInfo, obj: Obj) -> Obj:
        """A custom object is stored in its CRD's storage version (conversion None: only
        apiVersion changes)."""
        if info.custom:
            ck = self.custom_kinds.get((info.group, info.plural))
            if ck is not None:
                obj["apiVersion"] = f"{info.group}/{ck.storage_version}"
        return obj

    # -- helpers -------------------------------------------------------------------------

    def _check_kind(self, info: ResourceInfo, obj: Obj) -> None:
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if kind is not None and kind != info.kind:
            raise bad_request(
                f"the body is a {kind}, but the URL is for {info.plural}: send it to the "
                f"{kind}'s own path, or fix the body's kind to {info.kind!r}"
            )
        if api_version is not None and api_version != info.api_version:
            raise bad_request(
                f'the body has apiVersion "{api_version}", but {info.plural} are served as '
                f'"{info.api_version}": set apiVersion: {info.api_version}'
            )
        obj["kind"] = info.kind
        obj["apiVersion"] = info.api_version

    def _check_fields(self, info: ResourceInfo, obj: Obj, opts: WriteOptions) -> None:
        """fieldValidation: Strict refuses unknown fields; Warn and Ignore drop them."""
        cv = self.custom_version(info)
        if cv is not None:
            if cv.schema is None:
                return
            unknown = cv.schema.unknown_fields(obj)
            if unknown and opts.field_validation == "Strict":
                raise strict_decoding_error(info, obj, unknown)
            cv.schema.prune(obj)
            if unknown and opts.warnings is not None and opts.field_validation == "Warn":
                opts.warnings.extend(f'unknown field "{f}"' for f in unknown)
            return
        if opts.field_validation == "Strict":
            unknown = validation.unknown_fields(info.kind, obj)
            if unknown:
                raise strict_decoding_error(info, obj, unknown)
            return
        dropped = validation.drop_unknown_fields(info.kind, obj)
        if dropped and opts.warnings is not None and opts.field_validation == "Warn":
            opts.warnings.extend(f'unknown field "{f}"' for f in dropped)

    def _default(self, info: ResourceInfo, obj: Obj) -> None:
        """Defaulting, plus what Kubernetes' admission adds to a Pod (its tolerations of a
        not-ready or unreachable node, for this server's configured seconds)."""
        cv = self.custom_version(info)
        if cv is not None:
            if cv.schema is not None:
                cv.schema.default(obj)
            return
        if self._is_crd(info):
            crd_definition.default_crd(obj)
            return
        defaults.apply_defaults(info.kind, obj)
        if info.kind == "Pod":
            defaults.default_tolerations(obj, *self.toleration_seconds)

    def _warn_unacted(self, info: ResourceInfo, obj: Obj, opts: WriteOptions) -> None:
        """Add a reply ``Warning`` for each accepted field nothing acts on (soft scheduling
        preferences), so that it is never silently ignored."""
        if opts.warnings is not None and not info.custom:
            opts.warnings.extend(validation.warnings(info.kind, obj))

    def _validate(self, info: ResourceInfo, obj: Obj, old: Obj | None) -> None:
        cv = self.custom_version(info)
        if cv is not None:
            # Metadata as any object's (a name style no built-in kind imposes), then the
            # version's structural schema.
            causes = validation.validate("", obj, None)
            if cv.schema is not None:
                causes.extend(cv.schema.validate(obj))
            if causes:
                raise invalid(info.kind, str(obj["metadata"].get("name") or ""), causes, info.group)
            return
        causes = validation.validate(info.kind, obj, old)
        if self._is_crd(info):
            causes.extend(crd_definition.problems(obj))
        if causes:
            raise invalid(info.kind, str(obj["metadata"].get("name") or ""), causes, info.group)

    def _namespace_for(self, info: ResourceInfo, obj: Obj, namespace: str | None) -> str:
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise invalid(info.kind, "", [Cause("metadata", "must be an object")])
        if not info.namespaced:
            meta.pop("namespace", None)
            return ""
        body_ns = meta.get("namespace")
        ns = namespace or body_ns or "default"
        if body_ns and namespace and body_ns != namespace:
            raise bad_request(
                f"the namespace of the object ({body_ns}) does not match the namespace on the "
                f"request ({namespace}): drop metadata.namespace or send it to namespace {body_ns}"
            )
        meta["namespace"] = ns
        return str(ns)

    async def _write(
        self,
        info: ResourceInfo,
        ns: str,
        name: str,
        compute: Callable[[Obj | None], Obj | None],
        opts: WriteOptions,
        create: bool = False,
    ) -> Event:
        key = store_key(info)
        if opts.dry_run:
            current = self.store._current_for_write(key, ns, name)
            new = compute(copy.deepcopy(current) if current is not None else None)
            if new is None and current is None:
                raise not_found(info.plural, name, info.group)
            final = new if new is not None else current
            assert final is not None
            return Event(self.store.committed_rv, "DRYRUN", key, ns, name, b"", final)

        def guarded(current: Obj | None) -> Obj | None:
            new = compute(current)
            # Before the store's no-op test (Store.mutate), which must see what this adds
            # (a Service's kept nodePorts). A write the store then finds changes nothing
            # leaves these indexes as they were: each is a function of the object (old's
            # entries out, new's in), and new is old.
            self.state.before_write(info, ns, name, current, new)
            return new

        try:
            return await self.store.mutate(key, ns, name, guarded, create=create)
        except StorageError:
            self.state.stale = True  # decided but never stored: forget what it reserved
            raise
        except ApiError:
            raise
        except Exception:
            self.state.rebuild(self.store)
            raise

    # -- admission webhooks ----------------------------------------------------------------

    def use_webhooks(self, webhooks: AdmissionWebhooks) -> None:
        """Call ``webhooks`` in the write path (apiserver/webhook_writes.py)."""
        self.hooks = WebhookWrites(webhooks, self._revalidate, self._validate, self._versions)

    def _webhooks_want(self, info: ResourceInfo, operation: str, subresource: str = "") -> bool:
        return self.hooks is not None and self.hooks.wants(info, operation, subresource)

    def _versions(self, info: ResourceInfo) -> tuple[str, ...]:
        """Every version ``info``'s resource is served in (a CRD's several; conversion None)."""
        ck = self.custom_kinds.get((info.group, info.plural)) if info.custom else None
        return tuple(ck.versions) if ck else (info.version,)

    def _revalidate(self, info: ResourceInfo, obj: Obj, old: Obj | None) -> None:
        """The built-in checks again, on what a mutating webhook made of the object."""
        self._check_kind(info, obj)
        self._check_fields(info, obj, WriteOptions(field_validation="Ignore"))
        self._default(info, obj)
        self._validate(info, obj, old)
        self.state.admit(info, obj)

    async def admit_subresource_create(
        self,
        info: ResourceInfo,
        ns: str,
        name: str,
        subresource: str,
        obj: Obj,
        opts: WriteOptions,
    ) -> Obj:
        """A POST of a subresource that is an object of its own (pods/binding: a Binding,
        pods/eviction: an Eviction), sent to the webhooks as Kubernetes' CREATE of it."""
        if self.hooks is None or not self.hooks.wants(info, "CREATE", subresource):
            return obj
        return await self.hooks.subresource_create(info, ns, name, subresource, obj, opts)

    async def _write_through_webhooks(
        self,
        info: ResourceInfo,
        ns: str,
        name: str,
        compute: Callable[[Obj | None], Obj | None],
        opts: WriteOptions,
        subresource: str,
        view: SubresourceView | None = None,
    ) -> Event:
        """An update the webhooks see: decided on the current object, sent to them (outside
        the store's mutation, which must not wait on the network), then stored only if the
        object is still the one decided on; otherwise decided again."""
        key = store_key(info)
        for _ in range(_WEBHOOK_ATTEMPTS):
            current = self.store._current_for_write(key, ns, name)
            if current is None:
                return await self._write(info, ns, name, compute, opts)  # its 404
            rv = current["metadata"].get("resourceVersion")
            new = compute(copy.deepcopy(current))
            assert self.hooks is not None
            if new is not None and view is not None:
                new = await self.hooks.view(info, ns, name, subresource, new, current, opts, view)
            elif new is not None:
                new = await self.hooks.mutate(
                    info, "UPDATE", ns, name, subresource, new, current, opts
                )
                await self.hooks.validate(info, "UPDATE", ns, name, subresource, new, current, opts)
            try:
                return await self._write(info, ns, name, self._if_unchanged(info, rv, new), opts)
            except _Stale:
                continue
        raise conflict(info.plural, name, info.group)

    @staticmethod
    def _if_unchanged(
        info: ResourceInfo, rv: Any, decided: Obj | None
    ) -> Callable[[Obj | None], Obj | None]:
        """A mutation storing ``decided`` only over the object at resourceVersion ``rv``."""

        def unchanged(cur: Obj | None) -> Obj | None:
            if cur is None:
                raise not_found(info.plural, "", info.group)
            if cur["metadata"].get("resourceVersion") != rv:
                raise _Stale(409, "the object changed while admission webhooks were asked")
            return decided

        return unchanged

    # -- create --------------------------------------------------------------------------

    async def create(
        self, info: ResourceInfo, obj: Obj, namespace: str | None, opts: WriteOptions
    ) -> Obj:
        """POST: a new object with server-owned metadata; 409 if the name is taken."""
        return (await self.create_event(info, obj, namespace, opts)).obj

    async def create_event(
        self, info: ResourceInfo, obj: Obj, namespace: str | None, opts: WriteOptions
    ) -> Event:
        """``create``, answering with the committed Event (its JSON already serialised)."""
        if not isinstance(obj, dict):
            raise bad_request("the body must be a JSON or YAML object")
        self._check_kind(info, obj)
        self._check_fields(info, obj, opts)
        ns = self._namespace_for(info, obj, namespace)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{_random_suffix()}"
        name = str(meta.get("name") or "")
        if ns:
            self.state.require_namespace_open(ns)
        for k in (
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "selfLink",
        ):
            meta.pop(k, None)
        if self._separate_status(info):
            obj.pop("status", None)
        self._default(info, obj)
        self._validate(info, obj, None)
        self._warn_unacted(info, obj, opts)
        self.state.admit_create(info, obj)
        hooked = self._webhooks_want(info, "CREATE")
        if hooked:
            assert self.hooks is not None
            obj = await self.hooks.mutate(info, "CREATE", ns, name, "", obj, None, opts)
            meta = obj["metadata"]
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = rfc3339()
        if info.kind == "Job":
            defaults.generate_job_selector(obj)
            # The generated job-name label must itself be valid: a name over 63 characters is
            # refused here, as Kubernetes does, rather than stored with an invalid template.
            self._validate(info, obj, None)
        if info.has_spec:
            meta["generation"] = 1
        if opts.manager is not None:
            obj = server_side_apply.record_update(info, None, obj, opts.manager)

        if hooked:
            assert self.hooks is not None
            await self.hooks.validate(info, "CREATE", ns, name, "", obj, None, opts)
        self.to_storage(info, obj)

        def compute(current: Obj | None) -> Obj:
            if current is not None:
                raise already_exists(info.plural, name, info.group)
            return obj

        return await self._write(info, ns, name, compute, opts, create=True)

    # -- update --------------------------------------------------------------------------

    def _merge_update(self, info: ResourceInfo, current: Obj, new: Obj, subresource: str) -> Obj:
        """The object to store for a PUT of ``new`` over ``current``."""
        cur_meta = current.get("metadata") or {}
        new_meta = new.setdefault("metadata", {})
        rv = new_meta.get("resourceVersion")
        if rv not in (None, "", cur_meta.get("resourceVersion")):
            raise conflict(info.plural, str(cur_meta.get("name")), info.group)
        if new_meta.get("uid") not in (None, "", cur_meta.get("uid")):
            raise conflict(info.plural, str(cur_meta.get("name")), info.group)
        if subresource in ("status", "approval"):
            # ``current`` is this write's own parse of the stored JSON (never shared) and
            # is not used once the write is decided: a shallow copy will do, with its own
            # metadata, which the store stamps with the new resourceVersion.
            out = dict(current)
            out["metadata"] = dict(cur_meta)
            if "status" in new or info.kind == "CertificateSigningRequest":
                out["status"] = csr.subresource_status(
                    info, current, new.get("status"), subresource
                )
            else:
                out.pop("status", None)
            if info.custom:
                self._validate(info, out, current)
                self.to_storage(info, out)
            return out
        for k in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "namespace",
            "name",
        ):
            if k in cur_meta:
                new_meta[k] = cur_meta[k]
            else:
                new_meta.pop(k, None)
        if self._separate_status(info):
            if "status" in current:
                new["status"] = current["status"]
            else:
                new.pop("status", None)
        if info.kind == "Service":
            old_spec, new_spec = current.get("spec"), new.get("spec")
            if isinstance(old_spec, dict) and isinstance(new_spec, dict):
                keep_on_update(old_spec, new_spec)
        self._default(info, new)
        if info.custom:
            self._validate(info, new, current)  # schema of the request's version
            self.to_storage(info, new)
        if info.has_spec and new.get("spec") != current.get("spec"):
            new_meta["generation"] = int(cur_meta.get("generation") or 0) + 1
        return new

    def _finish_update(self, info: ResourceInfo, current: Obj, out: Obj) -> Obj | None:
        """Validate; remove an object whose deletion was only waiting for finalizers."""
        if not info.custom:
            self._validate(info, out, current)
        if out.get("spec") != current.get("spec"):
            self.state.admit(info, out)
        meta = out["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            if not self.state.waits_for_kubelet(info, out):
                return None
        return out

    @staticmethod
    def _owned(
        info: ResourceInfo, current: Obj, out: Obj | None, opts: WriteOptions, subresource: str
    ) -> Obj | None:
        """``out`` with the write's manager recorded as the owner of what it changed."""
        if out is None or opts.manager is None:
            return out
        return server_side_apply.record_update(info, current, out, opts.manager, subresource)

    async def update(
        self,
        info: ResourceInfo,
        name: str,
        body: Obj,
        namespace: str | None,
        opts: WriteOptions,
        subresource: str = "",
    ) -> Obj:
        """PUT: replace the object (or its status); 409 on a stale resourceVersion."""
        return (await self.update_event(info, name, body, namespace, opts, subresource)).obj

    async def update_event(
        self,
        info: ResourceInfo,
        name: str,
        body: Obj,
        namespace: str | None,
        opts: WriteOptions,
        subresource: str = "",
    ) -> Event:
        """``update``, answering with the committed Event."""
        if not isinstance(body, dict):
            raise bad_request("the body must be a JSON or YAML object")
        self._check_kind(info, body)
        # A status write is decoded like any other body: an unknown field is refused
        # (Strict) or dropped, never stored in status.
        self._check_fields(info, body, opts)
        ns = self._namespace_for(info, body, namespace)
        body_name = body["metadata"].get("name")
        if body_name and body_name != name:
            raise bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL "
                f"({name}): they must be the same"
            )
        body["metadata"]["name"] = name
        hooked = self._webhooks_want(info, "UPDATE", subresource)

        def compute(current: Obj | None) -> Obj | None:
            if current is None:
                raise not_found(info.plural, name, info.group)
            # compute runs once per request, so the request's own body can be merged into
            # (a write webhooks see may be decided again: each decision gets its own copy).
            src = copy.deepcopy(body) if hooked else body
            out = self._merge_update(info, current, src, subresource)
            if not subresource:
                self._warn_unacted(info, out, opts)
            return self._owned(
                info, current, self._finish_update(info, current, out), opts, subresource
            )

        if hooked:
            return await self._write_through_webhooks(info, ns, name, compute, opts, subresource)
        return await self._write(info, ns, name, compute, opts)

    async def patch(
        self,
        info: ResourceInfo,
        name: str,
        namespace: str | None,
        apply: Callable[[Obj], Obj],
        opts: WriteOptions,
        subresource: str = "",
        create_if_missing: Callable[[], Obj] | None = None,
        view: SubresourceView | None = None,
    ) -> tuple[Obj, bool]:
        """PATCH: ``apply`` maps the current object to the patched one. Returns (obj, created).
        ``view``: how admission webhooks see ``subresource``."""
        ev, created = await self.patch_event(
            info, name, namespace, apply, opts, subresource, create_if_missing, view=view
        )
        return ev.obj, created

    async def patch_event(
        self,
        info: ResourceInfo,
        name: str,
        namespace: str | None,
        apply: Callable[[Obj], Obj],
        opts: WriteOptions,
        subresource: str = "",
        create_if_missing: Callable[[], Obj] | None = None,
        pure_apply: bool = False,
        view: SubresourceView | None = None,
    ) -> tuple[Event, bool]:
        """``patch``, answering with the committed Event and whether it created the object.
        ``pure_apply``: ``apply`` returns a new object and leaves its argument alone (the
        patch functions of ``api.patch`` do), so it needs no defensive copy."""
        ns = (namespace or "default") if info.namespaced else ""
        if create_if_missing is not None:
            key = store_key(info)
            if self.store._current_for_write(key, ns, name) is None:
                obj = create_if_missing()
                obj.setdefault("metadata", {})["name"] = name
                return await self.create_event(info, obj, ns or None, opts), True

        def compute(current: Obj | None) -> Obj | None:
            if current is None:
                raise not_found(info.plural, name, info.group)
            if info.custom:
                current["apiVersion"] = info.api_version  # patched as the request's version
            patched = apply(current if pure_apply else copy.deepcopy(current))
            if not isinstance(patched, dict):
                raise bad_request("the patch did not produce an object")
            self._check_kind(info, patched)
            # A patch may bring unknown fields as a body does (kubectl apply's typo), on
            # /status as anywhere.
            self._check_fields(info, patched, opts)
            pm = patched.setdefault("metadata", {})
            if not isinstance(pm, dict):
                raise invalid(info.kind, name, [Cause("metadata", "must be an object")])
            if pm.get("name", name) != name:
                raise invalid(info.kind, name, [Cause("metadata.name", "field is immutable")])
            if info.namespaced and pm.get("namespace", ns) != ns:
                raise invalid(info.kind, name, [Cause("metadata.namespace", "field is immutable")])
            out = self._merge_update(info, current, patched, subresource)
            if not subresource:
                self._warn_unacted(info, out, opts)
            return self._owned(
                info, current, self._finish_update(info, current, out), opts, subresource
            )

        if self._webhooks_want(info, "UPDATE", subresource):
            ev = await self._write_through_webhooks(
                info, ns, name, compute, opts, subresource, view
            )
            return ev, False
        return await self._write(info, ns, name, compute, opts), False

    # -- delete --------------------------------------------------------------------------

    async def delete(
        self,
        info: ResourceInfo,
        name: str,
        namespace: str | None,
        opts: WriteOptions,
        propagation: str | None = None,
        grace_period: int | None = None,
        precondition_uid: str | None = None,
        precondition_rv: str | None = None,
    ) -> tuple[Obj, bool]:
        """DELETE: remove now, or mark for deletion. Returns (object, removed_now)."""
        ns = (namespace or "default") if info.namespaced else ""
        if propagation not in (None, "", "Background", "Foreground", "Orphan"):
            raise bad_request(
                f'propagationPolicy "{propagation}" is not one of Background, Foreground, Orphan'
            )

        if info.plural == "namespaces" and not info.group and name in PROTECTED_NAMESPACES:
            # kube-system's uid is the cluster's identity (kubelet/ownership.py), as on
            # Kubernetes, which refuses these deletions too.
            raise ApiError(
                403,
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                "Forbidden",
                name=name,
                kind="namespaces",
            )

        if self.hooks is not None and self.hooks.wants(info, "DELETE"):
            old = self.store._current_for_write(store_key(info), ns, name)
            if old is not None:
                await self.hooks.mutate(info, "DELETE", ns, name, "", None, old, opts)
                await self.hooks.validate(info, "DELETE", ns, name, "", None, old, opts)

        def compute(current: Obj | None) -> Obj | None:
            if current is None:
                raise not_found(info.plural, name, info.group)
            meta = current["metadata"]
            if precondition_uid and meta.get("uid") != precondition_uid:
                raise conflict(info.plural, name, info.group)
            if precondition_rv and meta.get("resourceVersion") != precondition_rv:
                raise conflict(info.plural, name, info.group)
            finalizers = list(meta.get("finalizers") or [])
            if propagation == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            if propagation == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            graceful = self.state.graceful_delete(info, current, grace_period)
            if info.kind == "Namespace":
                current.setdefault("status", {})["phase"] = "Terminating"
                graceful = True
            if not finalizers and not graceful:
                return None
            if meta.get("deletionTimestamp"):
                if grace_period == 0 and not finalizers:
                    return None
                shorter = _shortens_grace(meta, grace_period)
                if shorter is not None:
                    # As in Kubernetes, a DELETE with a shorter grace period moves the
                    # deadline in. The kubelet's final DELETE (grace 0) must be recorded
                    # even while finalizers hold the object, or removing the last
                    # finalizer would leave a pod that nobody deletes any more.
                    meta["deletionGracePeriodSeconds"] = shorter
                    meta["deletionTimestamp"] = rfc3339(
                        datetime.now(UTC) + timedelta(seconds=shorter)
                    )
                elif finalizers == list(meta.get("finalizers") or []):
                    return current  # already going away; a repeated DELETE changes nothing
            meta["finalizers"] = finalizers
            if not meta.get("deletionTimestamp"):
                seconds = self.state.grace_seconds(info, current, grace_period)
                meta["deletionTimestamp"] = rfc3339(datetime.now(UTC) + timedelta(seconds=seconds))
                meta["deletionGracePeriodSeconds"] = seconds
            if finalizers == [] and "finalizers" in meta:
                del meta["finalizers"]
            return current

        ev = await self._write(info, ns, name, compute, opts)
        return ev.obj, ev.type == DELETED
