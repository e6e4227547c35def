"""Kinds kl does not know built in (custom resources), found through the server's
aggregated discovery, as kubectl finds every kind: a name that ``api.registry`` does not
know is looked up once per invocation in ``/apis`` and the custom kinds found there are
added to the registry's overlay (so ``kl get widgets``, ``kl apply -f`` of a custom
object and the printers all see them)."""

from __future__ import annotations

from typing import Any

from api import registry
from api.registry import ResourceInfo

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"


def infos_from_aggregated(doc: dict[str, Any]) -> list[ResourceInfo]:
    """Every resource of an APIGroupDiscoveryList the built-in table lacks, each group's
    versions in the server's order of preference."""
    out: list[ResourceInfo] = []
    for item in doc.get("items") or []:
        group = str((item.get("metadata") or {}).get("name") or "")
        for v in item.get("versions") or []:
            version = str(v.get("version") or "")
            for r in v.get("resources") or []:
                plural = str(r.get("resource") or "")
                if registry.by_version_plural(group, version, plural) is not None:
                    continue
                kind = str((r.get("responseKind") or {}).get("kind") or "")
                out.append(
                    ResourceInfo(
                        group,
                        version,
                        kind,
                        plural,
                        str(r.get("singularResource") or kind.lower()),
                        r.get("scope") == "Namespaced",
                        tuple(r.get("shortNames") or ()),
                        tuple(r.get("categories") or ()),
                        subresources=tuple(
                            str(s.get("subresource")) for s in r.get("subresources") or []
                        ),
                        verbs=tuple(r.get("verbs") or ()),
                        custom=True,
                    )
                )
    return out


def learn_custom_kinds(client: Any) -> None:
    """Ask the server's ``/apis`` for the kinds it serves and add the custom ones."""
    reply = client.request("GET", "/apis", headers={"accept": AGGREGATED})
    doc = reply.json()
    if doc.get("kind") == "APIGroupDiscoveryList":
        registry.add_custom(infos_from_aggregated(doc))
