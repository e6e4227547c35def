"""What a fake container's command would do: the one model of commands the fake runtime
has, so the examples and the README tutorial behave as on Docker without any container.

Modelled, alone or in a ``sh -c`` script joined by ``;``, ``&&``, ``||`` or newlines:
``echo`` (its words go to the container's log), ``true``, ``:``, ``false``, ``sleep N``
(exits after N seconds), ``exit N``, ``set -e``, ``exec CMD``, ``nvidia-smi`` (lists the
GPUs the scheduler bound), and ``wget URL`` / ``curl URL`` (succeed at once, as network
probes do on the fake runtime: the ``helm test`` hook of ``helm create``). A command it does not model keeps running from that point, as a
server would (``python -m http.server``, ``httpd``, a ``while`` loop), except in a script
that ends in ``exit N``: there the others count as instant successes and the script exits
with N. An init container whose command is not modelled finishes with 0 at once (it did
its job), unless it mentions ``sleep`` (it then runs until the test calls ``exit``).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from kubelet.runtime.base import LABEL_CONTAINER_INIT, ContainerSpec

SHELLS = frozenset({"sh", "bash", "ash", "dash", "/bin/sh", "/bin/bash", "/bin/ash", "/bin/dash"})
_SEPARATORS = frozenset({";", "&&", "||"})
_SLEEP = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)([smhd]?)$")
_UNIT = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class Run:
    """One container's modelled life from its start."""

    output: tuple[tuple[float, str], ...] = ()  # (seconds after start, text written)
    exit_code: int | None = None  # None: keeps running until stopped
    after: float = 0.0  # seconds after start at which it exits
    modelled: bool = True  # False: nothing of the command was understood


_UNKNOWN = object()
_FOREVER = object()


@dataclass(frozen=True)
class _Step:
    status: int
    text: str = ""
    seconds: float = 0.0
    exit: bool = False  # ``exit N``: the shell ends here
    errexit: bool = False  # ``set -e``


def _expand(word: str, env: dict[str, str]) -> str:
    return _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), word)


def _nvidia_smi(spec: ContainerSpec) -> _Step:
    if not spec.gpu_uuids:
        return _Step(6, "No devices were found\n")
    lines = [f"GPU {i}: NVIDIA GPU (UUID: {u})\n" for i, u in enumerate(spec.gpu_uuids)]
    return _Step(0, "".join(lines))


def _step(words: list[str], spec: ContainerSpec, last: int) -> _Step | object:
    """One simple command: a ``_Step``, ``_FOREVER`` or ``_UNKNOWN``."""
    while words and words[0] == "exec":
        words = words[1:]
    if not words or any("`" in w or "$(" in w for w in words):
        return _UNKNOWN
    cmd, args = words[0].rsplit("/", 1)[-1], [_expand(w, spec.env) for w in words[1:]]
    if cmd == "echo":
        newline = "\n"
        while args and args[0] in ("-n", "-e", "-E"):
            newline = "" if args[0] == "-n" else newline
            args = args[1:]
        return _Step(0, " ".join(args) + newline)
    if cmd in ("true", ":"):
        return _Step(0)
    if cmd == "false":
        return _Step(1)
    if cmd == "sleep" and len(args) == 1:
        if args[0] == "infinity":
            return _FOREVER
        m = _SLEEP.match(args[0])
        return _Step(0, seconds=float(m.group(1)) * _UNIT[m.group(2)]) if m else _UNKNOWN
    if cmd == "exit" and len(args) <= 1:
        if args and not args[0].isdigit():
            return _UNKNOWN
        return _Step(int(args[0]) % 256 if args else last, exit=True)
    if cmd == "set" and args and all(a.startswith(("-", "+")) for a in args):
        return _Step(0, errexit=any("e" in a for a in args if a.startswith("-")))
    if cmd == "nvidia-smi":
        return _nvidia_smi(spec)
    if cmd in ("wget", "curl") and any(not a.startswith("-") for a in args):
        # Network calls succeed, as the fake runtime's network probes do (no process
        # answers, but the pods behind a Service count as serving): `helm test` hooks.
        return _Step(0)
    return _UNKNOWN


def _statements(script: str) -> list[tuple[str, list[str]]] | None:
    """``(separator before it, words)`` per simple command; None when the script uses
    shell syntax beyond ``;``, ``&&`` and ``||`` in a way shlex cannot split."""
    lexer = shlex.shlex(script.replace("\n", " ; "), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        return None
    out: list[tuple[str, list[str]]] = []
    sep = ";"
    words: list[str] = []
    for tok in tokens:
        if tok in _SEPARATORS:
            if words:
                out.append((sep, words))
            sep, words = tok, []
        else:
            words.append(tok)
    if words:
        out.append((sep, words))
    return out


def _punctuation(words: list[str]) -> bool:
    """Redirections, pipes, background jobs, sub-shells: not modelled."""
    return any(w and all(ch in "();<>|&" for ch in w) for w in words)


def _run_script(statements: list[tuple[str, list[str]]], spec: ContainerSpec) -> Run:
    last = statements[-1][1] if statements else []
    ends_in_exit = bool(last) and last[0] == "exit" and len(last) == 2 and last[1].isdigit()
    t, status, errexit = 0.0, 0, False
    output: list[tuple[float, str]] = []
    understood = False
    for sep, words in statements:
        if (sep == "&&" and status != 0) or (sep == "||" and status == 0):
            continue
        step = _UNKNOWN if _punctuation(words) else _step(words, spec, status)
        if step is _FOREVER:
            return Run(tuple(output), None, modelled=True)
        if not isinstance(step, _Step):
            if ends_in_exit:
                status = 0  # the old rule: a script ending in `exit N` ends with N
                continue
            return Run(tuple(output), None, modelled=understood)
        understood = True
        if step.text:
            output.append((t, step.text))
        t += step.seconds
        status = step.status
        errexit = errexit or step.errexit
        if step.exit or (errexit and status != 0 and sep == ";"):
            return Run(tuple(output), status, t)
    return Run(tuple(output), status, t)


def model(spec: ContainerSpec) -> Run:
    """What ``spec``'s command does once started (see the module docstring)."""
    words = [*(spec.command or []), *(spec.args or [])]
    if words and words[0] in SHELLS and "-c" in words[:-1]:
        statements = _statements(words[words.index("-c") + 1])
    elif words:
        statements = [(";", words)]
    else:
        statements = []  # the image's own command: not known here
    run = _run_script(statements, spec) if statements else Run(modelled=False)
    if run.exit_code is None and spec.labels.get(LABEL_CONTAINER_INIT) == "true":
        if not any("sleep" in w for w in words):
            return Run(run.output, 0, 0.0, run.modelled)
    return run
