"""GPU filter, UUID choice and scores."""

from __future__ import annotations

from scheduler.plugins.gpu import GpuAvoid, GpuFit, GpuPack, choose_gpus, describe_gpus
from tests.unit.sched_world import info, node, node_info, pod


def test_gpu_pod_fits_only_with_enough_free_gpus_and_says_how_many() -> None:
    box = node_info(
        node("gpu-box-2", gpus=4),
        pod(
            "a",
            gpus=3,
            node_name="gpu-box-2",
            gpu_uuids="GPU-gpu-box-2-0,GPU-gpu-box-2-1,GPU-gpu-box-2-2",
        ),
    )
    plugin = GpuFit()
    assert plugin.filter(info(pod("one", gpus=1)), box) is None
    rej = plugin.filter(info(pod("two", gpus=2)), box)
    assert rej is not None
    assert rej.reasons == ("Insufficient nvidia.com/gpu",)
    assert rej.detail == "1 of 4 GPUs free, pod needs 2"


def test_cpu_node_has_no_gpus() -> None:
    rej = GpuFit().filter(info(pod("p", gpus=1)), node_info(node("cpu")))
    assert rej is not None and rej.detail == "0 of 0 GPUs free, pod needs 1"


def test_unhealthy_gpus_are_never_chosen() -> None:
    box = node_info(node("b", gpus=4, unhealthy=(0, 2)))
    assert choose_gpus(info(pod("p", gpus=2)), box) == ["GPU-b-1", "GPU-b-3"]
    rej = GpuFit().filter(info(pod("q", gpus=3)), box)
    assert rej is not None and "2 unhealthy" in rej.detail


def test_chosen_uuids_skip_those_in_use() -> None:
    box = node_info(node("b", gpus=4), pod("a", gpus=1, node_name="b", gpu_uuids="GPU-b-1"))
    assert choose_gpus(info(pod("p", gpus=2)), box) == ["GPU-b-0", "GPU-b-2"]
    assert box.gpus_in_use == {"GPU-b-1": "default/a"}


def test_uuid_held_without_matching_count_still_blocks() -> None:
    # A pod holding a UUID the allocatable count does not know about (e.g. bound by
    # another scheduler) must still make that device unavailable.
    box = node_info(node("b", gpus=2), pod("a", gpus=0, node_name="b", gpu_uuids="GPU-b-0"))
    assert box.free_gpu_count() == 1
    assert choose_gpus(info(pod("p", gpus=1)), box) == ["GPU-b-1"]


def test_describe_gpus_lists_every_device() -> None:
    box = node_info(
        node("b", gpus=3, unhealthy=(2,)), pod("a", gpus=1, node_name="b", gpu_uuids="GPU-b-0")
    )
    lines = describe_gpus(box)
    assert lines[0].endswith("in use by default/a")
    assert lines[1].endswith("free")
    assert lines[2].endswith("unhealthy")


def test_gpu_pods_pack_onto_partly_used_boxes() -> None:
    used = node_info(
        node("used", gpus=8),
        pod("a", gpus=4, node_name="used", gpu_uuids=",".join(f"GPU-used-{i}" for i in range(4))),
    )
    empty = node_info(node("empty", gpus=8))
    p = info(pod("p", gpus=2))
    assert GpuPack().score(p, used) > GpuPack().score(p, empty)


def test_cpu_pods_avoid_gpu_boxes_and_gpu_plugins_skip_them() -> None:
    cpu_pod = info(pod("p"))
    assert GpuAvoid().score(cpu_pod, node_info(node("cpu"))) == 100
    assert GpuAvoid().score(cpu_pod, node_info(node("gpu", gpus=8))) == 0
    assert not GpuFit().relevant(cpu_pod)
    assert not GpuPack().relevant(cpu_pod)
    assert not GpuAvoid().relevant(info(pod("g", gpus=1)))


# -- sharing one GPU by memory (kubelab.io/gpu-memory) ----------------------------------------

MEM = "kubelab.io/gpu-memory"


def sharer(name: str, memory: str, uuid: str = "", node_name: str = "") -> dict[str, object]:
    return pod(name, extra={MEM: memory}, gpu_uuids=uuid, node_name=node_name)


def test_half_gpu_pods_pack_onto_one_device_and_a_third_goes_to_the_next() -> None:
    box = node_info(node("b", gpus=2), sharer("a", "40Gi", "GPU-b-0", "b"))
    # The fullest device that still fits: the second half of GPU 0, not the empty GPU 1.
    assert choose_gpus(info(sharer("half", "40Gi")), box) == ["GPU-b-0"]
    box.add_pod(info(sharer("half", "40Gi", "GPU-b-0", "b")))
    assert choose_gpus(info(sharer("third", "40Gi")), box) == ["GPU-b-1"]
    assert GpuFit().filter(info(sharer("third", "40Gi")), box) is None


def test_shared_and_whole_gpus_never_mix_on_one_device() -> None:
    box = node_info(node("b", gpus=2), sharer("a", "10Gi", "GPU-b-0", "b"))
    assert choose_gpus(info(pod("whole", gpus=1)), box) == ["GPU-b-1"]
    rej = GpuFit().filter(info(pod("two", gpus=2)), box)
    assert rej is not None and rej.detail == "1 of 2 GPUs free, pod needs 2"
    box.add_pod(info(pod("whole", gpus=1, node_name="b", gpu_uuids="GPU-b-1")))
    # GPU 1 is held whole: a sharer only fits into what GPU 0 has left.
    assert choose_gpus(info(sharer("s", "70Gi")), box) == ["GPU-b-0"]
    rej = GpuFit().filter(info(sharer("big", "71Gi")), box)
    assert rej is not None
    assert rej.reasons == ("Insufficient kubelab.io/gpu-memory",)
    assert rej.detail == "no GPU has 71Gi of memory free (most free: 70Gi on GPU-b-0)"


def test_kl_why_shows_free_memory_of_shared_gpus() -> None:
    box = node_info(
        node("b", gpus=2),
        sharer("a", "30Gi", "GPU-b-0", "b"),
        sharer("c", "10Gi", "GPU-b-0", "b"),
    )
    lines = describe_gpus(box)
    assert lines[0] == (
        "GPU-b-0 (#0 H100-80GB): shared by default/a, default/c, 40Gi of memory free"
    )
    assert lines[1] == "GPU-b-1 (#1 H100-80GB): free"
    box.remove_pod("default/a")
    box.remove_pod("default/c")
    assert describe_gpus(box)[0] == "GPU-b-0 (#0 H100-80GB): free"
