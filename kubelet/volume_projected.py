"""``projected`` volumes: one directory made of several sources, as the Kubernetes kubelet
writes them: ``serviceAccountToken`` (a bound token the kubelet requests for the pod
through the TokenRequest API and renews), ``configMap``, ``secret`` and ``downwardAPI``
(pod fields). The files are written by kubelet/volumes.py like a ConfigMap's.

A token is requested bound to the pod (name and uid), so it stops working once the pod is
gone, and renewed once 80 % of its lifetime has passed (or after 24 h), as the kubelet's
token manager does; the volume refresh (kubelet/volume_refresh.py) rewrites the file.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.errors import ApiError
from kubelet.envvars import EnvError, configmap_items, field_ref, secret_items

DEFAULT_TOKEN_SECONDS = 3600
MAX_TOKEN_AGE = 24 * 3600.0  # renew at least daily, whatever the lifetime

Obj = dict[str, Any]


class ProjectionError(Exception):
    """A source of a projected volume cannot be written; the message names it."""


class MissingSource(ProjectionError):
    """A ConfigMap or Secret the volume projects does not exist (and is not optional)."""

    def __init__(self, source: str, name: str) -> None:
        super().__init__(f'{source} "{name}" not found')
        self.source = source
        self.name = name


class TokenUnavailable(Exception):
    """The API refused a token for the volume; ``why`` is its answer."""

    def __init__(self, volume: str, why: str) -> None:
        super().__init__(why)
        self.volume = volume
        self.why = why


@dataclass(frozen=True)
class IssuedToken:
    token: str
    issued: float  # wall-clock seconds
    expires: float

    def due(self, now: float) -> bool:
        """Renew once 80 % of the lifetime has passed, or the token is a day old."""
        age = now - self.issued
        return age >= 0.8 * (self.expires - self.issued) or age >= MAX_TOKEN_AGE


def _sources(pod: Obj) -> list[tuple[str, Obj]]:
    """(volume name, source) of every projected source of the pod."""
    out: list[tuple[str, Obj]] = []
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        for src in ((vol.get("projected") or {}).get("sources")) or []:
            out.append((str(vol.get("name", "")), src or {}))
    return out


def token_key(volume: str, source: Obj) -> str:
    return f"{volume}/{source.get('path', '')}"


def token_sources(pod: Obj) -> list[tuple[str, Obj]]:
    """(key, serviceAccountToken source) of every token the pod's volumes need."""
    return [
        (token_key(v, s["serviceAccountToken"]), s["serviceAccountToken"])
        for v, s in _sources(pod)
        if s.get("serviceAccountToken")
    ]


def token_request(pod: Obj, source: Obj) -> Obj:
    """The TokenRequest the kubelet sends for one source: bound to this pod."""
    meta = pod["metadata"]
    audience = source.get("audience")
    return {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {
            "audiences": [audience] if audience else [],
            "expirationSeconds": int(source.get("expirationSeconds") or DEFAULT_TOKEN_SECONDS),
            "boundObjectRef": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": meta["name"],
                "uid": meta["uid"],
            },
        },
    }


def issued_token(answer: Obj, now: float) -> IssuedToken:
    """The token of an answered TokenRequest."""
    status = answer.get("status") or {}
    expires = datetime.fromisoformat(str(status["expirationTimestamp"]).replace("Z", "+00:00"))
    return IssuedToken(str(status["token"]), now, expires.timestamp())


async def pod_tokens(client: Any, pod: Obj, cache: dict[str, IssuedToken]) -> dict[str, str]:
    """The token of each serviceAccountToken source (key: ``volume/path``), requested from
    the API when ``cache`` has none or it is due for renewal; ``cache`` is updated."""
    account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
    namespace = pod["metadata"].get("namespace") or "default"
    out: dict[str, str] = {}
    for key, source in token_sources(pod):
        now = time.time()
        held = cache.get(key)
        if held is None or held.due(now):
            try:
                answer = await client.create(
                    "serviceaccounts",
                    token_request(pod, source),
                    namespace,
                    subresource="token",
                    name=account,
                )
            except ApiError as e:
                if held is not None and held.expires > now:
                    out[key] = held.token  # renew later; the current one still works
                    continue
                raise TokenUnavailable(key.split("/")[0], e.message) from e
            held = cache[key] = issued_token(answer, now)
        out[key] = held.token
    return out


def projected_files(
    volume: Obj,
    pod: Obj,
    configmaps: Mapping[str, Obj | None],
    secrets: Mapping[str, Obj | None],
    tokens: Mapping[str, str],
) -> tuple[dict[str, bytes], Obj]:
    """Every file of one projected volume: (content by relative path, a ConfigMap-style
    volume spec with ``items`` giving each path its mode), for kubelet/volumes.py."""
    name = str(volume.get("name", ""))
    projected = volume.get("projected") or {}
    default_mode = int(projected.get("defaultMode", 0o644))
    files: dict[str, bytes] = {}
    modes: dict[str, int] = {}

    def put(path: str, data: bytes, mode: Any = None) -> None:
        files[path] = data
        modes[path] = int(mode) if mode is not None else default_mode

    def keyed(items_by_key: dict[str, bytes], src: Obj, what: str, obj_name: str) -> None:
        items = src.get("items")
        if not items:
            for k, v in items_by_key.items():
                put(k, v)
            return
        for item in items:
            key = str(item.get("key", ""))
            if key not in items_by_key:
                if src.get("optional"):
                    continue
                raise ProjectionError(f'{what} "{obj_name}": key "{key}" not found')
            put(str(item.get("path") or key), items_by_key[key], item.get("mode"))

    for src in projected.get("sources") or []:
        if src.get("serviceAccountToken"):
            sat = src["serviceAccountToken"]
            key = token_key(name, sat)
            if key not in tokens:
                raise ProjectionError(f'the service account token for "{key}" was not requested')
            put(str(sat.get("path")), tokens[key].encode())
        elif src.get("configMap"):
            ref = src["configMap"]
            cm = configmaps.get(str(ref.get("name", "")))
            if cm is None:
                if ref.get("optional"):
                    continue
                raise MissingSource("configmap", str(ref.get("name")))
            keyed(configmap_items(cm), ref, "configmap", str(ref.get("name")))
        elif src.get("secret"):
            ref = src["secret"]
            secret = secrets.get(str(ref.get("name", "")))
            if secret is None:
                if ref.get("optional"):
                    continue
                raise MissingSource("secret", str(ref.get("name")))
            keyed(secret_items(secret), ref, "secret", str(ref.get("name")))
        elif src.get("downwardAPI"):
            for item in src["downwardAPI"].get("items") or []:
                path = str((item.get("fieldRef") or {}).get("fieldPath", ""))
                try:
                    value = field_ref(pod, path, "")
                except EnvError as e:
                    raise ProjectionError(str(e)) from e
                put(str(item.get("path")), value.encode(), item.get("mode"))
    spec = {"items": [{"key": p, "path": p, "mode": modes[p]} for p in files]}
    return files, spec
