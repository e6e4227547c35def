"""kl why on a pod held in ContainerCreating by a volume whose ConfigMap or Secret is missing
(the kubelet's FailedMount): the message and the fix, where a pod merely being created
gets none."""

from __future__ import annotations

from tests.unit.test_kl_why_life import placed, text, waiting

MOUNT = 'MountVolume.SetUp failed for volume "cfg" : configmap "app" not found'


def test_a_missing_volume_source_is_said_with_its_fix() -> None:
    out = text(placed(waiting("ContainerCreating", MOUNT)))
    assert f"container web: ContainerCreating: {MOUNT}" in out
    assert "fix: a volume's ConfigMap or Secret is not there: create it" in out


def test_a_container_simply_being_created_still_needs_no_fix() -> None:
    assert "fix:" not in text(placed(waiting("ContainerCreating")))
