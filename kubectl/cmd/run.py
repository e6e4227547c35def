"""``kl run NAME --image=IMG``: create one pod, as ``kubectl run`` does; with ``-i`` wait
for it and attach to it (the same WebSocket attach as ``kl attach``), with ``--rm`` delete
it when the session ends, and with ``--restart=Never`` or ``OnFailure`` exit with its
container's exit code. Flags, the pod it makes and its messages are kubectl 1.35's."""

from __future__ import annotations

import argparse
import time
from typing import Any

from api.errors import ApiError
from kubectl.cli import add_verb
from kubectl.cmd.exec import flags, stream, terminal_ok
from kubectl.context import Ctx
from kubectl.errors import CliError

EXAMPLES = """
  kl run web --image=nginx:1.27 --port=80          # a pod, restarted if it exits
  kl run -it --rm shell --image=busybox --restart=Never -- sh
  kl run once --image=busybox --restart=Never -i --rm -- sh -c 'echo hi; exit 3'
  kl run probe --image=curlimages/curl --command -- curl -s http://web
  kl run env --image=busybox --env=MODE=fast --labels=app=env,team=ml -- env
"""

RESTART_POLICIES = ("Always", "OnFailure", "Never")
# kubectl 1.35 says this before attaching with stdin: what is typed ends up in the log.
RECORDED = (
    "All commands and output from this session will be recorded in container logs, "
    "including credentials and sensitive information passed through the command prompt."
)
PROMPT_HINT = "If you don't see a command prompt, try pressing enter."
POLL_SECONDS = 0.25


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "run", "Run a particular image in a pod", EXAMPLES)
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--image", help="the container image (required)")
    p.add_argument(
        "--restart",
        default="Always",
        help="the pod's restartPolicy: Always (default), OnFailure or Never",
    )
    p.add_argument("-i", "--stdin", action="store_true", help="attach, with stdin open")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a TTY (needs -i)")
    p.add_argument("--rm", action="store_true", help="delete the pod when the session ends")
    p.add_argument(
        "--command",
        action="store_true",
        help="the words after -- are the command, not the image's arguments",
    )
    p.add_argument("--env", action="append", default=[], metavar="K=V", help="environment variable")
    p.add_argument("-l", "--labels", default="", help="labels, e.g. app=web,team=ml")
    p.add_argument("--port", type=int, help="the port the container exposes")
    p.add_argument(
        "-q", "--quiet", action="store_true", help="only print output from the remote session"
    )
    p.add_argument(
        "--pod-running-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long to wait for the pod to run before attaching (default 60)",
    )
    p.set_defaults(run=run)


def _pairs(text: str, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"invalid {what} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def pod_manifest(
    name: str,
    image: str,
    *,
    restart: str,
    words: list[str],
    command: bool,
    env: list[str],
    labels: str,
    port: int | None,
    stdin: bool,
    tty: bool,
) -> dict[str, Any]:
    """The pod ``kubectl run`` creates: one container named NAME, label ``run=NAME``
    unless ``--labels`` says else, the trailing words as args (``--command``: command)."""
    container: dict[str, Any] = {"name": name, "image": image}
    if words:
        container["command" if command else "args"] = list(words)
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in _env(env).items()]
    if port is not None:
        container["ports"] = [{"containerPort": port}]
    if stdin:
        # stdinOnce: the container's stdin closes when this one session detaches.
        container.update({"stdin": True, "stdinOnce": True})
    if tty:
        container["tty"] = True
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": _pairs(labels, "label") or {"run": name}},
        "spec": {"restartPolicy": restart, "containers": [container]},
    }


def _env(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"invalid env {item!r}: expected NAME=VALUE")
        out[key] = value
    return out


def _check(a: argparse.Namespace) -> None:
    hint = " (see 'kl run --help')"
    if not a.name:
        raise CliError("NAME is required for run" + hint)
    if not a.image:
        raise CliError('required flag(s) "image" not set')
    if a.restart not in RESTART_POLICIES:
        raise CliError(f"invalid restart policy: {a.restart}" + hint)
    if a.tty and not a.stdin:
        raise CliError("-i/--stdin is required for containers with -t/--tty=true" + hint)
    if a.rm and not a.stdin:
        raise CliError("--rm should only be used for attached containers" + hint)


def run(ctx: Ctx) -> int:
    a = ctx.args
    _check(a)
    body = pod_manifest(
        a.name,
        a.image,
        restart=a.restart,
        words=list(a.trailing),
        command=a.command,
        env=a.env,
        labels=a.labels,
        port=a.port,
        stdin=a.stdin,
        tty=a.tty,
    )
    ns = ctx.namespace
    ctx.client.create("pods", body, ns)
    if not a.stdin:
        ctx.out(f"pod/{a.name} created")
        return 0
    try:
        code = _attached(ctx, ns, a.name, a.restart)
    finally:
        if a.rm:
            ctx.client.delete("pods", a.name, ns)
            ctx.out(f'pod "{a.name}" deleted from {ns} namespace')
    return code


def _phase(pod: dict[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def _wait_pod(ctx: Ctx, ns: str, name: str, until: tuple[str, ...], timeout: float) -> Any:
    """Poll the pod until its phase is one of ``until``; CliError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        pod = ctx.client.get("pods", name, ns)
        if _phase(pod) in until:
            return pod
        if time.monotonic() >= deadline:
            raise CliError(
                f"timed out waiting for the condition on pods/{name}: it is {_phase(pod)}; "
                "raise --pod-running-timeout or see `kl why " + name + "`"
            )
        time.sleep(POLL_SECONDS)


def _attached(ctx: Ctx, ns: str, name: str, restart: str) -> int:
    """Attach once the pod runs (its log instead when it already ended, or the attach
    fails, as kubectl); then, for Never/OnFailure, the container's exit code."""
    a = ctx.args
    done = ("Succeeded", "Failed")
    pod = _wait_pod(ctx, ns, name, ("Running", *done), a.pod_running_timeout)
    tty = bool(a.tty) and terminal_ok(ctx, quiet=a.quiet)
    if not a.quiet:
        ctx.err(RECORDED)
        ctx.err(PROMPT_HINT)
    if _phase(pod) in done:
        _print_log(ctx, ns, name)
    else:
        query = [("container", name)]
        query += flags(stdin=True, stdout=True, stderr=not tty, tty=tty)
        try:
            stream(ctx, ns, name, "attach", query, tty)
        except (CliError, ApiError) as e:
            reason = e.message if isinstance(e, CliError) else str(e)
            ctx.err(
                f"warning: couldn't attach to pod/{name}, falling back to streaming logs: {reason}"
            )
            _print_log(ctx, ns, name)
    if restart == "Always":
        return 0
    until = done if restart == "Never" else ("Succeeded",)
    pod = _wait_pod(ctx, ns, name, until, timeout=float("inf"))
    return _exit_code(ctx, pod)


def _print_log(ctx: Ctx, ns: str, name: str) -> None:
    ctx.stdout.write(ctx.client.log(name, ns, container=name, follow=True))
    ctx.stdout.flush()


def _exit_code(ctx: Ctx, pod: dict[str, Any]) -> int:
    """0 for Succeeded; a failed container's code with kubectl's line."""
    meta = pod["metadata"]
    where = f"{meta.get('namespace')}/{meta['name']}"
    if _phase(pod) == "Succeeded":
        return 0
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    terminated = ((statuses[0].get("state") or {}).get("terminated") if statuses else None) or {}
    code = int(terminated.get("exitCode") or 0)
    if not code:
        raise CliError(f"pod {where} failed with unknown exit code")
    message = terminated.get("message") or ""
    ctx.err(f"pod {where} terminated ({terminated.get('reason') or 'Error'})")
    if message:
        ctx.err(str(message).rstrip("\n"))
    return code
