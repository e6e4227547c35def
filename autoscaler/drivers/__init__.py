"""Power drivers, one module each: ``fake`` (simulated boxes), ``wol`` (Wake-on-LAN plus
a power-off command), ``ipmi`` (ipmitool), ``command`` (any on/off command pair).

A driver reads its parameters from the node's annotations and its credentials from the
Secret the node names (``kubelab.io/power-secret``), never from a manifest. Bad
parameters raise :class:`DriverConfigError` naming the annotation to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from api.power import DRIVER_ANNOTATION


class DriverConfigError(ValueError):
    """A node's power annotations are missing or wrong; the message names the fix."""


class PowerError(RuntimeError):
    """A power command failed (its exit status and output in the message)."""


@dataclass(frozen=True)
class Box:
    """What a driver knows about one box: its node name, annotations and credentials."""

    node: str
    annotations: Mapping[str, str]
    secret: Mapping[str, str] = field(default_factory=dict)

    def param(self, key: str, default: str | None = None) -> str:
        """The annotation ``key`` (``kubelab.io/power-...``), or a clear error."""
        value = self.annotations.get(key, default)
        if value is None or value == "":
            raise DriverConfigError(f"node {self.node}: annotation {key} is required")
        return str(value)


class PowerDriver(Protocol):
    name: str

    def power_on(self, box: Box) -> None: ...

    def power_off(self, box: Box) -> None: ...


def driver_name(annotations: Mapping[str, str]) -> str:
    return str(annotations.get(DRIVER_ANNOTATION, ""))


KNOWN_DRIVERS = ("fake", "wol", "ipmi", "command")
