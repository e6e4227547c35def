"""Calling admission webhooks: the stored Validating- and MutatingWebhookConfigurations kept
in memory, and the AdmissionReview POSTed over HTTPS (httpx, one connection pool per
webhook, the configuration's caBundle as the only trusted roots).

The write path (apiserver/objects.py) asks ``wants`` first: with no configuration stored,
that is one attribute test, so a cluster without webhooks pays nothing. Mutating webhooks
run one after another, each seeing the last one's patch; validating webhooks run at once.
A ``service`` client config is resolved to one ready endpoint of the Service, as
Kubernetes' endpoint service resolver does: the apiserver is a host process and is not on
the pod network's ClusterIP path; the certificate is still checked for
``NAME.NAMESPACE.svc``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from api.admission_review import (
    User,
    Verdict,
    WebhookCallError,
    apply_patch,
    call_failure,
    denial,
    read_response,
    review_request,
)
from api.errors import ApiError
from api.webhook_defaults import GROUP, SIDE_EFFECTS
from api.webhook_match import Match, Request, Webhook, match, might_match, parse_configuration
from apiserver.ids import new_uid
from apiserver.store import Event, Store

log = logging.getLogger("kubelab.apiserver.admission_webhooks")
Obj = dict[str, Any]

VALIDATING_KEY = f"{GROUP}/validatingwebhookconfigurations"
MUTATING_KEY = f"{GROUP}/mutatingwebhookconfigurations"
_KEYS = (VALIDATING_KEY, MUTATING_KEY)


def _ssl_context(bundle: bytes) -> ssl.SSLContext:
    if bundle:
        return ssl.create_default_context(cadata=bundle.decode("ascii", "replace"))
    return ssl.create_default_context()


class AdmissionWebhooks:
    """The webhook configurations in force, and the calls to their webhooks."""

    def __init__(
        self,
        store: Store,
        namespace_labels: Callable[[str], dict[str, str]],
        current_user: Callable[[], User | None] = lambda: None,
    ) -> None:
        self.store = store
        self.namespace_labels = namespace_labels
        self.current_user = current_user  # the user a write is made for (userInfo)
        self.mutating: tuple[Webhook, ...] = ()
        self.validating: tuple[Webhook, ...] = ()
        self.configured = False  # the hot path's only test when no webhook exists
        self._clients: dict[tuple[Any, ...], httpx.AsyncClient] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # pools being closed

    def start(self) -> None:
        self.refresh()
        self.store.add_listener(self._on_events)

    def stop(self) -> None:
        """Close every connection pool (in the background: the server is stopping)."""
        clients, self._clients = self._clients, {}
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for c in clients.values():
            self._tasks.add(task := loop.create_task(c.aclose()))
            task.add_done_callback(self._tasks.discard)

    # -- the configurations --------------------------------------------------------------

    def _load(self, key: str) -> tuple[Webhook, ...]:
        _, rows = self.store.list_raw(key, None)
        configs = sorted((orjson.loads(r) for r in rows), key=lambda c: c["metadata"]["name"])
        hooks: list[Webhook] = []
        for c in configs:
            try:
                hooks.extend(parse_configuration(c))
            except (ValueError, TypeError):  # stored before a check existed: logged, skipped
                log.exception("webhook configuration %s cannot be used", c["metadata"]["name"])
        return tuple(hooks)

    def refresh(self) -> None:
        """Reload both kinds (Kubernetes orders configurations by name)."""
        self.mutating = self._load(MUTATING_KEY)
        self.validating = self._load(VALIDATING_KEY)
        self.configured = bool(self.mutating or self.validating)
        live = {self._client_key(h) for h in (*self.mutating, *self.validating)}
        stale = [self._clients.pop(k) for k in list(self._clients) if k not in live]
        if stale:
            loop = asyncio.get_running_loop()  # pools exist only once a call ran on it
            for client in stale:
                self._tasks.add(task := loop.create_task(client.aclose()))
                task.add_done_callback(self._tasks.discard)

    def _on_events(self, events: list[Event]) -> None:
        if any(e.resource in _KEYS for e in events):
            self.refresh()

    def wants(self, operation: str, group: str, resource: str, subresource: str = "") -> bool:
        """Could a webhook be called for this write? (The configurations themselves are
        never sent to webhooks, as in Kubernetes: a broken webhook could not be removed.)"""
        if not self.configured or group == GROUP:
            return False
        return might_match(self.mutating, operation, group, resource, subresource) or (
            might_match(self.validating, operation, group, resource, subresource)
        )

    # -- admission -----------------------------------------------------------------------

    def _matches(
        self,
        hooks: tuple[Webhook, ...],
        req: Request,
        obj: Obj | None,
        old: Obj | None,
        equivalents: tuple[tuple[str, str], ...],
    ) -> list[Match]:
        labels = self.namespace_labels(req.namespace) if req.namespace else {}
        found = (match(h, req, labels, obj, old, equivalents) for h in hooks)
        return [m for m in found if m is not None]

    async def mutate(
        self,
        req: Request,
        obj: Obj | None,
        old: Obj | None,
        *,
        dry_run: bool,
        user: User | None,
        warnings: list[str] | None,
        equivalents: tuple[tuple[str, str], ...] = (),
    ) -> Obj | None:
        """``obj`` after every matching mutating webhook's patch, in order; a webhook with
        reinvocationPolicy IfNeeded is called once more if a later one changed the object.
        A DELETE (``obj`` None) is only asked: there is nothing to patch."""
        matches = self._matches(self.mutating, req, obj, old, equivalents)
        if obj is None:
            for m in matches:
                verdict = await self._call(m, req, None, old, dry_run, user, warnings)
                if verdict is not None and not verdict.allowed:
                    raise denial(m.webhook.name, verdict)
            return None
        reinvoke: list[Match] = []
        for m in matches:
            before = obj
            obj = await self._mutate_once(m, req, obj, old, dry_run, user, warnings)
            if obj is not before and obj != before:
                # A change: every IfNeeded webhook called before this one may want another look.
                reinvoke = [p for p in matches[: matches.index(m)] if _if_needed(p)]
        for m in reinvoke:
            obj = await self._mutate_once(m, req, obj, old, dry_run, user, warnings)
        return obj

    async def _mutate_once(
        self,
        m: Match,
        req: Request,
        obj: Obj,
        old: Obj | None,
        dry_run: bool,
        user: User | None,
        warnings: list[str] | None,
    ) -> Obj:
        verdict = await self._call(m, req, obj, old, dry_run, user, warnings)
        if verdict is None:
            return obj
        if not verdict.allowed:
            raise denial(m.webhook.name, verdict)
        if not verdict.patch:
            return obj
        return apply_patch(obj, verdict.patch, m.webhook.name)

    async def validate(
        self,
        req: Request,
        obj: Obj | None,
        old: Obj | None,
        *,
        dry_run: bool,
        user: User | None,
        warnings: list[str] | None,
        equivalents: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Every matching validating webhook, called at once; the first denial (in
        configuration order) is the answer."""
        matches = self._matches(self.validating, req, obj, old, equivalents)
        if not matches:
            return
        calls = [self._call(m, req, obj, old, dry_run, user, warnings) for m in matches]
        results = await asyncio.gather(*calls, return_exceptions=True)
        for m, result in zip(matches, results, strict=True):
            if isinstance(result, BaseException):
                raise result
            if result is not None and not result.allowed:
                raise denial(m.webhook.name, result)

    # -- the call ------------------------------------------------------------------------

    @staticmethod
    def _client_key(hook: Webhook) -> tuple[Any, ...]:
        return (hook.key, hook.client, hook.timeout_seconds)

    def _client(self, hook: Webhook) -> httpx.AsyncClient:
        key = self._client_key(hook)
        client = self._clients.get(key)
        if client is None:
            try:
                ctx = _ssl_context(hook.client.ca_bundle)
            except ssl.SSLError as e:
                raise WebhookCallError(f"invalid caBundle: {e}") from None
            client = httpx.AsyncClient(
                verify=ctx,
                timeout=hook.timeout_seconds,
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
            )
            self._clients[key] = client
        return client

    def _target(self, hook: Webhook) -> tuple[str, dict[str, Any], dict[str, str]]:
        """The URL to POST to, the request's extensions (the TLS server name for a
        Service) and extra headers."""
        cc = hook.client
        query = f"timeout={hook.timeout_seconds}s"
        if cc.url:
            return f"{cc.url}?{query}", {}, {}
        host, port = self._resolve(hook)
        shown = f"[{host}]" if ":" in host else host
        url = f"https://{shown}:{port}{cc.service_path or '/'}?{query}"
        return url, {"sni_hostname": cc.server_name}, {"Host": cc.server_name}

    def _resolve(self, hook: Webhook) -> tuple[str, int]:
        """A ready endpoint of the Service (Kubernetes' ResolveEndpoint): the Service port
        that is the webhook's port, then a random ready address of the endpoint port of
        the same name."""
        cc = hook.client
        ns, name = cc.service_namespace, cc.service_name
        svc = self.store.get("/services", ns, name)
        if svc is None:
            raise WebhookCallError(f'service "{name}" not found')
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return str(spec.get("externalName") or ""), cc.service_port
        svc_port = next(
            (p for p in spec.get("ports") or [] if int(p.get("port") or 0) == cc.service_port),
            None,
        )
        if svc_port is None:
            raise WebhookCallError(f'no service port {cc.service_port} found for service "{name}"')
        eps = self.store.get("/endpoints", ns, name)
        if eps is None:
            raise WebhookCallError(f'endpoints "{name}" not found')
        port_name = svc_port.get("name") or ""
        for subset in eps.get("subsets") or []:
            for p in subset.get("ports") or []:
                if (p.get("name") or "") != port_name:
                    continue
                addresses = [a.get("ip") for a in subset.get("addresses") or [] if a.get("ip")]
                if addresses:
                    return str(random.choice(addresses)), int(p["port"])
        raise WebhookCallError(f'no endpoints available for service "{name}"')

    async def _call(
        self,
        m: Match,
        req: Request,
        obj: Obj | None,
        old: Obj | None,
        dry_run: bool,
        user: User | None,
        warnings: list[str] | None,
    ) -> Verdict | None:
        """The webhook's verdict; None when it failed and its failurePolicy is Ignore."""
        hook = m.webhook
        if dry_run and hook.side_effects not in SIDE_EFFECTS:
            raise ApiError(400, f'admission webhook "{hook.name}" does not support dry run')
        uid = new_uid()
        review = review_request(uid, m, req, obj, old, user, dry_run)
        url = hook.client.url or f"https://{hook.client.server_name}:{hook.client.service_port}"
        try:
            async with asyncio.timeout(hook.timeout_seconds):
                target, extensions, headers = self._target(hook)
                url = target.partition("?")[0]
                resp = await self._client(hook).post(
                    target,
                    content=orjson.dumps(review),
                    headers={"Content-Type": "application/json", **headers},
                    extensions=extensions,
                )
            if resp.status_code != 200:
                raise WebhookCallError(
                    f"failed to call webhook: the server responded {resp.status_code}: "
                    f"{resp.text[:200]}"
                )
            verdict = read_response(resp.content, uid, hook.mutating)
        except TimeoutError:
            why = f'failed to call webhook: Post "{url}": context deadline exceeded'
            return self._failed(hook, why)
        except httpx.HTTPError as e:
            why = f'failed to call webhook: Post "{url}": {e or type(e).__name__}'
            return self._failed(hook, why)
        except WebhookCallError as e:
            return self._failed(hook, str(e))
        if warnings is not None:
            warnings.extend(verdict.warnings)
        return verdict

    @staticmethod
    def _failed(hook: Webhook, why: str) -> None:
        if hook.failure_policy == "Ignore":
            log.warning("failed calling webhook %s, failing open: %s", hook.name, why)
            return None
        raise call_failure(hook.name, why)


def _if_needed(m: Match) -> bool:
    return m.webhook.reinvocation_policy == "IfNeeded"
