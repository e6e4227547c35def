"""Turning one box on or off: its driver (by the node's ``kubelab.io/power-driver``), its
parameters (the node's annotations) and its credentials (the Secret the node names in
``kubelab.io/power-secret``, ``NAME`` or ``kube-system/NAME``: the autoscaler may read
Secrets in kube-system only). A driver's call blocks, so it runs in a thread."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Mapping
from typing import Any

from api.errors import ApiError
from api.power import SECRET_ANNOTATION
from autoscaler.drivers import Box, DriverConfigError, PowerDriver, PowerError, driver_name
from autoscaler.marks import annotations_of, name_of
from client import AsyncClient

Obj = dict[str, Any]
SECRET_NAMESPACE = "kube-system"


def secret_ref(node: Obj) -> str:
    """The Secret's name in kube-system ('' for none), or a DriverConfigError."""
    ref = str(annotations_of(node).get(SECRET_ANNOTATION, ""))
    ns, _, name = ref.rpartition("/")
    if ns not in ("", SECRET_NAMESPACE) or (ref and not name):
        raise DriverConfigError(
            f"node {name_of(node)}: {SECRET_ANNOTATION} {ref!r} must name a Secret in "
            f"{SECRET_NAMESPACE} (NAME or {SECRET_NAMESPACE}/NAME)"
        )
    return name


def decode_secret(secret: Obj) -> dict[str, str]:
    out = {k: str(v) for k, v in (secret.get("stringData") or {}).items()}
    for key, value in (secret.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(str(value), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise DriverConfigError(f"secret key {key!r} is not base64 text") from exc
    return out


class PowerSwitch:
    """Powers boxes through the drivers it was given."""

    def __init__(self, client: AsyncClient, drivers: Mapping[str, PowerDriver]) -> None:
        self.client = client
        self.drivers = dict(drivers)

    async def box(self, node: Obj) -> Box:
        name = secret_ref(node)
        secret: dict[str, str] = {}
        if name:
            try:
                obj = await self.client.get("secrets", name, SECRET_NAMESPACE)
            except ApiError as exc:
                raise DriverConfigError(
                    f"node {name_of(node)}: {SECRET_ANNOTATION}: secret "
                    f"{SECRET_NAMESPACE}/{name}: {exc}"
                ) from exc
            secret = decode_secret(obj)
        return Box(name_of(node), dict(annotations_of(node)), secret)

    async def set(self, node: Obj, on: bool) -> str:
        """Power ``node`` on or off; '' when the driver accepted it, else why not."""
        wanted = driver_name(annotations_of(node))
        drv = self.drivers.get(wanted)
        if drv is None:
            return f"unknown power driver {wanted!r} (known: {', '.join(sorted(self.drivers))})"
        try:
            box = await self.box(node)
            await asyncio.to_thread(drv.power_on if on else drv.power_off, box)
        except (DriverConfigError, PowerError) as exc:
            return str(exc)
        return ""
