"""Turning what a user types (``po``, ``deploy/web``, ``pods,svc``, ``all``) into kinds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from api.registry import ResourceInfo, all_resources, lookup
from kubectl.errors import CliError


@dataclass
class Target:
    """One kind and the names asked for (empty: the whole collection)."""

    info: ResourceInfo
    names: list[str] = field(default_factory=list)


# Set by the invocation (kubectl/context.py): asks the server's discovery for the custom
# kinds it serves, each time a name is not in the registry (a CRD applied a moment ago).
discover: Callable[[], None] | None = None


def _lookup(name: str) -> ResourceInfo | None:
    info = lookup(name)
    if info is None and "." in name:
        info = lookup(name.split(".", 1)[0])
    return info


def resolve_kind(name: str) -> ResourceInfo:
    """The kind a user typed (built in, or a custom kind the server's discovery lists),
    or an error worded like kubectl's."""
    info = _lookup(name)
    if info is None and discover is not None:
        discover()
        info = _lookup(name)
    if info is None:
        raise CliError(f'the server doesn\'t have a resource type "{name}"')
    return info


def expand_kinds(text: str) -> list[ResourceInfo]:
    """``pods,svc`` → [pods, services]; ``all`` → every kind in the ``all`` category."""
    out: list[ResourceInfo] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if part == "all":
            out.extend(r for r in all_resources() if "all" in r.categories)
        else:
            out.append(resolve_kind(part))
    seen: list[ResourceInfo] = []
    for r in out:
        if r not in seen:
            seen.append(r)
    return seen


def parse_targets(words: list[str]) -> list[Target]:
    """``TYPE[,TYPE] [NAME...]`` or ``TYPE/NAME...`` → targets in the order typed."""
    if not words:
        return []
    if "/" in words[0]:
        targets: list[Target] = []
        for w in words:
            kind, sep, name = w.partition("/")
            if not sep or not kind or not name:
                raise CliError(
                    f"there is no need to specify a resource type as a separate argument when "
                    f"passing arguments in resource/name form (e.g. 'kl get resource/<name>' "
                    f"instead of 'kl get resource resource/<name>'): {w!r}"
                )
            info = resolve_kind(kind)
            for t in targets:
                if t.info == info:
                    t.names.append(name)
                    break
            else:
                targets.append(Target(info, [name]))
        return targets
    kinds = expand_kinds(words[0])
    names = words[1:]
    for n in names:
        if "/" in n:
            raise CliError(
                f"arguments in resource/name form must have a single resource and name: {n!r}"
            )
    if names and len(kinds) > 1:
        raise CliError("names can only be given with a single resource type")
    return [Target(k, list(names)) for k in kinds]


def parse_one(words: list[str], verb: str) -> tuple[ResourceInfo, str]:
    """Exactly one object: ``TYPE NAME`` or ``TYPE/NAME``."""
    targets = parse_targets(words)
    if len(targets) != 1 or len(targets[0].names) != 1:
        raise CliError(f"{verb} needs exactly one object: TYPE NAME or TYPE/NAME")
    return targets[0].info, targets[0].names[0]


def registry_info(name: str) -> ResourceInfo:
    """A kind kl itself relies on (``pods``, ``nodes``…): always in the registry."""
    info = lookup(name)
    if info is None:
        raise LookupError(f"kind {name!r} is missing from api.registry")
    return info
