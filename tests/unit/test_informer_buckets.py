"""client.informer: the cache kept per namespace, keyed by the names objects hold."""

from __future__ import annotations

import asyncio
from typing import Any

from client.informer import Informer

Obj = dict[str, Any]


def obj(name: str, ns: str | None, rv: int) -> Obj:
    meta: Obj = {"name": name, "resourceVersion": str(rv)}
    if ns:
        meta["namespace"] = ns
    return {"metadata": meta}


def feed(inf: Informer, *events: tuple[str, Obj]) -> None:
    async def main() -> None:
        for etype, o in events:
            await inf._apply({"type": etype, "object": o})

    asyncio.run(main())


def test_namespaced_objects_by_key_and_by_namespace() -> None:
    inf = Informer(None, "pods")  # type: ignore[arg-type]  # no I/O: events fed directly
    seen: list[tuple[str, str]] = []
    inf.add_handler(
        on_add=lambda o: seen.append(("add", o["metadata"]["name"])),
        on_update=lambda old, new: seen.append(("update", old["metadata"]["resourceVersion"])),
        on_delete=lambda o: seen.append(("delete", o["metadata"]["name"])),
    )
    a1, b1, a2 = obj("a", "ns1", 1), obj("b", "ns1", 2), obj("a", "ns2", 3)
    feed(inf, ("ADDED", a1), ("ADDED", b1), ("ADDED", a2))
    assert len(inf) == 3 and sorted(inf.keys()) == ["ns1/a", "ns1/b", "ns2/a"]
    assert inf.get("ns1/a") is a1 and inf.get("ns2/a") is a2 and inf.get("ns3/a") is None
    assert inf.in_namespace("ns1") == [a1, b1] and inf.in_namespace("nope") == []
    newer = obj("a", "ns1", 4)
    feed(inf, ("MODIFIED", newer), ("MODIFIED", obj("a", "ns1", 1)))  # the second: a replay
    assert inf.get("ns1/a") is newer and len(inf) == 3
    feed(inf, ("DELETED", obj("b", "ns1", 5)), ("DELETED", obj("a", "ns2", 6)))
    assert len(inf) == 1 and inf.keys() == ["ns1/a"] and inf.list() == [newer]
    assert inf.in_namespace("ns2") == [] and inf.get("ns2/a") is None
    assert seen == [("add", "a"), ("add", "b"), ("add", "a"), ("update", "1")] + [
        ("delete", "b"),
        ("delete", "a"),
    ]


def test_cluster_scoped_objects_have_plain_names() -> None:
    inf = Informer(None, "nodes")  # type: ignore[arg-type]
    n1, n2 = obj("n1", None, 1), obj("n2", None, 2)
    feed(inf, ("ADDED", n1), ("ADDED", n2))
    assert sorted(inf.keys()) == ["n1", "n2"] and inf.get("n1") is n1
    assert inf.in_namespace(None) == [n1, n2] and len(inf) == 2
    feed(inf, ("DELETED", obj("n1", None, 3)))
    assert inf.keys() == ["n2"] and inf.get("n1") is None and len(inf) == 1
