"""``fake``: powers simulated boxes, so the feature can be learned on one machine.

Powering on starts a hollow kubelet for the node (``kubelab kubelet --runtime fake
--node-name NODE --home HOME`` plus ``kubelab.io/power-fake-kubelet-args``) after the
boot delay ``kubelab.io/power-fake-boot-seconds`` (default 0); powering off stops that
process. ``kubelab.io/power-fake-boots: "false"`` makes a box that never comes up (the
power-on is accepted and nothing boots), to try resume timeouts and backoff. The box's
"power" is the process: a box this autoscaler did not start has nothing to stop.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence

from autoscaler.drivers import Box, DriverConfigError

BOOT_SECONDS = "kubelab.io/power-fake-boot-seconds"
KUBELET_ARGS = "kubelab.io/power-fake-kubelet-args"
BOOTS = "kubelab.io/power-fake-boots"

Spawn = Callable[[Sequence[str]], "subprocess.Popen[bytes]"]


def kubelet_argv(box: Box, home: str) -> list[str]:
    """The hollow kubelet's command line for ``box``."""
    try:
        extra = shlex.split(box.annotations.get(KUBELET_ARGS, ""))
    except ValueError as exc:
        raise DriverConfigError(f"node {box.node}: annotation {KUBELET_ARGS}: {exc}") from exc
    return [sys.executable, "-m", "kubelab", "kubelet", "--runtime", "fake",
            "--node-name", box.node, "--home", home, *extra]  # fmt: skip


def boot_seconds(box: Box) -> float:
    text = box.annotations.get(BOOT_SECONDS, "0")
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise DriverConfigError(f"node {box.node}: {BOOT_SECONDS} {text!r} is not seconds >= 0")
    return value


def _spawn(argv: Sequence[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class FakeDriver:
    name = "fake"

    def __init__(self, home: str, spawn: Spawn = _spawn) -> None:
        self.home = home
        self.spawn = spawn
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.timers: dict[str, threading.Timer] = {}
        self._lock = threading.Lock()

    def power_on(self, box: Box) -> None:
        argv = kubelet_argv(box, self.home)
        delay = boot_seconds(box)
        if box.annotations.get(BOOTS, "true").lower() == "false":
            return  # a box that never comes up
        self.power_off(box)  # a stale process from an earlier wake
        timer = threading.Timer(delay, self._boot, (box.node, argv))
        timer.daemon = True
        with self._lock:
            self.timers[box.node] = timer
        timer.start()

    def _boot(self, node: str, argv: list[str]) -> None:
        with self._lock:
            if self.timers.pop(node, None) is None:
                return  # powered off while booting
            self.procs[node] = self.spawn(argv)

    def power_off(self, box: Box) -> None:
        with self._lock:
            timer = self.timers.pop(box.node, None)
            proc = self.procs.pop(box.node, None)
        if timer is not None:
            timer.cancel()
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def close(self) -> None:
        """Stop every simulated box (the autoscaler is ending)."""
        for node in list(self.procs) + list(self.timers):
            self.power_off(Box(node, {}))
