"""Scale to zero's pure decisions (issue 20 item 3): the annotations (api/scaletozero.py),
the controller's idle window and wake-up (controllers/scaletozero_decide.py), the
activator's hold, timeout reply and report (kubelet/activator.py), and the kernel rules
for a marked Service (kubelet/proxy_rules.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from api.scaletozero import (
    ACTIVATION_TIMEOUT,
    ACTIVATOR,
    SCALE_TO_ZERO_AFTER,
    SERVICE_ACTIVITY,
    ActivatorMark,
    ServiceActivity,
    activator_mark,
    encode_activity,
    format_time,
    node_activity,
    parse_duration,
)
from controllers.scaletozero_decide import SLEPT, WOKEN, decide
from kubelet.activator import (
    REPORT_SECONDS,
    Activator,
    counted_connections,
    looks_like_http,
    report_due,
    timeout_reply,
)
from kubelet.proxy_rules import plan

Obj = dict[str, Any]
NOW = 1_800_000_000.0
UID = "c0ffee00-0000-4000-8000-000000000001"


def deployment(replicas: int = 1, idle: str | None = "10m", **notes: str) -> Obj:
    annotations = dict(notes)
    if idle is not None:
        annotations[SCALE_TO_ZERO_AFTER] = idle
    return {
        "metadata": {"name": "llm", "namespace": "ml", "annotations": annotations},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "llm"}},
            "template": {"metadata": {"labels": {"app": "llm", "tier": "gpu"}}},
        },
    }


def service(name: str = "llm", selector: dict[str, str] | None = None, **notes: str) -> Obj:
    return {
        "metadata": {"name": name, "namespace": "ml", "annotations": dict(notes)},
        "spec": {"selector": selector or {"app": "llm"}, "ports": [{"port": 80}]},
    }


def marked(timeout: float = 300.0, name: str = "llm") -> Obj:
    return service(name, **{ACTIVATOR: ActivatorMark("llm", timeout).encode()})


def pod(ready_at: float | None) -> Obj:
    cond = {"type": "Ready", "status": "False"}
    if ready_at is not None:
        cond = {"type": "Ready", "status": "True", "lastTransitionTime": format_time(ready_at)}
    return {
        "metadata": {"name": "llm-1", "namespace": "ml", "labels": {"app": "llm"}},
        "status": {"phase": "Running" if ready_at else "Pending", "conditions": [cond]},
    }


def report(last: float | None = None, waiting: int = 0) -> dict[str, ServiceActivity]:
    return {"ml/llm": ServiceActivity(last, waiting)}


def scaled_to(d: Any) -> list[int]:
    return [a.body["spec"]["replicas"] for a in d.actions if a.resource == "deployments"]


def reasons(d: Any) -> list[str]:
    return [a.reason for a in d.actions if a.verb == "event"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10m", 600), ("90s", 90), ("1h30m", 5400), ("2.5s", 2.5), ("300", 300), ("500ms", 0.5)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten minutes", "10x", "m10", "-5", "10m junk"])
def test_bad_durations_say_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match="duration|negative"):
        parse_duration(text)


def test_activity_round_trips_through_the_node_annotation() -> None:
    rep = {"ml/llm": ServiceActivity(NOW, 3), "ml/idle": ServiceActivity(None, 0)}
    node = {"metadata": {"annotations": {SERVICE_ACTIVITY: encode_activity(rep)}}}
    got = node_activity(node)
    assert got["ml/llm"].waiting == 3
    assert got["ml/llm"].last_request == pytest.approx(NOW)
    assert got["ml/idle"] == ServiceActivity(None, 0)
    assert node_activity({"metadata": {"annotations": {SERVICE_ACTIVITY: "{bad"}}}) == {}


def test_services_of_an_opted_in_deployment_get_the_mark_with_its_timeout() -> None:
    other = service("other", {"app": "other"})
    own = service("fast", **{ACTIVATION_TIMEOUT: "30s"})
    d = decide(
        "ml",
        "llm",
        deployment(**{ACTIVATION_TIMEOUT: "10m"}),
        [service(), own, other],
        [pod(NOW)],
        [],
        NOW,
    )
    marks = {
        a.name: json.loads(a.body["metadata"]["annotations"][ACTIVATOR])
        for a in d.actions
        if a.resource == "services"
    }
    assert marks == {
        "llm": {"deployment": "llm", "timeoutSeconds": 600.0},
        "fast": {"deployment": "llm", "timeoutSeconds": 30.0},
    }
    assert activator_mark(marked(600.0)) == ActivatorMark("llm", 600.0)


def test_a_deployment_that_opts_out_or_goes_takes_its_marks_away() -> None:
    foreign = service("x", **{ACTIVATOR: ActivatorMark("someone-else", 5).encode()})
    for d in (deployment(idle=None), None):
        out = decide("ml", "llm", d, [marked(), foreign], [], [], NOW)
        patched = [(a.name, a.body) for a in out.actions if a.resource == "services"]
        assert patched == [("llm", {"metadata": {"annotations": {ACTIVATOR: None}}})]
        assert not scaled_to(out)


def test_idle_is_counted_from_the_last_replica_ready() -> None:
    window = 600.0
    early = decide("ml", "llm", deployment(), [marked()], [pod(NOW - 599)], [report()], NOW)
    assert not scaled_to(early)
    assert early.requeue_after == pytest.approx(1.0)
    late = decide("ml", "llm", deployment(), [marked()], [pod(NOW - window)], [report()], NOW)
    assert scaled_to(late) == [0]
    assert reasons(late) == [SLEPT]


def test_a_request_after_ready_restarts_the_window() -> None:
    seen = [report(NOW - 100), {}]
    d = decide("ml", "llm", deployment(), [marked()], [pod(NOW - 3600)], seen, NOW)
    assert not scaled_to(d)
    assert d.requeue_after == pytest.approx(500.0)


def test_a_model_still_loading_is_never_idle() -> None:
    loading = [pod(NOW - 3600), pod(None)]
    d = decide("ml", "llm", deployment(replicas=2), [marked()], loading, [report()], NOW)
    assert not scaled_to(d)
    # ... nor one whose only replica never turned Ready.
    d = decide("ml", "llm", deployment(), [marked()], [pod(None)], [report()], NOW)
    assert not scaled_to(d)


def test_waiting_connections_wake_it_at_once_and_keep_it_up() -> None:
    d = decide("ml", "llm", deployment(replicas=0), [marked()], [], [{}, report(waiting=4)], NOW)
    assert scaled_to(d) == [1]
    assert reasons(d) == [WOKEN]
    busy = [report(NOW - 3600, waiting=1)]
    d = decide("ml", "llm", deployment(), [marked()], [pod(NOW - 3600)], busy, NOW)
    assert not scaled_to(d)
    quiet = decide("ml", "llm", deployment(replicas=0), [marked()], [], [report(NOW)], NOW)
    assert not scaled_to(quiet)


def test_without_a_service_nothing_could_wake_it_so_it_stays() -> None:
    d = decide("ml", "llm", deployment(), [], [pod(NOW - 3600)], [], NOW)
    assert not scaled_to(d)
    assert reasons(d) == ["NoService"]
    # Not before it would sleep: its Service may simply be made after it.
    assert reasons(decide("ml", "llm", deployment(), [], [pod(NOW - 1)], [], NOW)) == []


def test_an_hpa_on_the_same_deployment_is_a_warning_and_no_scaling() -> None:
    old = [pod(NOW - 3600)]
    d = decide("ml", "llm", deployment(), [marked()], old, [], NOW, ["llm-hpa"])
    assert not scaled_to(d)
    assert reasons(d) == ["ConflictingAutoscaler"]
    assert "llm-hpa" in d.actions[-1].message


def test_an_unreadable_window_is_a_warning_and_no_scaling() -> None:
    d = decide("ml", "llm", deployment(idle="soon"), [marked()], [pod(NOW - 3600)], [], NOW)
    assert not scaled_to(d)
    assert reasons(d) == ["InvalidScaleToZero"]
    assert SCALE_TO_ZERO_AFTER in d.actions[-1].message


# -- the kubelet's side ------------------------------------------------------------------


def test_a_timed_out_http_request_gets_a_503_anything_else_a_close() -> None:
    reply = timeout_reply(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "ml/llm", 300)
    assert reply is not None and reply.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"ml/llm has no ready endpoint after 300s" in reply
    assert timeout_reply(b"\x16\x03\x01 tls hello", "ml/llm", 300) is None
    assert timeout_reply(b"", "ml/llm", 300) is None
    assert looks_like_http(b"POST /v1/completions HTTP/1.1\r\n")
    assert not looks_like_http(b"GETX / HTTP/1.1\r\n")


def test_the_report_is_written_at_once_when_waiting_changes_else_at_most_every_period() -> None:
    idle = {"ml/llm": ServiceActivity(NOW, 0)}
    waiting = {"ml/llm": ServiceActivity(NOW, 2)}
    later = {"ml/llm": ServiceActivity(NOW + 1, 0)}
    assert report_due(None, waiting, 0, NOW)
    assert not report_due(None, {}, 0, NOW)
    assert report_due(idle, waiting, NOW, NOW)  # a wake-up never waits
    assert report_due(waiting, idle, NOW, NOW)
    assert not report_due(idle, later, NOW, NOW + 1)
    assert report_due(idle, later, NOW, NOW + REPORT_SECONDS)
    assert not report_due(idle, idle, 0, NOW)


def test_kernel_counters_that_grew_are_requests() -> None:
    def listing(n: int) -> str:
        rule = {"chain": "svc-abc", "expr": [{"counter": {"packets": n, "bytes": 60 * n}}]}
        other = {"chain": "sep-abc", "expr": [{"counter": {"packets": 99, "bytes": 1}}]}
        return json.dumps({"nftables": [{"table": {}}, {"rule": rule}, {"rule": other}]})

    chains = {"svc-abc": "ml/llm"}
    grew, base = counted_connections(listing(2), chains, {})
    assert grew == {"ml/llm"} and base == {"svc-abc": 2}
    assert counted_connections(listing(2), chains, base)[0] == set()
    assert counted_connections(listing(3), chains, base)[0] == {"ml/llm"}


def test_the_kernel_redirects_a_marked_service_at_zero_and_counts_it_when_up() -> None:
    svc = marked()
    svc["spec"].update(clusterIP="10.43.0.7", type="NodePort")
    svc["spec"]["ports"] = [{"name": "http", "port": 80, "nodePort": 30080}]
    holds = {("ml/llm", "http"): 41234}
    at_zero = plan(UID, "n1", [svc], {}, hold_ports=holds).script
    assert "ip daddr 10.43.0.7 tcp dport 80 redirect to :41234" in at_zero
    assert "tcp dport 30080 redirect to :41234" in at_zero
    assert "ip daddr 10.43.0.7 tcp dport 80 reject" not in at_zero
    assert "tcp dport { 41234 } fib daddr type local ct status & dnat == 0 reject" in at_zero
    eps = {
        "ml/llm": {
            "subsets": [
                {"addresses": [{"ip": "10.42.0.9"}], "ports": [{"name": "http", "port": 8080}]}
            ]
        }
    }
    up = plan(UID, "n1", [svc], eps, hold_ports=holds)
    assert "redirect" not in up.script
    (sp,) = up.ports
    assert sp.counted and f"chain svc-{sp.chain_id} {{\n\t\tcounter\n" in up.script
    # An unmarked Service at zero is refused, as before.
    plain = service()
    plain["spec"]["clusterIP"] = "10.43.0.8"
    assert "tcp dport 80 reject" in plan(UID, "n1", [plain], {}).script


@pytest.mark.anyio
async def test_a_held_connection_is_released_with_what_the_client_sent() -> None:
    demand: list[int] = []
    act = Activator(on_demand=lambda: demand.append(1))
    backends: list[tuple[str, int]] = []
    reader = asyncio.StreamReader()
    reader.feed_data(b"GET / HTTP/1.1\r\n\r\n")
    held = asyncio.create_task(act.hold("ml/llm", lambda: backends, 30, reader))
    await asyncio.sleep(0.05)
    assert not held.done()
    assert act.report({"ml/llm"}) == {"ml/llm": ServiceActivity(None, 1)}
    backends.append(("10.42.0.9", 8080))
    act.endpoints_changed()
    got, early = await asyncio.wait_for(held, 2)
    assert got == [("10.42.0.9", 8080)] and early == b"GET / HTTP/1.1\r\n\r\n"
    assert len(demand) == 2  # waiting began, waiting ended
    assert act.report({"ml/llm"}) == {}


@pytest.mark.anyio
async def test_a_held_connection_gives_up_at_its_timeout_or_when_the_client_goes() -> None:
    act = Activator()
    reader = asyncio.StreamReader()
    got, _ = await asyncio.wait_for(act.hold("ml/llm", lambda: [], 0.2, reader), 2)
    assert got == []
    gone = asyncio.StreamReader()
    gone.feed_eof()
    got, _ = await asyncio.wait_for(act.hold("ml/llm", lambda: [], 30, gone), 2)
    assert got == []
    assert act.report({"ml/llm"}) == {}
