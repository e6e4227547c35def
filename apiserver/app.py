"""The FastAPI application: discovery, OpenAPI, health, and the resource paths."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from api.defaults import DEFAULT_TOLERATION_SECONDS
from api.errors import ApiError
from apiserver import discovery, join, openapi
from apiserver.admission_webhooks import AdmissionWebhooks
from apiserver.audit import NONE as AUDIT_NONE
from apiserver.audit import AuditLog
from apiserver.audit import load_policy as load_audit_policy
from apiserver.auth import TokenAuthenticator, User
from apiserver.authz import Authorizer, request_verb
from apiserver.bodies import json_response, raw_json_response, status_response
from apiserver.cluster_state import ALWAYS_NAMESPACES, ClusterState
from apiserver.crds import CustomResources
from apiserver.custom_metrics_api import GROUP as CUSTOM_METRICS_GROUP
from apiserver.custom_metrics_api import CustomMetricsApi
from apiserver.dashboard_files import DashboardFiles, is_dashboard_path
from apiserver.encryption import load_config as load_encryption
from apiserver.flowcontrol import FlowControl
from apiserver.ingress_bootstrap import ensure_kubelab_ingress_class
from apiserver.join_approval import JoinRequests
from apiserver.metrics_api import GROUP as METRICS_GROUP
from apiserver.metrics_api import MetricsApi
from apiserver.objects import ObjectService, WriteOptions
from apiserver.paths import Target, parse_resource_path
from apiserver.pod_bridge import PodBridgeListener
from apiserver.pods import PodSubresources
from apiserver.priority_bootstrap import ensure_system_priority_classes
from apiserver.rbac_bootstrap import ensure_bootstrap_policy
from apiserver.rbac_escalation import EscalationCheck, acting_as, acting_review_user
from apiserver.rbac_file import FILE_LABEL, RbacFileSync
from apiserver.rbac_index import RbacIndex
from apiserver.rbac_reviews import REVIEW_GROUPS, Reviews
from apiserver.rest import ResourceHandler
from apiserver.sa_tokens import BoundTokens, TokenSigner
from apiserver.service_ips import DEFAULT_SERVICE_CIDR
from apiserver.service_ips_bootstrap import (
    assign_missing_cluster_ips,
    endpoint_address,
    ensure_kubernetes_service,
    keep_kubernetes_service,
    unreachable_from_pods,
)
from apiserver.storage_bootstrap import ensure_local_path_class
from apiserver.store import Store
from apiserver.streaming import StreamProxy
from apiserver.watch import WatchHub

log = logging.getLogger("kubelab.apiserver")

DISCOVERY_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
PUBLIC_PATHS = {"/version", "/version/", "/healthz", "/readyz", "/livez"}


@dataclass
class ServerConfig:
    home: Path
    db_url: str
    tokens_file: Path
    kubelet_secret: str
    server_address: str = "127.0.0.1:6443"
    keep_revisions: int = 1000
    rbac_file: Path | None = None
    # Tolerations of a not-ready / unreachable node that every new Pod gets (seconds).
    not_ready_toleration_seconds: int = DEFAULT_TOLERATION_SECONDS
    unreachable_toleration_seconds: int = DEFAULT_TOLERATION_SECONDS
    # ClusterIPs come from here; the kubernetes Service's Endpoints point at
    # advertise_address (default: server_address's host) on server_address's port.
    service_cidr: str = DEFAULT_SERVICE_CIDR
    advertise_address: str = ""
    kubernetes_service_period: float = 10.0  # how often the kubernetes Service is put back
    # Kubernetes' EncryptionConfiguration for what is stored (apiserver/encryption.py);
    # None: nothing encrypted (in-process tests).
    encryption_config: Path | None = None
    # The audit log (apiserver/audit.py): where, with which policy (None: the default one),
    # rotated at audit_max_mb; audit_path None: no audit log (in-process tests).
    audit_path: Path | None = None
    # Each non-system user's share of the API (apiserver/flowcontrol.py).
    max_requests_per_user: int = 32
    max_watches_per_user: int = 200
    flow_queue_wait: float = 1.0
    audit_policy: Path | None = None
    audit_max_mb: int = 100
    audit_backups: int = 3
    # Also serve on a node's pod-bridge address and advertise it as the kubernetes
    # Endpoints (apiserver/pod_bridge.py); None: pods reach the API at advertise_address.
    pod_bridge: PodBridgeListener | None = None
    # The dashboard's static files, served at /dashboard/ (apiserver/dashboard_files.py);
    # None: no dashboard.
    dashboard_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ApiServer:
    """The running server's parts, reachable from tests and the launcher."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        encryption = load_encryption(config.encryption_config) if config.encryption_config else None
        self.store = Store(
            config.db_url, keep_revisions=config.keep_revisions, encryption=encryption
        )
        self.state = ClusterState(config.service_cidr)
        self._keeper: asyncio.Task[None] | None = None  # keeps the kubernetes Service
        self._kubernetes: tuple[ObjectService, str, str, int] | None = None
        self._bridge: asyncio.Task[None] | None = None  # listens on the pod bridge
        self.hub = WatchHub(self.store)
        self.objects = ObjectService(
            self.store,
            self.state,
            (config.not_ready_toleration_seconds, config.unreachable_toleration_seconds),
        )
        self.pods = PodSubresources(self.store, self.state, self.objects, config.kubelet_secret)
        self.rest = ResourceHandler(self.store, self.hub, self.objects, self.pods)
        self.crds = CustomResources(self.store, self.objects)  # kinds served from CRDs
        self.webhooks = AdmissionWebhooks(
            self.store, lambda ns: self.state.namespace_labels.get(ns, {}), acting_review_user
        )
        self.objects.use_webhooks(self.webhooks)
        # ServiceAccount tokens (TokenRequest) signed with the cluster's own key.
        signer = TokenSigner.for_home(config.home)
        self.rest.token_signer = signer
        self.authn = TokenAuthenticator(config.tokens_file, BoundTokens(signer, self.store))
        self.rbac = RbacIndex()
        self.dashboard = DashboardFiles(config.dashboard_dir) if config.dashboard_dir else None
        self.rbac_file = RbacFileSync(
            config.rbac_file, self.objects, lambda: self.rbac.labelled_bindings(FILE_LABEL)
        )
        self.authz = Authorizer(self.rbac, self.rbac_file, self.store)
        self.state.write_checks.append(EscalationCheck(self.authz))
        self.join_requests = JoinRequests(self.objects, self.store)
        self.reviews = Reviews(self.authn, self.authz, self.rest.read_body)
        self.streams = StreamProxy(self.authn, self.authz, self.pods, config.kubelet_secret)
        self.flow = FlowControl(
            config.max_requests_per_user, config.max_watches_per_user, config.flow_queue_wait
        )
        self.metrics = MetricsApi()
        self.custom_metrics = CustomMetricsApi(self.metrics.fresh_reports, self._node_labels)
        self.audit: AuditLog | None = None
        if config.audit_path is not None:
            self.audit = AuditLog(
                load_audit_policy(config.audit_policy),
                config.audit_path,
                config.audit_max_mb,
                config.audit_backups,
            )

    async def start(self) -> None:
        self.store.start(asyncio.get_running_loop())
        self.state.rebuild(self.store)
        self.crds.start()
        self.webhooks.start()
        from api.registry import by_plural

        ns_info = by_plural("", "namespaces")
        assert ns_info is not None
        for ns in ALWAYS_NAMESPACES:
            if ns not in self.state.namespaces:
                obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
                try:
                    await self.objects.create(
                        ns_info, obj, None, WriteOptions(field_validation="Ignore")
                    )
                except ApiError as exc:
                    if exc.code != 409:
                        raise
        await ensure_system_priority_classes(self.objects, self.state.priority_classes)
        host, _, port = self.config.server_address.rpartition(":")
        kubernetes = (
            self.objects,
            self.state.service_ips.kubernetes_ip,
            self.config.advertise_address or endpoint_address(host.strip("[]")),
            int(port),
        )
        await ensure_kubernetes_service(*kubernetes)
        why = unreachable_from_pods(kubernetes[2])
        if why and self.config.pod_bridge is None:
            log.warning("%s", why)
        await assign_missing_cluster_ips(self.objects)
        self._kubernetes = kubernetes
        self._keeper = asyncio.create_task(
            keep_kubernetes_service(*kubernetes, period=self.config.kubernetes_service_period)
        )
        if self.config.pod_bridge is not None:
            self._bridge = asyncio.create_task(self._serve_pod_bridge(self.config.pod_bridge))
        await ensure_local_path_class(self.objects, self.state.storage_classes)
        await ensure_kubelab_ingress_class(self.objects, self.store)
        self.rbac.load(self.store)
        await ensure_bootstrap_policy(self.objects, self.rbac.has)
        await self.rbac_file.refresh()
        # Everything loaded so far lives as long as the server: keep the cyclic garbage
        # collector from walking it again and again (long GC pauses show up as p99).
        gc.collect()
        gc.freeze()

    async def _serve_pod_bridge(self, bridge: PodBridgeListener) -> None:
        """Listen on the node's pod bridge once it is known; the kubernetes Endpoints
        then point there, so pods reach the API."""
        address = await bridge.start(self.store)
        assert self._kubernetes is not None  # set by start() before this task
        objects, cluster_ip, _, _ = self._kubernetes
        self._kubernetes = (objects, cluster_ip, address, bridge.port)
        await ensure_kubernetes_service(*self._kubernetes)
        if self._keeper is not None:
            self._keeper.cancel()
        self._keeper = asyncio.create_task(
            keep_kubernetes_service(*self._kubernetes, period=self.config.kubernetes_service_period)
        )

    def stop(self) -> None:
        if self._bridge is not None:
            self._bridge.cancel()
        if self.config.pod_bridge is not None:
            self.config.pod_bridge.stop()
        if self._keeper is not None:
            self._keeper.cancel()
        self.crds.stop()
        self.webhooks.stop()
        self.store.stop()
        if self.audit is not None:
            self.audit.close()

    def _node_lease(self, node: str) -> dict[str, Any] | None:
        """The heartbeat Lease of node ``node`` (kube-node-lease/NAME), if there is one."""
        return self.store.get("coordination.k8s.io/leases", "kube-node-lease", node)

    async def dispatch(self, request: Request) -> Response:
        if self.dashboard is not None and is_dashboard_path(request.scope["path"]):
            return await self.dashboard.respond(request)  # files only: no data, no audit
        if self.audit is None:
            return await self._dispatch(request)
        received = time.time()
        response = await self._dispatch(request)
        self._audit(request, response, received)
        return response

    def _audit(self, request: Request, response: Response, received: float) -> None:
        """One audit event for a request that has its answer, when the policy wants it."""
        assert self.audit is not None
        scope = request.scope
        user: User | None = scope.get("kubelab.user")
        target: Target | None = scope.get("kubelab.target")
        verb = request_verb(request, target) if target else request.method.lower()
        name = user.name if user else "system:anonymous"
        groups = list(user.groups) if user else ["system:unauthenticated"]
        level = self.audit.level(name, groups, verb, target)
        if level == AUDIT_NONE:
            return
        if user is None and level != "Metadata":
            level = "Metadata"  # never keep what an unauthenticated caller sent
        client = scope.get("client")
        query = scope.get("query_string") or b""
        self.audit.record(
            level=level,
            user=name,
            groups=groups,
            verb=verb,
            target=target,
            uri=scope["path"] + ("?" + query.decode("latin-1") if query else ""),
            source_ip=client[0] if client else "",
            user_agent=request.headers.get("user-agent", ""),
            code=response.status_code,
            received=received,
            body=scope.get("kubelab.body"),
            streaming=verb == "watch",
        )

    async def _dispatch(self, request: Request) -> Response:
        path = request.scope["path"]  # request.url would parse and rebuild the whole URL
        try:
            user: User | None = None
            if path not in PUBLIC_PATHS:
                # issue 8: joining a node authenticates with a bootstrap token instead
                if path.startswith(join.PREFIX):
                    return await join.handle(
                        self.config.home, request, path, self._node_lease, self.join_requests
                    )
                user = self.authn.authenticate(request.headers.get("authorization"))
                request.scope["kubelab.user"] = user  # for the audit log
                if "impersonate-user" in request.headers or "impersonate-group" in request.headers:
                    # Answering as the caller would act with the wrong identity (kubectl --as).
                    raise ApiError(
                        403,
                        "impersonation (Impersonate-User, kubectl --as) is not supported by "
                        "kubelab: use that user's own kubeconfig, or ask with a "
                        "SubjectAccessReview",
                        "Forbidden",
                    )
            special = self._special(request, path)
            if special is not None:
                return special
            target = parse_resource_path(path)
            if target is None:
                raise ApiError(
                    404, f"the server could not find the requested resource {path}", "NotFound"
                )
            assert user is not None
            request.scope["kubelab.target"] = target  # for the audit log
            verb = request_verb(request, target)
            if verb == "watch" and target.info.group not in (METRICS_GROUP, CUSTOM_METRICS_GROUP):
                return await self._watch(request, target, user)
            async with self.flow.request(user.name, user.groups):
                await self.authz.authorize(user, request, target)
                if target.info.group in REVIEW_GROUPS:
                    return await self.reviews.handle(request, target, user)
                if target.info.group == METRICS_GROUP:
                    node = user.name[len("system:node:") :] if "system:nodes" in user.groups else ""
                    return await self.metrics.handle(request, target, verb, node)
                if target.info.group == CUSTOM_METRICS_GROUP:
                    return await self.custom_metrics.handle(request, target, verb)
                with acting_as(user):
                    return await self.rest.handle(request, target)
        except ApiError as err:
            return status_response(err)
        except Exception as exc:  # a bug: answer with a Status, keep serving
            log.exception("internal error on %s %s", request.method, path)
            return status_response(
                ApiError(500, f"internal error: {type(exc).__name__}: {exc}", "InternalError")
            )

    async def _watch(self, request: Request, target: Target, user: User) -> Response:
        """A watch counts against its user's open watches until its stream ends."""
        counted = self.flow.open_watch(user.name, user.groups)
        try:
            await self.authz.authorize(user, request, target)
            with acting_as(user):
                response = await self.rest.handle(request, target)
        except BaseException:
            if counted:
                self.flow.close_watch(user.name)
            raise
        if not counted:
            return response
        if not isinstance(response, StreamingResponse):
            self.flow.close_watch(user.name)
            return response
        inner = response.body_iterator

        async def counted_stream() -> AsyncIterator[Any]:
            try:
                async for chunk in inner:
                    yield chunk
            finally:
                self.flow.close_watch(user.name)

        response.body_iterator = counted_stream()
        return response

    def _node_labels(self, name: str) -> dict[str, str]:
        node = self.store.get("/nodes", "", name) or {}
        return dict((node.get("metadata") or {}).get("labels") or {})

    def _special(self, request: Request, path: str) -> Response | None:
        p = path.rstrip("/") or "/"
        if request.method != "GET":
            return None
        if p == "/version":
            return json_response(discovery.version_info())
        if p in ("/healthz", "/readyz", "/livez"):
            return PlainTextResponse("ok")
        if p == "/api":
            if "apidiscovery.k8s.io" in request.headers.get(
                "accept", ""
            ) and "v=v2;" in request.headers.get("accept", ""):
                return Response(
                    orjson.dumps(discovery.aggregated_discovery(core=True)),
                    media_type=DISCOVERY_V2,
                )
            return json_response(discovery.api_versions(self.config.server_address))
        if p == "/apis":
            if "apidiscovery.k8s.io" in request.headers.get(
                "accept", ""
            ) and "v=v2;" in request.headers.get("accept", ""):
                return Response(
                    orjson.dumps(discovery.aggregated_discovery(core=False)),
                    media_type=DISCOVERY_V2,
                )
            return json_response(discovery.api_group_list())
        parts = p.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            rl = discovery.api_resource_list("", parts[1])
            if rl is None:
                raise ApiError(404, f"the server does not serve {path}", "NotFound")
            return json_response(rl)
        if parts[0] == "apis" and len(parts) in (2, 3):
            if len(parts) == 2:
                groups = [g for g in discovery.api_group_list()["groups"] if g["name"] == parts[1]]
                if not groups:
                    raise ApiError(
                        404, f"the server does not serve the API group {parts[1]}", "NotFound"
                    )
                return json_response({"kind": "APIGroup", "apiVersion": "v1", **groups[0]})
            rl = discovery.api_resource_list(parts[1], parts[2])
            if rl is None:
                raise ApiError(404, f"the server does not serve {parts[1]}/{parts[2]}", "NotFound")
            return json_response(rl)
        if p == "/openapi/v2":
            accept = request.headers.get("accept", "")
            if not openapi.v2_accepts_json(accept):
                if not openapi.v2_accepts_protobuf(accept):
                    raise ApiError(
                        406,
                        "only the following media types are accepted: application/json, "
                        + openapi.OPENAPI_V2_PROTOBUF,
                    )
                # No definitions in this form (apiserver/openapi.py says why).
                return Response(
                    openapi.V2_PROTOBUF_SKELETON, media_type=openapi.OPENAPI_V2_PROTOBUF_REPLY
                )
            return raw_json_response(openapi.openapi_v2_json())
        if p == "/openapi/v3":
            return json_response(openapi.openapi_v3_root())
        if p.startswith("/openapi/v3/"):
            doc = openapi.openapi_v3_document_json(p[len("/openapi/v3/") :])
            if doc is None:
                raise ApiError(404, f"no OpenAPI document for {p}", "NotFound")
            return raw_json_response(doc)
        return None


async def _http_exception_status(_request: Request, exc: Exception) -> Response:
    code = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    if code == 405:
        return status_response(
            ApiError(405, "the server does not allow this method on the requested resource")
        )
    detail = exc.detail if isinstance(exc, StarletteHTTPException) else str(exc)
    return status_response(ApiError(code, str(detail)))


def create_app(config: ServerConfig) -> FastAPI:
    """The ASGI application for ``config``; the store starts with the app."""
    server = ApiServer(config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        await server.start()
        try:
            yield
        finally:
            server.stop()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    app.state.server = server
    # What the hand-made routing never sees (a method it does not serve, such as OPTIONS)
    # is still answered with a Status, by the same function as every other failure.
    app.add_exception_handler(StarletteHTTPException, _http_exception_status)
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    # One Starlette route for everything: the REST paths are parsed by hand, which is both
    # faster than FastAPI's per-route dependency injection and closer to how kube routes.
    app.router.add_route("/{path:path}", server.dispatch, methods=methods)
    # WebSockets (pods/exec, pods/attach) reach the app past DirectDispatch: one route too.
    app.router.add_websocket_route("/{path:path}", server.streams.handle)
    return app
