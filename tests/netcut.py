"""A TCP relay a test can cut: a component pointed at it reaches the apiserver until
``cut()`` (every open connection dropped, new ones refused), and again after ``heal()``.
A network partition between one component and the API, made on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import TracebackType

import yaml

from tests.harness import free_port


class NetCut:
    """Relays 127.0.0.1:``port`` to ``target_port``; runs its own event loop thread."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.heal()

    def _run(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)  # type: ignore[arg-type]

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            w.close()

    async def _relay(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            w.close()
            return
        self._writers.update((w, uw))
        await asyncio.gather(self._pipe(r, uw), self._pipe(ur, w))
        self._writers.difference_update((w, uw))

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()  # as a cable pulled: no FIN, no more bytes
        self._writers.clear()

    def cut(self) -> None:
        """Drop every connection and refuse new ones."""
        self._run(self._close())

    def heal(self) -> None:
        """Accept and relay connections again."""
        self._run(self._listen())

    def kubeconfig(self, source: Path, dest: Path) -> Path:
        """A copy of the kubeconfig ``source`` whose server is this relay."""
        cfg = yaml.safe_load(source.read_text())
        for c in cfg.get("clusters") or []:
            c["cluster"]["server"] = f"https://127.0.0.1:{self.port}"
        dest.write_text(yaml.safe_dump(cfg))
        dest.chmod(0o600)
        return dest

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def __enter__(self) -> NetCut:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
