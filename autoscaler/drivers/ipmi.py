"""``ipmi``: ``ipmitool -I lanplus -H HOST -U USER -E chassis power on|off|status``.

Annotation ``kubelab.io/power-ipmi-host`` (the BMC's address); the Secret holds
``username`` and ``password``. The password goes through ``IPMI_PASSWORD`` (``-E``), never
the command line, where ``ps`` would show it. Power-off is ``soft`` (an ACPI shutdown)
unless ``kubelab.io/power-ipmi-off: hard``.
"""

from __future__ import annotations

from autoscaler.drivers import Box, DriverConfigError
from autoscaler.drivers.runner import CommandRunner, checked, run_command

HOST = "kubelab.io/power-ipmi-host"
OFF_MODE = "kubelab.io/power-ipmi-off"


def ipmitool(box: Box, *action: str) -> tuple[list[str], dict[str, str]]:
    """The argv and environment of one ipmitool chassis command for ``box``."""
    user = box.secret.get("username")
    password = box.secret.get("password")
    if not user or password is None:
        raise DriverConfigError(
            f"node {box.node}: the Secret named by kubelab.io/power-secret needs the keys "
            "username and password"
        )
    host = box.param(HOST)
    argv = ["ipmitool", "-I", "lanplus", "-H", host, "-U", user, "-E", "chassis", "power"]
    return [*argv, *action], {"IPMI_PASSWORD": password}


class IpmiDriver:
    name = "ipmi"

    def __init__(self, runner: CommandRunner = run_command, timeout: float = 30.0) -> None:
        self.runner = runner
        self.timeout = timeout

    def power_on(self, box: Box) -> None:
        checked(self.runner, *ipmitool(box, "on"), self.timeout)

    def power_off(self, box: Box) -> None:
        mode = box.annotations.get(OFF_MODE, "soft")
        if mode not in ("soft", "hard"):
            raise DriverConfigError(
                f"node {box.node}: {OFF_MODE} must be soft or hard, not {mode!r}"
            )
        checked(self.runner, *ipmitool(box, "soft" if mode == "soft" else "off"), self.timeout)

    def status(self, box: Box) -> bool:
        """True when the chassis reports power on."""
        out = checked(self.runner, *ipmitool(box, "status"), self.timeout)
        return out.strip().lower().endswith("on")
