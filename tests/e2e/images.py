"""The tiny image kubelet e2e tests run: Debian's static busybox and its applet links,
imported into Docker from a tarball (no registry is reachable in tests)."""

from __future__ import annotations

import io
import tarfile
import threading
from typing import Any

from kubelet.runtime.sandbox_image import busybox_path

IMAGE = "kubelab/busybox:1"
APPLETS = (
    "sh",
    "ash",
    "httpd",
    "nc",
    "sleep",
    "cat",
    "echo",
    "env",
    "ls",
    "kill",
    "wget",
    "true",
    "false",
    "printf",
    "test",
    "[",
    "mkdir",
    "rm",
    "touch",
    "date",
    "grep",
    "head",
    "tail",
    "seq",
    "ps",
    "id",
    "hostname",
    "pkill",
    "pidof",
    "wc",
    "sed",
    "yes",
    "dd",
    "uname",
)
_lock = threading.Lock()


def _tarball() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "tmp", "www", "etc", "proc", "sys", "dev"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        with open(busybox_path(), "rb") as f:
            data = f.read()
        info = tarfile.TarInfo("bin/busybox")
        info.size = len(data)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(data))
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        page = b"ok\n"
        info = tarfile.TarInfo("www/index.html")
        info.size = len(page)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(page))
        passwd = b"root:x:0:0:root:/:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        tar.addfile(info, io.BytesIO(passwd))
    return buf.getvalue()


def ensure_busybox_image(client: Any) -> str:
    """Import ``kubelab/busybox:1`` into the engine if it is missing; returns its name.

    ``client`` is a ``docker.DockerClient``. PATH is set so commands like ``sh`` resolve.
    """
    import docker.errors

    with _lock:
        try:
            client.images.get(IMAGE)
            return IMAGE
        except docker.errors.ImageNotFound:
            pass
        repo, tag = IMAGE.split(":")
        client.api.import_image_from_data(
            _tarball(),
            repository=repo,
            tag=tag,
            changes=["ENV PATH=/bin", 'CMD ["sh"]'],
        )
        client.images.get(IMAGE)
        return IMAGE
