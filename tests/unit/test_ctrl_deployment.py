"""Deployment reconcile: rolling-update invariants at every step, Recreate, rollback,
revision history, pause, progress deadline, conditions kubectl reads."""

from __future__ import annotations

import copy
import random

import pytest

from controllers import replicaset
from controllers.deployment import controller as deployment
from controllers.deployment.util import (
    HASH_LABEL,
    REVISION,
    surge_and_unavailable,
    template_hash,
    templates_equal,
)
from controllers.objutil import controller_ref, get_condition
from controllers.podutil import is_active, is_ready
from tests.unit.ctrl_world import World

NOW = 1_700_000_000.0


def dep(replicas: int = 10, image: str = "v1", **spec: object) -> dict:
    body = {
        "metadata": {"name": "web", "namespace": "default", "generation": 1},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
        },
    }
    body["spec"].update(spec)  # type: ignore[union-attr]
    return body


class Cluster:
    """Deployment + ReplicaSet controllers and a kubelet that readies pods of good images."""

    def __init__(self, d: dict, bad_images: tuple[str, ...] = ()) -> None:
        self.w = World(NOW)
        self.w.add("deployments", d)
        self.bad = bad_images
        self.samples = 0

    @property
    def d(self) -> dict:
        return self.w.get("deployments", "default", "web")  # type: ignore[return-value]

    def set_spec(self, **changes: object) -> None:
        d = self.d
        new = copy.deepcopy(d)
        new["spec"].update(changes)
        new["metadata"]["generation"] += 1
        self.w.objects[("deployments", "default", "web")] = new

    def set_image(self, image: str) -> None:
        t = copy.deepcopy(self.d["spec"]["template"])
        t["spec"]["containers"][0]["image"] = image
        self.set_spec(template=t)

    def run_deployment(self) -> None:
        self.w.apply(
            deployment.reconcile(
                self.d, self.w.list("replicasets"), self.w.list("pods"), self.w.now
            ).actions
        )

    def run_rs(self, name: str) -> None:
        rs = self.w.get("replicasets", "default", name)
        if rs is not None:
            self.w.apply(replicaset.reconcile(rs, self.w.list("pods"), self.w.now).actions)

    def run_kubelet(self) -> None:
        for p in self.w.list("pods"):
            image = p["spec"]["containers"][0]["image"]
            if image not in self.bad and not is_ready(p):
                self.w.set_pod_ready(p["metadata"]["name"])

    def check_invariants(self) -> None:
        d = self.d
        surge, unavailable = surge_and_unavailable(d)
        pods = [p for p in self.w.list("pods") if is_active(p)]
        ready = [p for p in pods if is_ready(p)]
        n = d["spec"]["replicas"]
        assert len(pods) <= n + surge, f"{len(pods)} pods > {n} + {surge}"
        assert len(ready) >= n - unavailable, f"{len(ready)} ready < {n} - {unavailable}"
        self.samples += 1

    def step_random(self, rng: random.Random) -> None:
        choices = ["deployment", "kubelet"] + [
            ("rs", rs["metadata"]["name"]) for rs in self.w.list("replicasets")
        ]
        c = rng.choice(choices)
        if c == "deployment":
            self.run_deployment()
        elif c == "kubelet":
            self.run_kubelet()
        else:
            self.run_rs(c[1])
        self.w.now += 0.1

    def settle(self, rounds: int = 60, check: bool = True) -> None:
        for _ in range(rounds):
            self.run_deployment()
            for rs in self.w.list("replicasets"):
                self.run_rs(rs["metadata"]["name"])
                if check:
                    self.check_invariants()
            self.run_kubelet()
            if check:
                self.check_invariants()
            self.w.now += 1


def pods_by_image(c: Cluster) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in c.w.list("pods"):
        if is_active(p):
            img = p["spec"]["containers"][0]["image"]
            out[img] = out.get(img, 0) + 1
    return out


def rollout_done(d: dict) -> bool:
    """kubectl rollout status's test (API-COMPAT §7)."""
    st = d.get("status") or {}
    n = d["spec"]["replicas"]
    prog = get_condition(d, "Progressing") or {}
    return (
        d["metadata"]["generation"] <= st.get("observedGeneration", 0)
        and st.get("updatedReplicas", 0) >= n
        and st.get("replicas", 0) <= st.get("updatedReplicas", 0)
        and st.get("availableReplicas", 0) >= st.get("updatedReplicas", 0)
        and prog.get("reason") != "ProgressDeadlineExceeded"
    )


def test_surge_rounds_up_unavailable_down() -> None:
    assert surge_and_unavailable(dep(10)) == (3, 2)
    assert surge_and_unavailable(dep(3)) == (1, 0)
    d = dep(4)
    d["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": 0, "maxUnavailable": 0}
    assert surge_and_unavailable(d) == (0, 1)
    d["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": "50%", "maxUnavailable": 2}
    assert surge_and_unavailable(d) == (2, 2)


def test_hash_is_stable_and_ignores_its_own_label() -> None:
    t = dep()["spec"]["template"]
    t2 = copy.deepcopy(t)
    t2["metadata"]["labels"][HASH_LABEL] = "x"
    assert template_hash(t) == template_hash(t2)
    assert templates_equal(t, t2)
    assert template_hash(t) != template_hash(t, 1)
    assert template_hash(t).isalnum()


def test_first_sync_creates_rs_with_hash_revision_and_owner() -> None:
    c = Cluster(dep(3))
    res = deployment.reconcile(c.d, [], [], NOW)
    (create,) = res.of("create", "replicasets")
    rs = create.body
    assert rs is not None
    h = rs["metadata"]["labels"][HASH_LABEL]
    assert rs["metadata"]["name"] == f"web-{h}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", HASH_LABEL: h}
    assert rs["spec"]["template"]["metadata"]["labels"][HASH_LABEL] == h
    assert rs["metadata"]["annotations"][REVISION] == "1"
    assert rs["spec"]["replicas"] == 3
    ref = rs["metadata"]["ownerReferences"][0]
    assert ref["controller"] and ref["kind"] == "Deployment"
    assert [e.message for e in res.of("event")] == [f"Scaled up replica set web-{h} from 0 to 3"]
    assert [e.reason for e in res.of("event")] == ["ScalingReplicaSet"]


@pytest.mark.parametrize("seed", range(8))
def test_rolling_update_invariants_hold_at_every_step(seed: int) -> None:
    rng = random.Random(seed)
    c = Cluster(dep(10))
    c.settle(check=False)
    assert rollout_done(c.d) and pods_by_image(c) == {"v1": 10}
    c.set_image("v2")
    for _ in range(4000):
        c.step_random(rng)
        c.check_invariants()
        if pods_by_image(c) == {"v2": 10} and rollout_done(c.d):
            break
    c.settle(5)
    assert pods_by_image(c) == {"v2": 10}
    assert rollout_done(c.d)
    st = c.d["status"]
    assert (
        st["replicas"]
        == st["updatedReplicas"]
        == st["readyReplicas"]
        == st["availableReplicas"]
        == 10
    )
    assert st["unavailableReplicas"] == 0
    prog = get_condition(c.d, "Progressing")
    assert prog and prog["reason"] == "NewReplicaSetAvailable" and prog["status"] == "True"
    avail = get_condition(c.d, "Available")
    assert avail and avail["status"] == "True" and avail["reason"] == "MinimumReplicasAvailable"
    assert c.d["metadata"]["annotations"][REVISION] == "2"
    assert c.samples > 50


@pytest.mark.parametrize("surge,unavail", [(0, 1), (1, 0), ("50%", "50%"), (3, 2)])
def test_rolling_update_bounds_with_other_settings(surge: object, unavail: object) -> None:
    d = dep(4)
    d["spec"]["strategy"]["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavail}
    c = Cluster(d)
    c.settle(check=False)
    c.set_image("v2")
    c.settle(40)
    assert pods_by_image(c) == {"v2": 4} and rollout_done(c.d)


def test_recreate_stops_all_old_pods_before_new_ones() -> None:
    c = Cluster(dep(3, strategy={"type": "Recreate"}))
    c.settle(check=False)
    c.set_image("v2")
    seen_mixed = False
    for _ in range(30):
        c.run_deployment()
        for rs in c.w.list("replicasets"):
            c.run_rs(rs["metadata"]["name"])
        imgs = pods_by_image(c)
        seen_mixed |= len(imgs) > 1
        c.run_kubelet()
        c.w.now += 1
    assert not seen_mixed
    assert pods_by_image(c) == {"v2": 3} and rollout_done(c.d)


def test_rollback_reuses_old_rs_and_bumps_its_revision() -> None:
    c = Cluster(dep(4, revisionHistoryLimit=10))
    c.settle(check=False)
    first_rs = {rs["metadata"]["name"] for rs in c.w.list("replicasets")}
    c.set_image("v2")
    c.settle()
    # What `kubectl rollout undo` does: copy the old RS template (minus its hash label) back.
    (old,) = [rs for rs in c.w.list("replicasets") if rs["metadata"]["name"] in first_rs]
    t = copy.deepcopy(old["spec"]["template"])
    del t["metadata"]["labels"][HASH_LABEL]
    c.set_spec(template=t)
    c.settle()
    assert {rs["metadata"]["name"] for rs in c.w.list("replicasets")} == first_rs | {
        rs["metadata"]["name"] for rs in c.w.list("replicasets")
    }
    assert len(c.w.list("replicasets")) == 2
    back = c.w.get("replicasets", "default", old["metadata"]["name"])
    assert back is not None and back["metadata"]["annotations"][REVISION] == "3"
    assert back["spec"]["replicas"] == 4
    assert c.d["metadata"]["annotations"][REVISION] == "3"
    assert pods_by_image(c) == {"v1": 4} and rollout_done(c.d)
    assert c.w.conflicts == []  # one write per RS per step: no self-inflicted 409s


def test_revision_history_limit_deletes_oldest_idle_replicasets() -> None:
    c = Cluster(dep(2, revisionHistoryLimit=1))
    c.settle(check=False)
    for img in ("v2", "v3", "v4"):
        c.set_image(img)
        c.settle(check=False)
    rss = c.w.list("replicasets")
    revs = sorted(int(rs["metadata"]["annotations"][REVISION]) for rs in rss)
    assert revs == [3, 4]


def test_restarted_at_annotation_rolls_pods() -> None:
    c = Cluster(dep(2))
    c.settle(check=False)
    before = {p["metadata"]["name"] for p in c.w.list("pods")}
    t = copy.deepcopy(c.d["spec"]["template"])
    t["metadata"]["annotations"] = {"kubectl.kubernetes.io/restartedAt": "2024-01-01T00:00:00Z"}
    c.set_spec(template=t)
    c.settle()
    after = {p["metadata"]["name"] for p in c.w.list("pods")}
    assert not before & after and len(after) == 2


def test_pause_holds_the_rollout_and_resume_continues() -> None:
    c = Cluster(dep(3))
    c.settle(check=False)
    c.set_spec(paused=True)
    c.set_image("v2")
    c.settle(5)
    assert pods_by_image(c) == {"v1": 3}
    prog = get_condition(c.d, "Progressing")
    assert prog and prog["reason"] == "DeploymentPaused" and prog["status"] == "Unknown"
    c.set_spec(replicas=5)  # scaling still works while paused
    c.settle(5, check=False)
    assert pods_by_image(c) == {"v1": 5}
    c.set_spec(paused=False)
    c.settle()
    assert pods_by_image(c) == {"v2": 5} and rollout_done(c.d)


def test_progress_deadline_exceeded_without_rollback() -> None:
    c = Cluster(dep(4, progressDeadlineSeconds=30), bad_images=("broken",))
    c.settle(check=False)
    c.set_image("broken")
    for _ in range(10):
        c.settle(1)
    prog = get_condition(c.d, "Progressing")
    assert prog and prog["status"] == "True"  # not yet: 10 s < 30 s
    c.settle(40)
    prog = get_condition(c.d, "Progressing")
    assert prog and prog["status"] == "False" and prog["reason"] == "ProgressDeadlineExceeded"
    assert prog["message"].startswith('ReplicaSet "web-')
    assert not rollout_done(c.d)
    # No automatic rollback: the broken template stays, old pods keep serving.
    assert c.d["spec"]["template"]["spec"]["containers"][0]["image"] == "broken"
    imgs = pods_by_image(c)
    assert imgs["v1"] >= 3 and imgs["broken"] >= 1
    # The requeue asks to be woken up for the deadline, not polled.
    c2 = Cluster(dep(4, progressDeadlineSeconds=30), bad_images=("broken",))
    c2.settle(check=False)
    c2.set_image("broken")
    c2.settle(3)
    res = deployment.reconcile(c2.d, c2.w.list("replicasets"), c2.w.list("pods"), c2.w.now)
    assert res.requeue_after is not None and res.requeue_after <= 30.1


def test_undo_after_deadline_brings_previous_version_back() -> None:
    c = Cluster(dep(4, progressDeadlineSeconds=10), bad_images=("broken",))
    c.settle(check=False)
    v1 = copy.deepcopy(c.d["spec"]["template"])
    c.set_image("broken")
    c.settle(30)
    assert (get_condition(c.d, "Progressing") or {}).get("reason") == "ProgressDeadlineExceeded"
    c.set_spec(template=v1)
    c.settle()
    assert pods_by_image(c) == {"v1": 4} and rollout_done(c.d)


def test_scale_up_and_down_without_template_change() -> None:
    c = Cluster(dep(3))
    c.settle(check=False)
    c.set_spec(replicas=6)
    c.settle(check=False)
    assert pods_by_image(c) == {"v1": 6}
    c.set_spec(replicas=1)
    c.settle(check=False)
    assert pods_by_image(c) == {"v1": 1} and len(c.w.list("replicasets")) == 1


def test_orphan_replicaset_is_adopted() -> None:
    c = Cluster(dep(2))
    c.settle(check=False)
    (rs,) = c.w.list("replicasets")
    stored = c.w.get("replicasets", "default", rs["metadata"]["name"])
    assert stored is not None
    del stored["metadata"]["ownerReferences"]
    res = deployment.reconcile(c.d, c.w.list("replicasets"), c.w.list("pods"), c.w.now)
    (adopt,) = res.of("patch", "replicasets")
    assert adopt.body["metadata"]["ownerReferences"][0]["uid"] == c.d["metadata"]["uid"]  # type: ignore[index]
    assert not res.of("create")
    c.w.apply(res.actions)
    assert controller_ref(c.w.get("replicasets", "default", rs["metadata"]["name"]) or {})
