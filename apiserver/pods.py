"""Subresources with behaviour of their own: binding, eviction, scale, namespace
finalize, and the log and exec proxies to a pod's kubelet."""

from __future__ import annotations

import copy
import ssl
from typing import Any

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from api.disruption import budgets_for
from api.errors import ApiError, Cause, bad_request, conflict, invalid, not_found
from api.gpus import shares_gpu
from api.registry import ResourceInfo, by_plural
from api.selectors import LabelSelector
from apiserver import eviction
from apiserver.bodies import decode_body, json_response, success_status
from apiserver.cluster_state import GPU_ANNOTATION, ClusterState
from apiserver.objects import ObjectService, WriteOptions, rfc3339, store_key
from apiserver.paths import Target
from apiserver.store import Store
from apiserver.webhook_writes import SubresourceView

PODS = by_plural("", "pods")
NODES = by_plural("", "nodes")
PDBS = by_plural("policy", "poddisruptionbudgets")
# What nodes/NAME/proxy/... reaches on a kubelet (its other endpoints have their own
# subresources: pods/log, pods/exec, pods/attach, pods/portforward).
NODE_PROXY_PATHS = ("metrics/resource", "healthz")


def _selector_string(sel: dict[str, Any] | None) -> str:
    if not sel:
        return ""
    try:
        return LabelSelector.from_dict(sel).to_string()
    except Exception:
        return ",".join(f"{k}={v}" for k, v in (sel.get("matchLabels") or {}).items())


def scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    """The autoscaling/v1 Scale view of a Deployment, ReplicaSet, StatefulSet or RC."""
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    selector = spec.get("selector")
    if obj.get("kind") == "ReplicationController" and isinstance(selector, dict):
        selector = {"matchLabels": selector}  # an RC's selector is a plain label map
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
            "creationTimestamp": meta.get("creationTimestamp"),
        },
        "spec": {"replicas": int(spec.get("replicas", 1))},
        "status": {
            "replicas": int(status.get("replicas") or 0),
            "selector": _selector_string(selector),
        },
    }


class PodSubresources:
    def __init__(
        self, store: Store, state: ClusterState, objects: ObjectService, kubelet_secret: str
    ):
        self.store = store
        self.state = state
        self.objects = objects
        self.kubelet_secret = kubelet_secret
        ctx = ssl.create_default_context()
        # Kubelets serve self-signed certificates; the shared secret authenticates us to
        # them, and their address comes from the Node object we store.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self._http = httpx.AsyncClient(verify=ctx, timeout=httpx.Timeout(30.0, read=None))

    # -- binding -------------------------------------------------------------------------

    async def bind(self, t: Target, body: Any, opts: WriteOptions) -> Response:
        if not isinstance(body, dict):
            raise bad_request("a Binding must be an object")
        target = body.get("target") or {}
        node = target.get("name") if isinstance(target, dict) else None
        if not node:
            raise invalid(
                "Binding", t.name, [Cause("target.name", "Required value: the node to bind to")]
            )
        ns = t.namespace or "default"
        assert PODS is not None
        body = await self.objects.admit_subresource_create(
            PODS, ns, t.name, "binding", _as_kind(body, "v1", "Binding", t.name), opts
        )
        meta = body.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        gpus = [u for u in str(annotations.get(GPU_ANNOTATION) or "").split(",") if u.strip()]

        def compute(pod: dict[str, Any] | None) -> dict[str, Any]:
            if pod is None:
                raise not_found("pods", t.name)
            if meta.get("uid") and meta["uid"] != pod["metadata"].get("uid"):
                raise conflict("pods", t.name)
            spec = pod.setdefault("spec", {})
            if spec.get("nodeName"):
                raise ApiError(
                    409,
                    f'pod {t.name} is already assigned to node "{spec["nodeName"]}"',
                    "Conflict",
                    name=t.name,
                    kind="pods",
                )
            if pod["metadata"].get("deletionTimestamp"):
                raise ApiError(
                    409, f"pod {t.name} is being deleted; it cannot be bound", "Conflict"
                )
            self.state.check_gpus_free(ns, t.name, node, gpus, shared=shares_gpu(pod))
            spec["nodeName"] = node
            if annotations:
                pod["metadata"].setdefault("annotations", {}).update(
                    {k: str(v) for k, v in annotations.items()}
                )
            status = pod.setdefault("status", {})
            conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            conds.append(
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": rfc3339(),
                }
            )
            status["conditions"] = conds
            return pod

        await self.objects._write(PODS, ns, t.name, compute, opts)
        return json_response(success_status("pods", t.name), 201)

    # -- eviction ------------------------------------------------------------------------

    async def evict(self, t: Target, body: Any, opts: WriteOptions) -> Response:
        """Delete the pod unless that would break its PodDisruptionBudget (429)."""
        assert PODS is not None and PDBS is not None
        grace = None
        if isinstance(body, dict):
            body = await self.objects.admit_subresource_create(
                PODS,
                t.namespace or "default",
                t.name,
                "eviction",
                _as_kind(body, "policy/v1", "Eviction", t.name),
                opts,
            )
            do = body.get("deleteOptions") or {}
            if isinstance(do.get("gracePeriodSeconds"), int):
                grace = do["gracePeriodSeconds"]
        ns = t.namespace or "default"
        pod = self._pod(t)
        if not eviction.ignores_budgets(pod):
            pdbs = budgets_for(pod, eviction.stored_budgets(self.store, ns))
            if len(pdbs) > 1:
                raise ApiError(
                    500,
                    "This pod has more than one PodDisruptionBudget, which the eviction "
                    "subresource does not support.",
                    "InternalError",
                )
            if pdbs and not eviction.unhealthy_may_go(pod, pdbs[0]):
                take = eviction.take_disruption(t.name, opts.dry_run)
                await self.objects._write(PDBS, ns, pdbs[0]["metadata"]["name"], take, opts)
        await self.objects.delete(PODS, t.name, t.namespace, opts, None, grace)
        return json_response(success_status("pods", t.name), 201)

    # -- scale ---------------------------------------------------------------------------

    def get_scale(self, t: Target) -> Response:
        """GET .../scale: the Scale view of the object."""
        info = t.info
        obj = self.store.get(store_key(info), t.namespace or "default", t.name)
        if obj is None:
            raise not_found(info.plural, t.name, info.group)
        return json_response(scale_of(obj))

    async def write_scale(
        self, method: str, t: Target, ct: str, raw: bytes, opts: WriteOptions
    ) -> Response:
        """PUT or PATCH .../scale with the request's body ``raw`` of content type ``ct``."""
        info = t.info
        ns = t.namespace or "default"
        if method == "PUT":
            body = decode_body(raw, ct)
            replicas = _scale_replicas(body)
            want_rv = (
                ((body.get("metadata") or {}).get("resourceVersion"))
                if isinstance(body, dict)
                else None
            )

            def apply(cur: dict[str, Any]) -> dict[str, Any]:
                if want_rv and want_rv != cur["metadata"].get("resourceVersion"):
                    raise conflict(info.plural, t.name, info.group)
                return _with_replicas(info, cur, replicas)
        elif method == "PATCH":
            from api.patch import PatchError, UnsupportedPatchType, apply_patch

            patch_body = decode_body(raw, "application/json")

            def apply(cur: dict[str, Any]) -> dict[str, Any]:
                try:
                    new_scale = apply_patch(scale_of(cur), patch_body, ct, "Scale")
                except UnsupportedPatchType as exc:
                    raise ApiError(415, str(exc), "UnsupportedMediaType") from exc
                except PatchError as exc:
                    if exc.code == 400:
                        raise bad_request(f"the patch is malformed: {exc}") from exc
                    raise invalid("Scale", t.name, [Cause("", str(exc))]) from exc
                return _with_replicas(info, cur, _scale_replicas(new_scale))
        else:
            raise ApiError(405, f"{method} is not allowed on scale", "MethodNotAllowed")
        view = SubresourceView(
            scale_of, lambda obj, scale: _with_replicas(info, obj, _scale_replicas(scale))
        )
        out, _ = await self.objects.patch(
            info, t.name, ns, apply, opts, subresource="scale", view=view
        )
        return json_response(scale_of(out))

    # -- namespaces ----------------------------------------------------------------------

    async def finalize_namespace(
        self, info: ResourceInfo, name: str, body: Any, opts: WriteOptions
    ) -> dict[str, Any]:
        """PUT namespaces/NAME/finalize: set spec.finalizers; an empty list lets it go."""
        fins = ((body or {}).get("spec") or {}).get("finalizers") or []

        def apply(cur: dict[str, Any]) -> dict[str, Any]:
            cur.setdefault("spec", {})["finalizers"] = list(fins)
            return cur

        out, _ = await self.objects.patch(info, name, None, apply, opts)
        return out

    # -- kubelet proxies -----------------------------------------------------------------

    def _kubelet_url(self, pod: dict[str, Any]) -> str:
        node_name = (pod.get("spec") or {}).get("nodeName")
        name = pod["metadata"]["name"]
        if not node_name:
            raise ApiError(
                400,
                f'pod "{name}" is not scheduled to a node yet: wait until it is bound',
                "BadRequest",
            )
        node = self.store.get("/nodes", "", node_name)
        if node is None:
            raise ApiError(
                503, f'node "{node_name}" of pod "{name}" is not registered', "ServiceUnavailable"
            )
        return self._node_url(node)

    def _node_url(self, node: dict[str, Any]) -> str:
        node_name = node["metadata"]["name"]
        status = node.get("status") or {}
        addr = next(
            (
                a.get("address")
                for a in status.get("addresses") or []
                if a.get("type") == "InternalIP"
            ),
            None,
        ) or next((a.get("address") for a in status.get("addresses") or []), None)
        port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
        if not addr or not port:
            raise ApiError(
                503,
                f'node "{node_name}" does not advertise a kubelet address and port',
                "ServiceUnavailable",
            )
        scheme = (
            (node["metadata"].get("annotations") or {}).get("kubelab.io/kubelet-scheme")
        ) or "https"
        host = f"[{addr}]" if ":" in str(addr) else addr
        return f"{scheme}://{host}:{port}"

    async def node_proxy(self, t: Target) -> Response:
        """GET nodes/NAME/proxy/PATH: the node kubelet's resource metrics or health (what
        a Prometheus scrapes through the apiserver, ``kubectl get --raw``)."""
        if t.proxy_path not in NODE_PROXY_PATHS:
            raise ApiError(
                404,
                f'the kubelet proxy of node "{t.name}" serves '
                f"{' and '.join(NODE_PROXY_PATHS)} only, not /{t.proxy_path}",
                "NotFound",
            )
        node = self.store.get("/nodes", "", t.name)
        if node is None:
            raise not_found("nodes", t.name)
        base = self._node_url(node)
        headers = {"Authorization": f"Bearer {self.kubelet_secret}"}
        try:
            resp = await self._http.get(
                f"{base}/{t.proxy_path}", params={"node": t.name}, headers=headers
            )
        except httpx.HTTPError as exc:
            raise ApiError(
                503,
                f"cannot reach the kubelet of node {t.name} at {base}: {exc}; "
                "check that its kubelet is running",
                "ServiceUnavailable",
            ) from exc
        if resp.status_code >= 400:
            try:
                raise ApiError.from_status(orjson.loads(resp.content), resp.status_code)
            except orjson.JSONDecodeError:
                raise ApiError(resp.status_code, resp.text[:500]) from None
        return Response(resp.content, media_type=resp.headers.get("content-type", "text/plain"))

    def _container(self, pod: dict[str, Any], requested: str | None) -> str:
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        inits = [c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []]
        if requested:
            if requested not in containers + inits:
                also = f" or one of the init containers: [{' '.join(map(str, inits))}]"
                raise bad_request(
                    f"container {requested} is not valid for pod {pod['metadata']['name']}: "
                    f"choose one of [{' '.join(str(c) for c in containers)}]"
                    + (also if inits else "")
                )
            return requested
        if len(containers) != 1:
            raise bad_request(
                f"a container name must be specified for pod {pod['metadata']['name']}, choose "
                f"one of: [{' '.join(str(c) for c in containers)}]"
            )
        return str(containers[0])

    def _pod(self, t: Target) -> dict[str, Any]:
        pod = self.store.get("/pods", t.namespace or "default", t.name)
        if pod is None:
            raise not_found("pods", t.name)
        return pod

    async def log(self, request: Request, t: Target) -> Response:
        pod = self._pod(t)
        q = request.query_params
        container = self._container(pod, q.get("container"))
        base = self._kubelet_url(pod)
        params = {
            k: v
            for k, v in q.items()
            if k in ("follow", "tailLines", "previous", "timestamps", "sinceSeconds", "limitBytes")
        }
        url = f"{base}/containerLogs/{pod['metadata']['namespace']}/{t.name}/{container}"
        headers = {"Authorization": f"Bearer {self.kubelet_secret}"}
        try:
            req = self._http.build_request("GET", url, params=params, headers=headers)
            resp = await self._http.send(req, stream=True)
        except httpx.HTTPError as exc:
            raise ApiError(
                503,
                f"cannot reach the kubelet of node {pod['spec'].get('nodeName')} at {base}: {exc}; "
                "check that its kubelet is running",
                "ServiceUnavailable",
            ) from exc
        if resp.status_code >= 400:
            body = await resp.aread()
            await resp.aclose()
            try:
                status = orjson.loads(body)
                raise ApiError.from_status(status, resp.status_code)
            except orjson.JSONDecodeError:
                raise ApiError(resp.status_code, body.decode(errors="replace")[:500]) from None

        async def chunks() -> Any:
            try:
                async for chunk in resp.aiter_raw():
                    yield chunk
            finally:
                await resp.aclose()

        return StreamingResponse(chunks(), media_type="text/plain")

    async def exec(self, request: Request, t: Target, raw: bytes) -> Response:
        pod = self._pod(t)
        q = request.query_params
        container = self._container(pod, q.get("container"))
        command = q.getlist("command")
        if raw.strip():
            body = decode_body(raw, request.headers.get("content-type", ""))
            if isinstance(body, dict) and body.get("command"):
                command = list(body["command"])
        if not command:
            raise bad_request("exec needs a command: kl exec POD -- CMD ...")
        base = self._kubelet_url(pod)
        url = f"{base}/exec/{pod['metadata']['namespace']}/{t.name}/{container}"
        try:
            resp = await self._http.post(
                url,
                json={"command": command},
                headers={"Authorization": f"Bearer {self.kubelet_secret}"},
                timeout=300,
            )
        except httpx.HTTPError as exc:
            raise ApiError(
                503,
                f"cannot reach the kubelet at {base}: {exc}; check that its kubelet is running",
                "ServiceUnavailable",
            ) from exc
        return Response(resp.content, resp.status_code, media_type="application/json")


def _scale_replicas(scale: Any) -> Any:
    """``spec.replicas`` of a Scale body as sent (None where the body has no such field,
    for _with_replicas to refuse): a spec that is not an object is no reason for a 500."""
    spec = scale.get("spec") if isinstance(scale, dict) else None
    return spec.get("replicas") if isinstance(spec, dict) else None


def _with_replicas(info: ResourceInfo, cur: dict[str, Any], replicas: Any) -> dict[str, Any]:
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise invalid(
            "Scale",
            cur["metadata"]["name"],
            [Cause("spec.replicas", f"Invalid value: {replicas!r}: must be a whole number >= 0")],
        )
    out = copy.deepcopy(cur)
    out.setdefault("spec", {})["replicas"] = replicas
    return out


def _as_kind(body: dict[str, Any], api_version: str, kind: str, name: str) -> dict[str, Any]:
    """The subresource's body as the object webhooks are sent (kubectl's Eviction may
    arrive without its kind; the name is the pod's)."""
    out = dict(body)
    out.setdefault("apiVersion", api_version)
    out.setdefault("kind", kind)
    meta = dict(out.get("metadata") or {})
    meta.setdefault("name", name)
    out["metadata"] = meta
    return out
