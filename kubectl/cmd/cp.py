"""``kl cp SRC DEST``: copy files and directories to and from a container, as ``kubectl
cp`` does: a tar stream through exec (``tar -xmf -`` reading stdin into the container,
``tar cf -`` writing stdout out of it), so the container needs a ``tar``. One side is
``[NAMESPACE/]POD:PATH``, the other a local path."""

from __future__ import annotations

import argparse
import os
import posixpath
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kubectl.cli import add_verb
from kubectl.cmd.exec import flags, stream
from kubectl.context import Ctx
from kubectl.errors import CliError
from kubectl.podselect import pick_container

EXAMPLES = """
  kl cp model.pt trainer-0:/data/model.pt       # a local file into the pod
  kl cp ./configs team-a/web-0:/etc/app         # a directory, pod in namespace team-a
  kl cp trainer-0:/data/out ./out -c main       # out of the pod's container main
"""

SPEC = "[[namespace/]pod:]file/path"


@dataclass(frozen=True)
class FileSpec:
    namespace: str | None
    pod: str | None  # None: a local path
    path: str


def parse_spec(text: str) -> FileSpec:
    """``[NAMESPACE/]POD:PATH`` or a local path (kubectl's extractFileSpec)."""
    if ":" not in text:
        return FileSpec(None, None, text)
    pod, path = text.split(":", 1)
    if not path:
        raise CliError(f"filespec must match the canonical format: {SPEC}")
    if "/" in pod:
        namespace, pod = pod.split("/", 1)
        return FileSpec(namespace or None, pod, path)
    return FileSpec(None, pod, path)


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "cp", "Copy files and directories to and from containers", EXAMPLES)
    p.add_argument("src")
    p.add_argument("dest")
    p.add_argument("-c", "--container", help="container name")
    p.add_argument(
        "--no-preserve",
        action="store_true",
        help="the copied files' ownership and permissions are not kept in the container",
    )
    p.set_defaults(run=run)


def run(ctx: Ctx) -> int:
    a = ctx.args
    src, dest = parse_spec(a.src), parse_spec(a.dest)
    if (src.pod is None) == (dest.pod is None):
        raise CliError("one of src or dest must be a local file specification")
    remote = src if src.pod is not None else dest
    assert remote.pod is not None
    ns = remote.namespace or ctx.namespace
    pod = ctx.client.get("pods", remote.pod, ns)
    container = pick_container(ctx, pod, a.container)
    copier = _Copier(ctx, ns, remote.pod, container)
    if dest.pod is not None:
        return copier.to_pod(Path(src.path), dest.path, bool(a.no_preserve))
    return copier.from_pod(src.path, Path(dest.path))


class _Copier:
    def __init__(self, ctx: Ctx, namespace: str, pod: str, container: str) -> None:
        self.ctx, self.namespace, self.pod, self.container = ctx, namespace, pod, container

    def _exec(
        self, command: list[str], stdin_fd: int | None, out: IO[bytes] | None
    ) -> tuple[int, bytes]:
        from client.streaming import Streams

        errors = bytearray()
        query = [("container", self.container), *[("command", c) for c in command]]
        query += flags(stdin=stdin_fd is not None, stdout=True, stderr=True, tty=False)

        def to_out(data: bytes) -> None:
            if out is not None:
                out.write(data)

        streams = Streams(to_out, errors.extend, stdin_fd)
        code = stream(self.ctx, self.namespace, self.pod, "exec", query, False, streams)
        return code, bytes(errors)

    def _failed(self, what: str, code: int, errors: bytes) -> CliError:
        detail = errors.decode(errors="replace").strip()
        return CliError(
            f"{what}: command terminated with exit code {code}" + (f": {detail}" if detail else "")
        )

    def to_pod(self, src: Path, dest: str, no_preserve: bool) -> int:
        if not src.exists():
            raise CliError(f"{src} doesn't exist in local filesystem")
        if self._exec(["test", "-d", dest], None, None)[0] == 0:
            dest = posixpath.join(dest, src.name)  # into an existing directory, as kubectl
        parent = posixpath.dirname(dest.rstrip("/")) or "/"
        command = ["tar", "-xmf", "-", "-C", parent]
        if no_preserve:
            command += ["--no-same-permissions", "--no-same-owner"]
        r, w = os.pipe()
        failure: list[BaseException] = []

        def pack() -> None:
            try:
                with os.fdopen(w, "wb") as pipe, tarfile.open(fileobj=pipe, mode="w|") as tar:
                    tar.add(str(src), arcname=posixpath.basename(dest.rstrip("/")))
            except BaseException as e:  # noqa: BLE001 - reported by the main thread
                failure.append(e)

        packer = threading.Thread(target=pack, daemon=True, name="tar")
        packer.start()
        try:
            code, errors = self._exec(command, r, None)
        finally:
            packer.join(timeout=5)
            os.close(r)
        if failure and not isinstance(failure[0], BrokenPipeError):
            raise CliError(f"cannot read {src}: {failure[0]}")
        if code:
            raise self._failed(f"copying into {self.pod}:{dest}", code, errors)
        return 0

    def from_pod(self, src: str, dest: Path) -> int:
        clean = src.rstrip("/") or "/"
        base = posixpath.basename(clean)
        command = ["tar", "cf", "-", "-C", posixpath.dirname(clean) or "/", base or "."]
        with tempfile.TemporaryFile() as spool:
            code, errors = self._exec(command, None, spool)
            if code:
                raise self._failed(f"copying {self.pod}:{src}", code, errors)
            spool.seek(0)
            target = dest / base if dest.is_dir() and base else dest
            with tarfile.open(fileobj=spool, mode="r:") as tar:
                for member in tar:
                    self._extract(tar, member, base, target)
        return 0

    def _extract(
        self, tar: tarfile.TarFile, member: tarfile.TarInfo, base: str, target: Path
    ) -> None:
        """One member under ``target``, refusing paths that leave it (kubectl's untar)."""
        name = member.name.rstrip("/")
        rel = name[len(base) :].lstrip("/") if base and name.startswith(base) else name
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if ".." in parts or posixpath.isabs(member.name):
            self.ctx.err(f"warning: skipping {member.name}: it would land outside {target}")
            return
        path = target.joinpath(*parts) if parts else target
        if member.isdir():
            path.mkdir(parents=True, exist_ok=True)
        elif member.isfile():
            path.parent.mkdir(parents=True, exist_ok=True)
            fileobj = tar.extractfile(member)
            assert fileobj is not None
            with open(path, "wb") as out:
                while chunk := fileobj.read(1 << 20):
                    out.write(chunk)
            os.chmod(path, member.mode & 0o777)
        else:
            self.ctx.err(f"warning: skipping {member.name}: links and special files are not copied")
