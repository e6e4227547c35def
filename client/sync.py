"""The blocking client: the verbs of ``client.aio.AsyncClient``, not awaited, over
``client.transport.SyncTransport`` (thread-safe).

GENERATED from client/aio.py by tools/gen_sync_client.py: do not edit it by hand; edit
client/aio.py and run the tool (``make lint`` fails when this file differs from its output).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING, Any

from api.errors import ApiError
from api.registry import ResourceInfo
from client import core
from client.core import RequestSpec
from client.kubeconfig import ClusterConfig, load_kubeconfig
from client.transport import Endpoint, SyncTransport

if TYPE_CHECKING:
    # Streams and raw requests import httpx where they use it: a client that makes only
    # ordinary requests (the blocking one in a one-shot `kl get pods`) never loads it.
    import httpx

    from client.reflector import Listing, Reflector


class Client:
    """A Kubernetes REST client for kubelab (and any Kubernetes API server).

    Objects are plain dicts exactly as the API serves them. Every non-2xx reply raises
    ``ApiError``; an unreachable server raises ``ServerUnreachable``. ``on_warning`` is
    told the text of each ``Warning`` header the server sends (kubectl prints them).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        ca_file: str | None = None,
        ca_data: bytes | str | None = None,
        verify: bool = True,
        *,
        namespace: str = "default",
        timeout: float | httpx.Timeout | None = None,
        on_warning: core.WarningHandler | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.on_warning = on_warning  # told each Warning header text of every reply
        self.namespace = namespace or "default"
        self._build = core.RequestBuilder(self.namespace)
        headers = {"User-Agent": core.USER_AGENT, "Accept": core.JSON}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        tls = core.ssl_context(ca_data, ca_file, verify)
        self._io = SyncTransport(Endpoint(self.base_url, headers, tls, timeout))

    @classmethod
    def from_config(cls, cfg: ClusterConfig, **kwargs: Any) -> Client:
        """A client for a resolved kubeconfig context."""
        kwargs.setdefault("namespace", cfg.namespace)  # a caller's namespace= wins
        return cls(cfg.server, token=cfg.token, ca_data=cfg.ca_data, verify=cfg.verify, **kwargs)

    @classmethod
    def from_kubeconfig(
        cls, path: str | os.PathLike[str] | None = None, context: str | None = None, **kwargs: Any
    ) -> Client:
        """A client from a kubeconfig: ``path``, else $KUBECONFIG, $KUBELAB_HOME/kubeconfig,
        ~/.kube/config."""
        return cls.from_config(load_kubeconfig(path, context), **kwargs)

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        self._io.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport -----------------------------------------------------------------------

    def _call(self, spec: RequestSpec) -> dict[str, Any]:
        return core.decode(self._io.send(spec), self.on_warning)

    @contextmanager
    def _stream(self, spec: RequestSpec, timeout: httpx.Timeout) -> Iterator[httpx.Response]:
        """A streamed response; non-2xx raises ApiError, transport errors ServerUnreachable."""
        import httpx

        try:
            with self._io.http.stream(
                spec.method, spec.path, params=spec.params or None, timeout=timeout
            ) as resp:
                core.report_warnings(resp.headers, self.on_warning)
                if resp.status_code >= 300:
                    resp.read()
                    raise core.error_from(resp.status_code, resp.content)
                yield resp
        except httpx.TransportError as e:
            raise core.unreachable(self.base_url, e) from e

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        raise_for_status: bool = True,
    ) -> httpx.Response:
        """A raw request to any path (discovery, /healthz, ...). Non-2xx raises ApiError
        unless ``raise_for_status`` is False."""
        import httpx

        hdrs = dict(headers or {})
        if json is not None:
            content = core.dumps(json)
            hdrs.setdefault("Content-Type", core.JSON)
        try:
            resp = self._io.http.request(
                method, path, params=params, content=content, headers=hdrs or None
            )
        except httpx.TransportError as e:
            raise core.unreachable(self.base_url, e) from e
        core.report_warnings(resp.headers, self.on_warning)
        if raise_for_status and resp.status_code >= 300:
            raise core.error_from(resp.status_code, resp.content)
        return resp

    # -- the verbs -----------------------------------------------------------------------

    def get(
        self,
        resource: str | ResourceInfo,
        name: str,
        namespace: str | None = None,
        subresource: str = "",
    ) -> dict[str, Any]:
        """GET one object (namespace None: the client's default namespace)."""
        return self._call(self._build.get(resource, name, namespace, subresource))

    def list(
        self,
        resource: str | ResourceInfo,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        """One page of a collection (namespace None: all namespaces); ``items`` is always a
        list and ``metadata.continue`` is set when more pages follow."""
        spec = self._build.list(
            resource,
            namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            limit=limit,
            continue_token=continue_token,
            resource_version=resource_version,
        )
        return core.list_body(self._call(spec))

    def list_all(
        self,
        resource: str | ResourceInfo,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> dict[str, Any]:
        """Every item of a collection, following ``continue`` tokens; the returned List
        carries the first page's resourceVersion (the snapshot all pages come from).
        An expired continue token (410) restarts the listing."""
        while True:
            items: list[dict[str, Any]] = []
            first: dict[str, Any] | None = None
            token: str | None = None
            try:
                while True:
                    page = self.list(
                        resource,
                        namespace,
                        label_selector=label_selector,
                        field_selector=field_selector,
                        limit=page_size,
                        continue_token=token,
                    )
                    first = first or page
                    items.extend(page["items"])
                    token = page["metadata"].get("continue") or None
                    if not token:
                        break
            except ApiError as e:
                if e.code == 410 and token:
                    continue
                raise
            assert first is not None
            first["items"] = items
            first["metadata"].pop("continue", None)
            return first

    def create(
        self,
        resource: str | ResourceInfo,
        body: dict[str, Any],
        namespace: str | None = None,
        *,
        subresource: str = "",
        name: str = "",
        field_validation: str | None = None,
    ) -> dict[str, Any]:
        """POST an object (namespace None: the body's, else the default). With
        ``subresource`` (binding, eviction) it POSTs to ``name/subresource``.
        ``field_validation``: Strict | Warn | Ignore, for fields the server does not know."""
        spec = self._build.create(resource, body, namespace, subresource, name, field_validation)
        return self._call(spec)

    def replace(
        self,
        resource: str | ResourceInfo,
        name: str,
        body: dict[str, Any],
        namespace: str | None = None,
        subresource: str = "",
        *,
        field_validation: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """PUT an object; its metadata.resourceVersion makes it a conditional update (409).
        ``dry_run``: the server checks and answers the result but stores nothing."""
        spec = self._build.replace(
            resource, name, body, namespace, subresource, field_validation, dry_run
        )
        return self._call(spec)

    def patch(
        self,
        resource: str | ResourceInfo,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: str = "merge",
        subresource: str = "",
        field_manager: str = core.FIELD_MANAGER,
        force: bool | None = None,
        field_validation: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """PATCH with ``patch_type`` merge | strategic | json (a list of ops) | apply;
        ``dry_run``: the server checks and answers the result but stores nothing."""
        spec = self._build.patch(
            resource,
            name,
            patch,
            namespace,
            patch_type,
            subresource,
            field_manager,
            force,
            field_validation,
            dry_run,
        )
        return self._call(spec)

    def delete(
        self,
        resource: str | ResourceInfo,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
    ) -> dict[str, Any]:
        """DELETE; returns what the server answers (the object, or a Status)."""
        spec = self._build.delete(
            resource, name, namespace, propagation_policy, grace_period_seconds
        )
        return self._call(spec)

    # -- watch ---------------------------------------------------------------------------

    def watch(
        self,
        resource: str | ResourceInfo,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
    ) -> Generator[dict[str, Any], None]:
        """One watch stream: yields ``{"type", "object"}`` events (BOOKMARKs included) until
        the server ends it. An expired resourceVersion raises ``ApiError(410, "Expired")``;
        a dropped connection raises ``ServerUnreachable``."""
        spec = self._build.watch(
            resource,
            namespace,
            resource_version=resource_version,
            label_selector=label_selector,
            field_selector=field_selector,
            timeout_seconds=timeout_seconds,
            allow_bookmarks=allow_bookmarks,
        )
        import httpx

        with self._stream(spec, core.stream_timeout(timeout_seconds)) as resp:
            splitter = core.LineSplitter()
            try:
                for chunk in resp.iter_bytes():
                    for line in splitter.feed(chunk):
                        yield core.parse_event(line)
            except httpx.TransportError as e:
                raise core.unreachable(self.base_url, e) from e
            for line in splitter.flush():
                yield core.parse_event(line)

    def list_and_watch(
        self,
        resource: str | ResourceInfo,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
        reflector: Reflector | None = None,
        stopped: Callable[[], bool] = lambda: False,
    ) -> Generator[Listing | dict[str, Any], None]:
        """The reflector's loop: a ``Listing`` for every (re)list, then each watch event,
        resuming, relisting on 410 and backing off as ``reflector`` decides (see
        ``client.reflector``). Ends when ``stopped()`` says so; raises what the reflector
        does not retry."""
        from client.reflector import Listing, Reflector  # only long-lived clients watch

        info = core.resolve(resource)
        r = reflector or Reflector(info.plural)
        while not stopped():
            listing = r.need_list
            try:
                if listing:
                    body = self.list_all(
                        info,
                        namespace,
                        label_selector=label_selector,
                        field_selector=field_selector,
                        page_size=page_size,
                    )
                    r.listed(body)
                    listing = False
                    yield Listing(body)
                    if stopped():
                        return
                rv, timeout = r.watch_params()
                with closing(
                    self.watch(
                        info,
                        namespace,
                        resource_version=rv,
                        label_selector=label_selector,
                        field_selector=field_selector,
                        timeout_seconds=timeout,
                    )
                ) as stream:
                    for event in stream:
                        r.observed(event)
                        yield event
                        if stopped():
                            return
                delay = r.watch_ended()
            except Exception as e:
                failed = r.failed(e, listing)
                if failed is None:
                    raise
                delay = failed
            if delay > 0:
                time.sleep(delay)

    def watch_forever(
        self,
        resource: str | ResourceInfo,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = 300,
        max_backoff: float = 30.0,
    ) -> Generator[dict[str, Any], None]:
        """An endless watch that survives stream ends, dropped connections and 410s.

        Without ``resource_version`` it first lists and yields an ADDED event per existing
        object. Each stream resumes from the last resourceVersion seen (BOOKMARKs count and
        are yielded). On 410 Expired it lists again and yields synthetic events — ADDED for
        new objects, MODIFIED for changed ones, DELETED (with the last known state) for
        vanished ones — so the caller's view converges on the server's, then watches on.
        Only objects seen through this generator are known, so with an explicit starting
        ``resource_version`` a 410 yields ADDED for objects it never reported. Unreachable
        servers are retried with exponential backoff up to ``max_backoff`` seconds; other
        ApiErrors (401, 404, ...) and a failing list propagate.
        """
        from client.reflector import Listing, Reflector, retry_backoff

        info = core.resolve(resource)
        conv = core.Converger()
        reflector = Reflector(
            info.plural,
            resource_version,
            backoff=retry_backoff(max_backoff),
            watch_timeout=timeout_seconds,
        )
        with closing(
            self.list_and_watch(
                info,
                namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                reflector=reflector,
            )
        ) as items:
            for item in items:
                if isinstance(item, Listing):
                    yield from conv.relisted(item.body)
                else:
                    conv.observe(item)
                    yield item

    # -- logs ----------------------------------------------------------------------------

    def log(
        self,
        name: str,
        namespace: str | None = None,
        *,
        container: str | None = None,
        follow: bool = False,
        tail_lines: int | None = None,
        previous: bool = False,
        timestamps: bool = False,
        since_seconds: int | None = None,
        limit_bytes: int | None = None,
    ) -> str:
        """A container's log as text (with ``follow`` it returns when the stream ends)."""
        spec = self._build.log(
            name,
            namespace,
            container=container,
            follow=follow,
            tail_lines=tail_lines,
            previous=previous,
            timestamps=timestamps,
            since_seconds=since_seconds,
            limit_bytes=limit_bytes,
        )
        if follow:
            return "".join([line for line in self._stream_text(spec)])
        resp = self._io.send(spec)
        core.report_warnings(resp.headers, self.on_warning)
        if resp.status_code >= 300:
            raise core.error_from(resp.status_code, resp.content)
        return resp.text

    def stream_log(
        self,
        name: str,
        namespace: str | None = None,
        *,
        container: str | None = None,
        follow: bool = True,
        tail_lines: int | None = None,
        previous: bool = False,
        timestamps: bool = False,
        since_seconds: int | None = None,
        limit_bytes: int | None = None,
    ) -> Generator[str, None]:
        """A container's log as it arrives, one line at a time, each ending in ``\\n``
        (write them out unchanged)."""
        spec = self._build.log(
            name,
            namespace,
            container=container,
            follow=follow,
            tail_lines=tail_lines,
            previous=previous,
            timestamps=timestamps,
            since_seconds=since_seconds,
            limit_bytes=limit_bytes,
        )
        return self._stream_text(spec)

    def _stream_text(self, spec: RequestSpec) -> Generator[str, None]:
        import httpx

        with self._stream(spec, core.stream_timeout(None)) as resp:
            try:
                for line in resp.iter_lines():
                    yield line + "\n"
            except httpx.TransportError as e:
                raise core.unreachable(self.base_url, e) from e
