"""Mirror pods of kubelab up's processes (kubelab/mirror_pods.py), pure: the pod made for
a process, when to make it again, its status from the process, the command shown without
secrets; and the admission rules for them (no Pod Security refusal, the check back once
the annotation goes)."""

from __future__ import annotations

from typing import Any

import pytest

from api.errors import ApiError
from api.mirror import MIRROR_ANNOTATION, is_mirror_pod
from apiserver.admission import check_pod_security
from kubelab.mirror_pods import (
    COMPONENTS,
    ProcessState,
    desired_pod,
    desired_status,
    next_step,
    shown_command,
)

NODE = {"metadata": {"name": "box1", "uid": "node-uid-1"}}
ARGV = ["/usr/bin/python3", "-m", "kubelab", "dns", "--port", "53"]
NOW = "2026-12-04T12:00:00Z"


def dns_pod() -> dict[str, Any]:
    return desired_pod(COMPONENTS["dns"], NODE, ARGV)


def test_the_pod_of_a_process_is_bound_owned_and_marked() -> None:
    pod = dns_pod()
    meta = pod["metadata"]
    assert (meta["name"], meta["namespace"]) == ("kube-dns-box1", "kube-system")
    assert is_mirror_pod(pod) and len(meta["annotations"][MIRROR_ANNOTATION]) == 32
    assert meta["ownerReferences"][0]["uid"] == "node-uid-1"
    assert pod["spec"]["nodeName"] == "box1" and pod["spec"]["hostNetwork"] is True
    assert pod["spec"]["containers"][0]["command"] == ["kubelab", "dns", "--port", "53"]


def test_the_command_hides_a_database_url() -> None:
    argv = ["py", "-m", "kubelab", "apiserver", "--db", "postgresql://u:secret@h/db", "--x"]
    assert shown_command(argv) == ["kubelab", "apiserver", "--db", "<hidden>", "--x"]


def test_when_a_mirror_pod_is_made_again() -> None:
    want = dns_pod()
    assert next_step(None, want) == "create"
    assert next_step(want, want) == "keep"
    deleting = {**want, "metadata": {**want["metadata"], "deletionTimestamp": NOW}}
    assert next_step(deleting, want) == "replace"
    other_node = desired_pod(COMPONENTS["dns"], {"metadata": {"name": "box1", "uid": "n2"}}, ARGV)
    assert next_step(want, other_node) == "replace"  # the Node was made again
    changed = desired_pod(COMPONENTS["dns"], NODE, [*ARGV, "--ttl", "5"])
    assert next_step(want, changed) == "replace"


def test_a_running_process_is_a_ready_container() -> None:
    state = ProcessState(pid=4242, running=True, started_at=NOW, restarts=0)
    st = desired_status(dns_pod(), state, "10.0.0.5", NOW)
    (cs,) = st["containerStatuses"]
    assert cs["containerID"] == "process://4242" and cs["ready"] is True
    assert st["phase"] == "Running" and st["podIP"] == "10.0.0.5"
    assert {c["type"]: c["status"] for c in st["conditions"]}["Ready"] == "True"


def test_a_dead_process_waits_in_a_crash_loop_with_its_exit() -> None:
    state = ProcessState(
        pid=4242, running=False, started_at=NOW, restarts=2, exit_code=137, finished_at=NOW
    )
    st = desired_status(dns_pod(), state, "10.0.0.5", NOW)
    (cs,) = st["containerStatuses"]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["exitCode"] == 137 and cs["restartCount"] == 2
    assert {c["type"]: c["status"] for c in st["conditions"]}["Ready"] == "False"


def test_a_restarted_process_shows_the_one_before_as_last_state() -> None:
    state = ProcessState(
        pid=5000,
        running=True,
        started_at=NOW,
        restarts=1,
        previous_pid=4242,
        previous_exit_code=1,
        previous_started_at=NOW,
        previous_finished_at=NOW,
    )
    (cs,) = desired_status(dns_pod(), state, "h", NOW)["containerStatuses"]
    assert cs["lastState"]["terminated"]["containerID"] == "process://4242"
    assert cs["lastState"]["terminated"]["exitCode"] == 1


def test_pod_security_spares_a_mirror_pod_but_not_once_unmarked() -> None:
    pod = dns_pod()
    check_pod_security("Pod", pod, {})  # hostNetwork, yet no kubelet runs it
    plain = {**pod, "metadata": {**pod["metadata"], "annotations": {}}}
    with pytest.raises(ApiError) as e:
        check_pod_security("Pod", plain, {})
    assert "spec.hostNetwork" in str(e.value)
