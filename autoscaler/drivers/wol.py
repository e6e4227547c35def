"""``wol``: Wake-on-LAN (the ``wakeonlan`` package sends the magic packet) to power on,
and a command (``kubelab.io/power-off-command``, e.g. ``ssh root@{node} systemctl
poweroff``) to power off.

Annotations: ``kubelab.io/power-mac`` (required), ``kubelab.io/power-wol-address``
(broadcast address, default 255.255.255.255), ``kubelab.io/power-wol-port`` (default 9).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from wakeonlan import wake

from autoscaler.drivers import Box, DriverConfigError
from autoscaler.drivers.command import OFF, command_line, secret_env
from autoscaler.drivers.runner import CommandRunner, checked, run_command

MAC = "kubelab.io/power-mac"
ADDRESS = "kubelab.io/power-wol-address"
PORT = "kubelab.io/power-wol-port"
_MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}([:-]?[0-9A-Fa-f]{2}){5}$")

Sender = Callable[..., None]


def wol_target(box: Box) -> tuple[str, str, int]:
    """(MAC, address, port) of ``box``, checked."""
    mac = box.param(MAC)
    if not _MAC_RE.match(mac):
        raise DriverConfigError(f"node {box.node}: {MAC} {mac!r} is not a MAC address")
    port_text = box.annotations.get(PORT, "9")
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise DriverConfigError(f"node {box.node}: {PORT} {port_text!r} is not a UDP port")
    return mac, box.annotations.get(ADDRESS, "255.255.255.255"), port


class WolDriver:
    name = "wol"

    def __init__(
        self,
        runner: CommandRunner = run_command,
        send: Sender = wake,
        timeout: float = 30.0,
    ) -> None:
        self.runner = runner
        self.send = send
        self.timeout = timeout

    def power_on(self, box: Box) -> None:
        mac, address, port = wol_target(box)
        self.send(mac, host=address, port=port)

    def power_off(self, box: Box) -> None:
        checked(self.runner, command_line(box, OFF), secret_env(box), self.timeout)
