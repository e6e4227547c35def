"""``command``: a generic on/off command pair (a smart plug's CLI, a BMC's REST call).

Annotations ``kubelab.io/power-on-command`` and ``kubelab.io/power-off-command`` hold the
command lines (split like a shell would, run without one); ``{node}`` is replaced by the
node name. The Secret's keys reach the commands as environment variables
(``POWER_<KEY>``, upper-cased), so no password sits in a command line or manifest.
"""

from __future__ import annotations

import re
import shlex

from autoscaler.drivers import Box, DriverConfigError
from autoscaler.drivers.runner import CommandRunner, checked, run_command

ON = "kubelab.io/power-on-command"
OFF = "kubelab.io/power-off-command"


def command_line(box: Box, annotation: str) -> list[str]:
    """The command of ``annotation`` as argv, ``{node}`` filled in."""
    try:
        argv = shlex.split(box.param(annotation))
    except ValueError as exc:
        raise DriverConfigError(f"node {box.node}: annotation {annotation}: {exc}") from exc
    return [a.replace("{node}", box.node) for a in argv]


def secret_env(box: Box) -> dict[str, str]:
    """The Secret's keys as ``POWER_<KEY>`` environment variables."""
    return {"POWER_" + re.sub(r"[^A-Z0-9]", "_", k.upper()): v for k, v in box.secret.items()}


class CommandDriver:
    name = "command"

    def __init__(self, runner: CommandRunner = run_command, timeout: float = 30.0) -> None:
        self.runner = runner
        self.timeout = timeout

    def power_on(self, box: Box) -> None:
        checked(self.runner, command_line(box, ON), secret_env(box), self.timeout)

    def power_off(self, box: Box) -> None:
        checked(self.runner, command_line(box, OFF), secret_env(box), self.timeout)
