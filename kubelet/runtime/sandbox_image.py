"""The pod sandbox image (Kubernetes' pause container), built on this machine.

A sandbox only holds the pod's network namespace, so any image whose command sleeps for
ever will do. No registry may be reachable, so the default image is made locally from
Debian's static busybox (``apt install busybox-static``): a tarball with the binary and a
``sleep`` link, imported into the engine. Pure: this module only builds bytes.
"""

from __future__ import annotations

import io
import shutil
import tarfile

DEFAULT_SANDBOX_IMAGE = "kubelab/pause:1"
# Sleep as long as busybox can (about 68 years): the sandbox ends when it is killed.
SANDBOX_COMMAND = ["/bin/sleep", "2147483647"]


class BusyboxMissing(Exception):
    """No static busybox on this machine; the message names the fix."""


def busybox_path() -> str:
    """Debian's ``busybox-static`` binary."""
    for candidate in ("/bin/busybox", "/usr/bin/busybox"):
        if shutil.which(candidate):
            return candidate
    found = shutil.which("busybox")
    if not found:
        raise BusyboxMissing(
            "busybox is not installed, and the pod sandbox image is built from it: "
            "run `apt install busybox-static`, or give --pod-infra-image an image the "
            "engine has"
        )
    return found


def sandbox_tarball() -> bytes:
    """The root filesystem of the sandbox image: busybox and its ``sleep`` applet link."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "dev", "proc", "sys", "etc"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        with open(busybox_path(), "rb") as f:
            data = f.read()
        info = tarfile.TarInfo("bin/busybox")
        info.size = len(data)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("bin/sleep")
        link.type = tarfile.SYMTYPE
        link.linkname = "busybox"
        tar.addfile(link)
    return buf.getvalue()
