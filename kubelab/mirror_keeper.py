"""Keeps the mirror pods of ``kubelab up``'s processes (``kubelab/mirror_pods.py``) in
``kube-system``, as the kubelet keeps those of its static pods: made once the Node exists
(they are owned by it), made again when someone deletes one, their status written when
the process starts, dies or restarts, and all removed when ``kubelab up`` stops.

A thread beside the supervisor's loop, so a slow API never delays a restart; it only
reads the children's state. Level-triggered: each round compares every mirror pod with
what it should be, so a missed change costs one period.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from api.errors import ApiError
from client import Client, ServerUnreachable
from kubelab.mirror_pods import (
    COMPONENTS,
    NAMESPACE,
    Obj,
    ProcessState,
    desired_pod,
    desired_status,
    next_step,
    pod_name,
)
from kubelab.supervisor import Child, Supervisor
from kubelet.status import status_differs

log = logging.getLogger("kubelab.up")


def _wall(monotonic: float) -> str:
    """A ``time.monotonic`` instant as RFC 3339 (UTC, seconds)."""
    at = time.time() - (time.monotonic() - monotonic)
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _exit_code(code: int | None) -> int | None:
    """Popen says -N for a signal; a container runtime says 128+N (137: SIGKILL)."""
    return 128 - code if code is not None and code < 0 else code


class MirrorKeeper:
    """Mirror pods for the supervised children that ``COMPONENTS`` names, on ``node``."""

    def __init__(
        self, client: Client, supervisor: Supervisor, node: str, host_ip: str, period: float = 2.0
    ) -> None:
        self.client = client
        self.supervisor = supervisor
        self.node = node
        self.host_ip = host_ip
        self.period = period
        self._ours: dict[str, str] = {}  # pod name -> uid of the mirror pod we made
        self._stop = threading.Event()
        self._last_error = ""
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mirror-pods", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the thread, then delete the mirror pods it made (before the apiserver stops)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        for name, uid in list(self._ours.items()):
            self._delete(name, uid)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync()
                self._last_error = ""
            except (ApiError, ServerUnreachable) as e:
                if str(e) != self._last_error:  # once, not every period
                    log.warning("mirror pods: %s", e)
                self._last_error = str(e)
            except Exception:  # noqa: BLE001 - the keeper must outlive one bad round
                log.exception("mirror pods: a round failed")
            self._stop.wait(self.period)

    # -- one round ------------------------------------------------------------------------

    def sync(self) -> None:
        """Bring every mirror pod one step towards what it should be."""
        try:
            node = self.client.get("nodes", self.node)
        except ApiError as e:
            if e.code == 404:
                return  # not registered yet: a mirror pod is owned by its Node
            raise
        for child in self.supervisor.children:
            component = COMPONENTS.get(child.name)
            if component is None or child.proc is None:
                continue
            desired = desired_pod(component, node, child.argv)
            name = pod_name(component, self.node)
            existing = self._get(name)
            step = next_step(existing, desired)
            if step == "replace" and existing is not None:
                self._delete(name, str(existing["metadata"]["uid"]))
                existing = None
            if existing is None:
                existing = self.client.create("pods", desired, NAMESPACE)
                self._ours[name] = str(existing["metadata"]["uid"])
            status = desired_status(existing, self._state(child), self.host_ip, _now())
            if status_differs(existing.get("status") or {}, status):
                self.client.patch("pods", name, {"status": status}, NAMESPACE, subresource="status")

    def _state(self, child: Child) -> ProcessState:
        running = child.alive()
        last = child.last_exit
        previous = last if last is not None and last.pid != child.pid else None
        code: int | None = None
        finished: str | None = None
        if not running:
            if last is not None and last.pid == child.pid:
                code, finished = last.code, _wall(last.finished_at)
            else:  # dead, and the supervisor has not seen it yet
                code, finished = child.exit_code(), _now()
        return ProcessState(
            pid=child.pid,
            running=running,
            started_at=_wall(child.started_at),
            restarts=child.restarts,
            exit_code=_exit_code(code),
            finished_at=finished,
            previous_pid=previous.pid if previous else 0,
            previous_exit_code=_exit_code(previous.code) if previous else None,
            previous_started_at=_wall(previous.started_at) if previous else None,
            previous_finished_at=_wall(previous.finished_at) if previous else None,
        )

    def _get(self, name: str) -> Obj | None:
        try:
            return self.client.get("pods", name, NAMESPACE)
        except ApiError as e:
            if e.code == 404:
                return None
            raise

    def _delete(self, name: str, uid: str) -> None:
        """Delete now (no kubelet finishes a mirror pod's graceful deletion), only ``uid``."""
        try:
            current = self._get(name)
            if current is not None and current["metadata"]["uid"] == uid:
                self.client.delete("pods", name, NAMESPACE, grace_period_seconds=0)
        except (ApiError, ServerUnreachable) as e:
            log.warning("mirror pod %s/%s: delete failed: %s", NAMESPACE, name, e)
        self._ours.pop(name, None)
