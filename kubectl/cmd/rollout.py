"""``kl rollout status|history|undo|restart|pause|resume`` for Deployments (and status,
history, undo and restart for DaemonSets and StatefulSets, whose history is in
ControllerRevisions)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from api.registry import ResourceInfo
from client.reflector import Listing, Reflector
from kubectl.cli import KlParser, add_bool_flag
from kubectl.context import Ctx
from kubectl.describing.common import pod_template
from kubectl.describing.writer import Page
from kubectl.errors import CliError
from kubectl.printers.age import rfc3339
from kubectl.printers.names import kind_prefix, plural_prefix
from kubectl.printers.tabwriter import tabwrite
from kubectl.resources import parse_one
from kubectl.rollouts import (
    RESTARTED_AT,
    RolloutFailed,
    controller_revision_template,
    daemonset_status_message,
    find_controller_revision,
    find_revision,
    history,
    owned_replicasets,
    owned_revisions,
    revision_history,
    revision_of,
    rollback_patch,
    rollback_template,
    same_template,
    statefulset_status_message,
    status_message,
)

EXAMPLES = {
    "status": "  kl rollout status deploy/web              # progress until done (exit 1 if it fails)\n"
    "  kl rollout status deploy/web --timeout=120\n"
    "  kl rollout status deploy/web --watch=false # one line, now",
    "history": "  kl rollout history deploy/web\n  kl rollout history deploy/web --revision=2",
    "undo": "  kl rollout undo deploy/web                 # back to the previous revision\n"
    "  kl rollout undo deploy/web --to-revision=1",
    "restart": "  kl rollout restart deploy/web              # new pods, same spec",
    "pause": "  kl rollout pause deploy/web                # edits pile up without a rollout",
    "resume": "  kl rollout resume deploy/web",
}


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "rollout",
        parents=[parent],
        help="Manage the rollout of a Deployment",
        description="Manage the rollout of a Deployment.",
        epilog="examples:\n" + "\n".join(EXAMPLES.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(run=_need_verb)
    verbs = p.add_subparsers(title="rollout verbs", metavar="VERB", parser_class=KlParser)
    summaries = {
        "status": "Show the rollout's progress until it completes",
        "history": "List the revisions",
        "undo": "Roll back to an earlier revision",
        "restart": "Replace every pod (same spec)",
        "pause": "Stop rolling out changes",
        "resume": "Roll out changes again",
    }
    runners = {
        "status": status,
        "history": show_history,
        "undo": undo,
        "restart": restart,
        "pause": pause,
        "resume": resume,
    }
    for name, summary in summaries.items():
        v = verbs.add_parser(
            name,
            parents=[parent],
            help=summary,
            description=summary,
            epilog="examples:\n" + EXAMPLES[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        v.add_argument("targets", nargs="+", metavar="TYPE NAME | TYPE/NAME")
        if name == "status":
            add_bool_flag(v, "--watch", True, "keep watching until done (default true)")
            v.add_argument(
                "--timeout",
                type=float,
                default=0,
                help="give up after this many seconds (0: no limit)",
            )
            v.add_argument(
                "--revision", type=int, default=0, help="accepted for kubectl compatibility"
            )
        if name in ("history",):
            v.add_argument("--revision", type=int, default=0, help="show this revision's template")
        if name == "undo":
            v.add_argument(
                "--to-revision",
                type=int,
                default=0,
                help="the revision to go back to (0: the previous one)",
            )
        v.set_defaults(run=runners[name], verb_name=name)


def _need_verb(ctx: Ctx) -> int:
    raise CliError("say which: kl rollout status|history|undo|restart|pause|resume TYPE/NAME")


# What ``rollout status`` reads from each kind: (message, done).
STATUS_VIEWERS: dict[str, Callable[[dict[str, Any]], tuple[str, bool]]] = {
    "Deployment": status_message,
    "DaemonSet": daemonset_status_message,
    "StatefulSet": statefulset_status_message,
}
# The kinds whose history ``rollout history/undo`` reads from ControllerRevisions.
REVISION_KINDS = ("DaemonSet", "StatefulSet")


def _target(ctx: Ctx, kinds: tuple[str, ...]) -> tuple[ResourceInfo, str]:
    info, name = parse_one(ctx.args.targets, "rollout")
    if info.kind not in kinds:
        names = ", ".join(f"{k.lower()}s" for k in kinds)
        raise CliError(f"rollout {ctx.args.verb_name} works on {names}; {info.plural} have none")
    return info, name


def _deployment(ctx: Ctx) -> tuple[ResourceInfo, str]:
    return _target(ctx, ("Deployment",))


def _rollable(ctx: Ctx) -> tuple[ResourceInfo, str]:
    return _target(ctx, ("Deployment", *REVISION_KINDS))


def status(ctx: Ctx) -> int:
    info, name = _target(ctx, tuple(STATUS_VIEWERS))
    viewer = STATUS_VIEWERS[info.kind]
    ns = ctx.namespace
    deadline = time.monotonic() + ctx.args.timeout if ctx.args.timeout else None
    last_line = ""

    def show(d: dict[str, Any]) -> bool:
        nonlocal last_line
        try:
            msg, done = viewer(d)
        except RolloutFailed as e:
            raise CliError(str(e)) from e
        if msg != last_line:
            ctx.out(msg)
            last_line = msg
        return done

    d = ctx.client.get(info, name, ns)
    if show(d) or not ctx.args.watch:
        return 0
    # Watch on from what was read; the reflector resumes dropped streams, lists again
    # (this one Deployment) after a 410 and ends each stream by the deadline.
    reflector = Reflector(
        f"{info.singular} {name}",
        str(d["metadata"].get("resourceVersion", "")) or None,
        watch_timeout=60,
        deadline=deadline,
    )
    for item in ctx.client.list_and_watch(
        info,
        ns,
        field_selector=f"metadata.name={name}",
        reflector=reflector,
        stopped=reflector.expired,
    ):
        if isinstance(item, Listing):
            found = item.body["items"]
            if not found:
                raise CliError(f'{info.singular} "{name}" was deleted')
            obj = found[0]
        elif item.get("type") == "DELETED":
            raise CliError(f'{info.singular} "{name}" was deleted')
        elif item.get("type") in ("ADDED", "MODIFIED"):
            obj = item.get("object") or {}
        else:
            continue  # a BOOKMARK: only where to resume from
        if show(obj):
            return 0
    raise CliError(f"timed out waiting for the condition ({last_line})")


def _replicasets(ctx: Ctx, d: dict[str, Any]) -> list[dict[str, Any]]:
    sel = (d.get("spec") or {}).get("selector") or {}
    text = ",".join(f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items()))
    items = ctx.client.list_all(
        "replicasets", d["metadata"].get("namespace"), label_selector=text or None
    )["items"]
    return owned_replicasets(d, items)


def _revisions(ctx: Ctx, owner: dict[str, Any]) -> list[dict[str, Any]]:
    items = ctx.client.list_all("controllerrevisions", owner["metadata"].get("namespace"))
    return owned_revisions(owner, items["items"])


def show_history(ctx: Ctx) -> int:
    info, name = _rollable(ctx)
    d = ctx.client.get(info, name, ctx.namespace)
    prefix = f"{kind_prefix(info)}/{name}"
    if info.kind in REVISION_KINDS:
        revs = _revisions(ctx, d)
        entries = revision_history(revs)
        template = (
            controller_revision_template(r)
            if ctx.args.revision and (r := find_controller_revision(revs, ctx.args.revision))
            else None
        )
    else:
        rss = _replicasets(ctx, d)
        entries = history(rss)
        rs = find_revision(rss, ctx.args.revision) if ctx.args.revision else None
        template = rollback_template(rs) if rs is not None else None
    if ctx.args.revision:
        if template is None:
            raise CliError(f"unable to find the specified revision {ctx.args.revision}")
        page = Page()
        pod_template(page, 0, template)
        ctx.out(f"{prefix} with revision #{ctx.args.revision}")
        ctx.stdout.write(page.text())
        return 0
    rows = [[str(rev), cause] for rev, cause in entries]
    if not rows:
        ctx.out(f"No rollout history found for {prefix}.")
        return 0
    ctx.out(f"{prefix} ")
    # kubectl lays this table out with two spaces between columns, not three.
    lines = [["REVISION", "CHANGE-CAUSE"], *rows]
    ctx.stdout.write(tabwrite("\n".join("\t".join(r) for r in lines) + "\n", padding=2))
    ctx.out("")
    return 0


def _undo_from_revisions(ctx: Ctx, info: ResourceInfo, d: dict[str, Any], prefix: str) -> int:
    """kubectl's DaemonSetRollbacker: the revision's data is the patch to send back."""
    to = ctx.args.to_revision
    rev = find_controller_revision(_revisions(ctx, d), to)
    if rev is None:
        if to:
            raise CliError(f"unable to find specified revision {to} in history")
        raise CliError(f'no rollout history found for {info.singular} "{d["metadata"]["name"]}"')
    if same_template(
        (d.get("spec") or {}).get("template") or {}, controller_revision_template(rev)
    ):
        ctx.out(
            f"{prefix} skipped rollback (current template already matches revision "
            f"{rev.get('revision')})"
        )
        return 0
    ctx.client.patch(
        info, d["metadata"]["name"], rev.get("data") or {}, ctx.namespace, patch_type="strategic"
    )
    ctx.out(f"{prefix} rolled back")
    return 0


def undo(ctx: Ctx) -> int:
    info, name = _rollable(ctx)
    d = ctx.client.get(info, name, ctx.namespace)
    prefix = f"{kind_prefix(info)}/{name}"
    if info.kind in REVISION_KINDS:
        return _undo_from_revisions(ctx, info, d, prefix)
    if (d.get("spec") or {}).get("paused"):
        raise CliError(
            "you cannot rollback a paused deployment; resume it first with "
            f"'kl rollout resume {prefix}' and try again"
        )
    rss = _replicasets(ctx, d)
    to = ctx.args.to_revision
    rs = find_revision(rss, to)
    if rs is None:
        if to:
            raise CliError(f"unable to find specified revision {to} in history")
        raise CliError(f'no rollout history found for deployment "{name}"')
    rev = revision_of(rs)
    if same_template((d.get("spec") or {}).get("template") or {}, rollback_template(rs)):
        ctx.out(f"{prefix} skipped rollback (current template already matches revision {rev})")
        return 0
    ctx.client.patch(info, name, rollback_patch(d, rs), ctx.namespace, patch_type="json")
    ctx.out(f"{prefix} rolled back")
    return 0


def restart(ctx: Ctx) -> int:
    info, name = _rollable(ctx)
    d = ctx.client.get(info, name, ctx.namespace)
    prefix = f"{kind_prefix(info)}/{name}"
    if (d.get("spec") or {}).get("paused"):
        raise CliError(f"can't restart paused deployment (run 'kl rollout resume {prefix}' first)")
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: rfc3339()}}}}}
    ctx.client.patch(info, name, patch, ctx.namespace, patch_type="strategic")
    ctx.out(f"{prefix} restarted")
    return 0


def _set_paused(ctx: Ctx, paused: bool) -> int:
    info, name = _deployment(ctx)
    d = ctx.client.get(info, name, ctx.namespace)
    if bool((d.get("spec") or {}).get("paused")) == paused:
        state = "already paused" if paused else "not paused"
        raise CliError(f'{plural_prefix(info)} "{name}" is {state}')
    ctx.client.patch(
        info,
        name,
        {"spec": {"paused": True if paused else None}},
        ctx.namespace,
        patch_type="strategic",
    )
    ctx.out(f"{kind_prefix(info)}/{name} {'paused' if paused else 'resumed'}")
    return 0


def pause(ctx: Ctx) -> int:
    return _set_paused(ctx, True)


def resume(ctx: Ctx) -> int:
    return _set_paused(ctx, False)
