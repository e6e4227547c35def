"""Where a pod placed on a node is in its life, and what to do about it: the part of
``kl why`` after scheduling. Pure: a pod, its events and the time in, lines out.

The states, in the order a pod meets them: waiting (a container cannot start: image,
config, runtime, crash loop), not ready (running, but a readiness or startup probe has
not passed), ready, finished (Succeeded or Failed, with exit codes); and being deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kubectl.printers.age import age

Obj = dict[str, Any]

# Waiting reasons of a container that is simply on its way (no fix to suggest).
STARTING = {"ContainerCreating", "PodInitializing"}
IMAGE_PULL = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName"}


def _status(pod: Obj) -> Obj:
    return pod.get("status") or {}


def _name(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("name") or "")


def _condition(pod: Obj, ctype: str) -> Obj | None:
    for c in _status(pod).get("conditions") or []:
        if c.get("type") == ctype:
            return dict(c)
    return None


def _specs(pod: Obj, key: str) -> dict[str, Obj]:
    return {str(c.get("name")): c for c in (pod.get("spec") or {}).get(key) or []}


def _when(e: Obj) -> str:
    return str(e.get("lastTimestamp") or e.get("eventTime") or e.get("firstTimestamp") or "")


def _one_line(text: Any) -> str:
    return " ".join(str(text or "").split())


def last_event(events: list[Obj], at: datetime | None = None) -> str | None:
    """``last event: Warning Failed x3, 5s ago: ...``: the latest Warning, else the latest."""
    if not events:
        return None
    warnings = [e for e in events if e.get("type") == "Warning"]
    # Of events at the same second the wordier one: the kubelet follows "Failed to pull
    # image ...: why" with a bare "Error: ErrImagePull".
    e = max(warnings or events, key=lambda e: (_when(e), len(str(e.get("message") or ""))))
    count = int(e.get("count") or 1)
    times = f" x{count}" if count > 1 else ""
    return (
        f"last event: {e.get('type') or 'Normal'} {e.get('reason')}{times}, "
        f"{age(_when(e) or None, at)} ago: {_one_line(e.get('message'))}"
    )


def _events_for(events: list[Obj], container: str) -> list[Obj]:
    """Events about one container (``fieldPath: spec.containers{NAME}``), or the pod."""
    mine = [
        e
        for e in events
        if f"{{{container}}}" in str((e.get("involvedObject") or {}).get("fieldPath") or "")
    ]
    return mine or events


def _pull_policy(spec: Obj) -> str:
    policy = spec.get("imagePullPolicy")
    if policy:
        return str(policy)
    last = str(spec.get("image") or "").rsplit("/", 1)[-1]
    return "Always" if "@" not in last and (":" not in last or last.endswith(":latest")) else ""


def waiting_fix(reason: str, message: str, spec: Obj, pod: Obj) -> str | None:
    """What to do about a container waiting for ``reason`` (None: nothing, it is starting)."""
    image = spec.get("image") or "?"
    node = (pod.get("spec") or {}).get("nodeName") or "the node"
    name, container = _name(pod), spec.get("name") or "?"
    if reason in IMAGE_PULL:
        always = _pull_policy(spec) == "Always"
        return (
            f'fix: image "{image}" could not be pulled to {node}: check its name and tag; '
            "if you built it yourself, this cluster has no registry: build or load it on "
            f"{node} (docker build / docker load) and set imagePullPolicy: IfNotPresent"
            + (
                " (the pull policy is Always now, the default for an untagged or :latest "
                "image, so even a local copy is pulled again)"
                if always
                else ""
            )
        )
    if reason == "ErrImageNeverPull":
        return (
            f'fix: image "{image}" is not on {node} and imagePullPolicy is Never: build or '
            "load it there (docker build / docker load), or allow a pull with "
            "imagePullPolicy: IfNotPresent"
        )
    if reason == "CrashLoopBackOff":
        return (
            "fix: the container keeps exiting and is restarted after a growing delay: read "
            f"what it printed before it stopped with `kl logs {name} -c {container} "
            "--previous`, then fix its command, arguments or configuration"
        )
    if reason == "CreateContainerConfigError":
        return (
            "fix: the container's configuration names something that is not there (a "
            "ConfigMap, Secret or key of one): create it in the pod's namespace or fix the "
            "reference; the kubelet retries by itself"
        )
    if reason in ("CreateContainerError", "RunContainerError", "StartError"):
        return (
            "fix: the container runtime refused to create or start it (see the message: "
            "a command that does not exist in the image, a bad mount or device): fix the "
            "container's command, volumes or resources"
        )
    if reason in STARTING and message.startswith("MountVolume.SetUp failed"):
        return (
            "fix: a volume's ConfigMap or Secret is not there: create it in the pod's "
            "namespace (or mark the volume optional: true); the pod starts by itself then"
        )
    if reason in STARTING:
        return None
    return f"fix: see `kl describe pod {name}` for the kubelet's events about {reason}"


def _terminated(t: Obj) -> str:
    code = t.get("exitCode")
    words = f"exited with code {code}"
    if t.get("reason"):
        words += f" ({t['reason']})"
    if t.get("signal"):
        words += f", signal {t['signal']}"
    if t.get("message"):
        words += f": {_one_line(t['message'])}"
    return words


def _container_lines(
    statuses: list[Obj], specs: dict[str, Obj], kind: str, pod: Obj
) -> tuple[list[str], list[str]]:
    """(lines describing the waiting containers, the fix for each reason once)."""
    lines: list[str] = []
    fixes: list[str] = []
    for cs in statuses:
        waiting = (cs.get("state") or {}).get("waiting")
        if not isinstance(waiting, dict):
            continue
        cname = str(cs.get("name") or "?")
        reason = str(waiting.get("reason") or "Waiting")
        message = _one_line(waiting.get("message"))
        lines.append(f"  {kind} {cname}: {reason}" + (f": {message}" if message else ""))
        last = (cs.get("lastState") or {}).get("terminated")
        if isinstance(last, dict):
            restarts = int(cs.get("restartCount") or 0)
            lines.append(f"    last run {_terminated(last)}; restarted {restarts} times")
        fix = waiting_fix(reason, message, specs.get(cname, {"name": cname}), pod)
        if fix and fix not in fixes:
            fixes.append(fix)
    return lines, fixes


def _probe_words(probe: Obj) -> str:
    if "httpGet" in probe:
        g = probe["httpGet"]
        action = f"httpGet {g.get('path', '/')} on port {g.get('port')}"
    elif "tcpSocket" in probe:
        action = f"tcpSocket on port {probe['tcpSocket'].get('port')}"
    elif "exec" in probe:
        action = "exec " + " ".join(str(w) for w in (probe["exec"].get("command") or []))
    else:
        action = "no action"
    return f"{action}, every {probe.get('periodSeconds') or 10}s"


def _not_ready_lines(pod: Obj, events: list[Obj], at: datetime | None) -> list[str]:
    specs = _specs(pod, "containers")
    lines: list[str] = []
    fixes: list[str] = []
    for cs in _status(pod).get("containerStatuses") or []:
        if cs.get("ready"):
            continue
        cname = str(cs.get("name") or "?")
        spec = specs.get(cname, {})
        started = cs.get("started")
        probe = spec.get("readinessProbe")
        which = "readiness"
        if started is False and spec.get("startupProbe"):
            probe, which = spec.get("startupProbe"), "startup"
        failed = [
            e
            for e in _events_for(events, cname)
            if e.get("reason") == "Unhealthy"
            and str(e.get("message") or "").lower().startswith(which)
        ]
        if probe:
            lines.append(f"  container {cname}: running, {which} probe ({_probe_words(probe)})")
            if failed:
                e = max(failed, key=_when)
                count = sum(int(x.get("count") or 1) for x in failed)
                lines.append(
                    f"    failed {count} times, last {age(_when(e) or None, at)} ago: "
                    f"{_one_line(e.get('message'))}"
                )
            else:
                lines.append("    it has not passed yet (no failure reported)")
            fixes.append(
                f"fix: make the {which} probe of {cname} pass (is the app listening on that "
                "port and path, does it answer in time?), or give it longer with "
                "initialDelaySeconds / failureThreshold; until it passes, Services send "
                "this pod no traffic"
            )
        else:
            lines.append(f"  container {cname}: running, not ready yet")
    if not lines:
        ready = _condition(pod, "Ready") or {}
        reason = ready.get("reason") or "NotReady"
        lines.append(f"  condition Ready=False reason={reason}: {_one_line(ready.get('message'))}")
    return ["not ready:", *lines, *fixes]


def _finished_lines(pod: Obj) -> list[str]:
    st = _status(pod)
    phase = st.get("phase")
    head = f"finished: {phase}"
    if st.get("reason"):
        head += f" ({st['reason']})"
    if st.get("message"):
        head += f": {_one_line(st['message'])}"
    lines = [head]
    for key, kind in (
        ("initContainerStatuses", "init container"),
        ("containerStatuses", "container"),
    ):
        for cs in st.get(key) or []:
            t = (cs.get("state") or {}).get("terminated")
            if isinstance(t, dict):
                lines.append(f"  {kind} {cs.get('name')}: {_terminated(t)}")
    failed = [
        cs.get("name")
        for cs in st.get("containerStatuses") or []
        if ((cs.get("state") or {}).get("terminated") or {}).get("exitCode") not in (None, 0)
    ]
    if phase == "Failed" and failed:
        lines.append(
            f"fix: read what it printed with `kl logs {_name(pod)} -c {failed[0]}`; "
            "a nonzero exit code is the program's own failure"
        )
    return lines


def pod_state(pod: Obj) -> str:
    """``unscheduled``, ``finished``, ``waiting``, ``not-ready`` or ``ready``."""
    if not (pod.get("spec") or {}).get("nodeName"):
        return "unscheduled"
    st = _status(pod)
    if st.get("phase") in ("Succeeded", "Failed"):
        return "finished"
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in st.get(key) or []:
            if isinstance((cs.get("state") or {}).get("waiting"), dict):
                return "waiting"
    if not st.get("containerStatuses"):
        return "waiting"
    ready = _condition(pod, "Ready")
    return "ready" if ready and ready.get("status") == "True" else "not-ready"


def explain_lifecycle(pod: Obj, events: list[Obj], at: datetime | None = None) -> list[str]:
    """Lines for a placed pod: its state, each container's reason and message, the last
    event and the fix (``at``: the time ages are counted to, now by default)."""
    state = pod_state(pod)
    lines: list[str] = []
    meta = pod.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        grace = meta.get("deletionGracePeriodSeconds")
        lines.append(
            "being deleted"
            + (f" (grace period {grace}s)" if grace is not None else "")
            + ": its containers are being stopped"
        )
    if state == "finished":
        lines.extend(_finished_lines(pod))
    elif state == "waiting":
        st = _status(pod)
        init, init_fixes = _container_lines(
            st.get("initContainerStatuses") or [],
            _specs(pod, "initContainers"),
            "init container",
            pod,
        )
        main, main_fixes = _container_lines(
            st.get("containerStatuses") or [], _specs(pod, "containers"), "container", pod
        )
        if not init and not main:
            lines.append("waiting: the kubelet has not reported its containers yet")
        else:
            restarting = any(
                (cs.get("lastState") or {}).get("terminated")
                for cs in st.get("containerStatuses") or []
                if (cs.get("state") or {}).get("waiting")
            )
            lines.append("waiting to restart:" if restarting else "waiting to start:")
            lines.extend(init + main)
        ev = last_event(events, at)
        if ev:
            lines.append(ev)
        lines.extend(init_fixes + [f for f in main_fixes if f not in init_fixes])
    elif state == "not-ready":
        lines.extend(_not_ready_lines(pod, events, at))
        ev = last_event(events, at)
        if ev:
            lines.append(ev)
    elif state == "ready":
        st = _status(pod)
        statuses = st.get("containerStatuses") or []
        restarts = sum(int(cs.get("restartCount") or 0) for cs in statuses)
        ip = st.get("podIP")
        lines.append(
            f"running and ready: {len(statuses)} of {len(statuses)} containers ready"
            + (f", {restarts} restarts" if restarts else "")
            + (f", IP {ip}" if ip else "")
        )
    return lines
