"""The event correlator's decisions: dedupe and count, similar-event aggregation, the
per-object spam filter, the routine-reason budget, and coalescing of queued writes."""

from __future__ import annotations

from typing import Any

from client.eventcorrelation import (
    COMBINED_PREFIX,
    Correlation,
    EventCorrelator,
    EventLimits,
    coalesce,
    involved_object,
)

Obj = dict[str, Any]
T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def pod(name: str = "web", uid: str = "u1") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "prod", "uid": uid, "resourceVersion": "7"},
    }


def correlator(clock: Clock, **limits: Any) -> EventCorrelator:
    return EventCorrelator(
        "kubelet", "node-1", host="node-1", limits=EventLimits(**limits), clock=clock
    )


def must(c: Correlation | None) -> Correlation:
    assert c is not None, "the event was skipped"
    return c


def test_a_repeat_is_the_same_event_with_count_and_last_timestamp() -> None:
    clock = Clock()
    c = correlator(clock)
    first = must(c.correlate(pod(), "Warning", "BackOff", "Back-off restarting", "spec.x"))
    clock.now += 61
    second = must(c.correlate(pod(), "Warning", "BackOff", "Back-off restarting", "spec.x"))
    assert first.create and not second.create
    assert second.event["metadata"]["name"] == first.event["metadata"]["name"]
    assert (first.event["count"], second.event["count"]) == (1, 2)
    assert second.event["firstTimestamp"] == first.event["firstTimestamp"] == "2023-11-14T22:13:20Z"
    assert second.event["lastTimestamp"] == "2023-11-14T22:14:21Z"
    assert second.patch() == {
        "count": 2,
        "lastTimestamp": "2023-11-14T22:14:21Z",
        "message": "Back-off restarting",
    }


def test_another_message_field_path_or_object_is_another_event() -> None:
    c = correlator(Clock())
    base = must(c.correlate(pod(), "Normal", "Pulled", "m1", "spec.containers{a}"))
    others = [
        must(c.correlate(pod(), "Normal", "Pulled", "m2", "spec.containers{a}")),
        must(c.correlate(pod(), "Normal", "Pulled", "m1", "spec.containers{b}")),
        must(c.correlate(pod("db", "u2"), "Normal", "Pulled", "m1", "spec.containers{a}")),
        must(c.correlate(pod(), "Warning", "Pulled", "m1", "spec.containers{a}")),
    ]
    names = {o.event["metadata"]["name"] for o in others}
    assert all(o.create for o in others)
    assert len(names) == 4 and base.event["metadata"]["name"] not in names


def test_the_event_names_its_object_and_source() -> None:
    e = must(correlator(Clock()).correlate(pod(), "Normal", "Started", "ok", "spec.c{a}")).event
    assert e["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "web",
        "namespace": "prod",
        "uid": "u1",
        "resourceVersion": "7",
        "fieldPath": "spec.c{a}",
    }
    assert e["metadata"]["namespace"] == "prod" and e["metadata"]["name"].startswith("web.")
    assert e["source"] == {"component": "kubelet", "host": "node-1"}
    assert (e["reportingComponent"], e["reportingInstance"]) == ("kubelet", "node-1")
    # A cluster-scoped object: no namespace in the reference; the Event lives in default.
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "n"}}
    assert "namespace" not in involved_object(node)
    ev = must(EventCorrelator("ctl").correlate(node, "Normal", "NodeNotReady", "x")).event
    assert ev["metadata"]["namespace"] == "default" and ev["source"] == {"component": "ctl"}


def test_past_ten_messages_for_one_reason_new_ones_are_combined() -> None:
    clock = Clock()
    c = correlator(clock)
    own = [must(c.correlate(pod(), "Normal", "Created", f"pod-{i}")) for i in range(10)]
    assert all(o.create and not o.event["message"].startswith("(combined") for o in own)
    combined = [must(c.correlate(pod(), "Normal", "Created", f"pod-{i}")) for i in range(10, 13)]
    assert [x.key[-1] for x in combined] == ["combined"] * 3
    assert combined[0].event["message"] == COMBINED_PREFIX + "pod-10"
    assert combined[2].event["message"] == COMBINED_PREFIX + "pod-12"
    # One combined Event whose count grows, with the latest message.
    assert combined[0].create and not combined[1].create and combined[2].event["count"] == 3
    assert len({x.event["metadata"]["name"] for x in combined}) == 1
    # A message seen before the group filled keeps its own Event.
    again = must(c.correlate(pod(), "Normal", "Created", "pod-3"))
    assert again.event["metadata"]["name"] == own[3].event["metadata"]["name"]
    assert again.event["count"] == 2
    # Another reason about the same object is another group.
    assert must(c.correlate(pod(), "Normal", "Killing", "pod-11")).key[-1] == "pod-11"
    # A group idle for longer than the interval starts afresh.
    clock.now += 601
    fresh = must(c.correlate(pod(), "Normal", "Created", "pod-99"))
    assert fresh.key[-1] == "pod-99" and fresh.create


def test_spam_filter_allows_a_burst_per_object_then_one_per_refill() -> None:
    clock = Clock()
    c = correlator(clock, spam_burst=3, spam_qps=0.1)
    sent = [c.correlate(pod(), "Warning", "Unhealthy", "probe failed") for _ in range(5)]
    assert [s is not None for s in sent] == [True, True, True, False, False]
    # Another object has its own bucket.
    assert c.correlate(pod("db", "u2"), "Warning", "Unhealthy", "probe failed") is not None
    clock.now += 10  # one token back
    late = must(c.correlate(pod(), "Warning", "Unhealthy", "probe failed"))
    # The skipped repeats were counted: the next write carries them.
    assert late.event["count"] == 6 and not late.create
    assert c.correlate(pod(), "Warning", "Unhealthy", "probe failed") is None


def test_routine_reasons_share_one_budget_and_others_are_not_limited_by_it() -> None:
    clock = Clock()
    c = correlator(clock, routine_reasons=frozenset({"Scheduled"}), routine_qps=1, routine_burst=2)
    routine = [c.correlate(pod(f"p{i}", f"u{i}"), "Normal", "Scheduled", "ok") for i in range(4)]
    assert [r is not None for r in routine] == [True, True, False, False]
    failures = [c.correlate(pod(f"p{i}", f"u{i}"), "Warning", "Failed", "x") for i in range(4)]
    assert all(f is not None for f in failures)
    clock.now += 1
    assert c.correlate(pod("p9", "u9"), "Normal", "Scheduled", "ok") is not None
    unlimited = correlator(clock, routine_reasons=frozenset({"Scheduled"}))  # qps 0: no limit
    assert all(
        unlimited.correlate(pod(f"p{i}", f"u{i}"), "Normal", "Scheduled", "ok") for i in range(50)
    )


def test_coalesce_keeps_the_latest_write_of_each_event_and_a_pending_create() -> None:
    c = correlator(Clock())
    a1, a2, a3 = (must(c.correlate(pod(), "Normal", "R", "a")) for _ in range(3))
    b1 = must(c.correlate(pod(), "Normal", "R", "b"))
    b2 = must(c.correlate(pod(), "Normal", "R", "b"))
    out = coalesce([a1, b1, a2, a3])
    assert [(w.event["message"], w.event["count"], w.create) for w in out] == [
        ("a", 3, True),
        ("b", 1, True),
    ]
    # Both already created: the latest count as a patch.
    assert [(w.event["count"], w.create) for w in coalesce([a2, a3])] == [(3, False)]
    assert [(w.event["count"], w.create) for w in coalesce([b2])] == [(2, False)]


def test_caches_stay_bounded() -> None:
    c = correlator(Clock(), cache_size=8)
    first = must(c.correlate(pod("p0", "u0"), "Normal", "R", "m"))
    for i in range(1, 20):
        c.correlate(pod(f"p{i}", f"u{i}"), "Normal", "R", "m")
    assert max(len(c._seen), len(c._groups), len(c._spam)) == 8
    # p0 was forgotten: its next event is a new one (not a patch of a long-gone name).
    again = must(c.correlate(pod("p0", "u0"), "Normal", "R", "m"))
    assert again.create and again.event["metadata"]["name"] != first.event["metadata"]["name"]
