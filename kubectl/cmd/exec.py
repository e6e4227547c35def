"""``kl exec POD -- CMD...``: run a command in a container, as ``kubectl exec`` does: over
the WebSocket remote command protocol (client/streaming.py), with ``-i`` for stdin and
``-t`` for a terminal (raw mode, size following the window, Ctrl-C to the process).
Without ``-i`` it reads nothing and suits scripts; the exit code is the command's."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from kubectl.cli import add_verb
from kubectl.context import Ctx
from kubectl.errors import CliError
from kubectl.podselect import pick_container, resolve_pod

if TYPE_CHECKING:
    from client.streaming import Streams

EXAMPLES = """
  kl exec web-0 -- ls /usr/share/nginx/html
  kl exec web-0 -c sidecar -- cat /etc/hostname
  kl exec -it web-0 -- sh                   # an interactive shell
  echo hi | kl exec -i web-0 -- cat         # stdin to the command
  kl exec deploy/web -- env                 # in one of the deployment's pods
  kl exec train-x7k2 -- nvidia-smi -L       # which GPUs the container sees
"""

NO_TTY = "Unable to use a TTY - input is not a terminal or the right kind of file"


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "exec", "Run a command in a container", EXAMPLES)
    p.add_argument("pod", metavar="POD | TYPE/NAME")
    p.add_argument("-c", "--container", help="container name")
    p.add_argument("-i", "--stdin", action="store_true", help="pass stdin to the container")
    p.add_argument("-t", "--tty", action="store_true", help="stdin is a TTY")
    p.add_argument(
        "-q", "--quiet", action="store_true", help="only print output from the remote session"
    )
    p.set_defaults(run=run)


def run(ctx: Ctx) -> int:
    a = ctx.args
    command = list(a.trailing)
    if not command:
        raise CliError("you must specify at least one command for the container")
    pod = resolve_pod(ctx, a.pod)
    container = pick_container(ctx, pod, a.container)
    meta = pod["metadata"]
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise CliError(f"cannot exec into a container in a completed pod; current phase is {phase}")
    tty = bool(a.tty) and bool(a.stdin) and terminal_ok(ctx, quiet=a.quiet)
    query = [("container", container), *[("command", c) for c in command]]
    query += flags(stdin=bool(a.stdin), stdout=True, stderr=not tty, tty=tty)
    code = stream(ctx, meta.get("namespace") or ctx.namespace, meta["name"], "exec", query, tty)
    if code and not a.quiet:
        ctx.err(f"command terminated with exit code {code}")
    return code


def flags(**values: bool) -> list[tuple[str, str]]:
    return [(k, "true" if v else "false") for k, v in values.items()]


def terminal_ok(ctx: Ctx, quiet: bool = False) -> bool:
    """Whether stdin is a terminal a TTY session can use; says so (as kubectl) if not."""
    from kubectl import terminal

    try:
        ok = terminal.is_terminal(ctx.stdin.fileno())
    except (AttributeError, OSError, ValueError):
        ok = False
    if not ok and not quiet:
        ctx.err(NO_TTY)
    return ok


def _writer(out: IO[str]) -> Callable[[bytes], None]:
    """Bytes to a text stream: through its binary buffer when it has one (a terminal's
    escape sequences and partial UTF-8 pass untouched)."""
    buffer = getattr(out, "buffer", None)

    def write(data: bytes) -> None:
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:
            out.write(data.decode(errors="replace"))
            out.flush()

    return write


def stream(
    ctx: Ctx,
    namespace: str,
    pod: str,
    subresource: str,
    query: list[tuple[str, str]],
    tty: bool,
    streams: Streams | None = None,
) -> int:
    """Run one exec or attach session to its end; the exit code it reports. Output goes to
    the context's stdout and stderr (stdin from its stdin) unless ``streams`` says else."""
    import contextlib

    from api import remotecommand as rc
    from client.streaming import Streams, open_stream
    from kubectl import terminal

    stdin = dict(query).get("stdin") == "true"
    path = f"/api/v1/namespaces/{namespace}/pods/{pod}/{subresource}"
    if streams is None:
        fd = ctx.stdin.fileno() if stdin else None
        streams = Streams(_writer(ctx.stdout), _writer(ctx.stderr), fd)
    fd = streams.stdin_fd
    session = open_stream(ctx.config, path, query)
    try:
        with contextlib.ExitStack() as stack:
            if tty and fd is not None:
                stack.enter_context(terminal.raw_mode(fd))
                stack.enter_context(terminal.on_resize(fd, session.resize))
            return session.run(streams)
    except rc.StreamError as e:
        raise CliError(str(e)) from e
    finally:
        session.close()
        if tty:
            sys.stdout.flush()
