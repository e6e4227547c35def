"""One-off check of the real NVML path on a GPU machine (not collected by pytest):

    .venv/bin/python tests/device/check_nvml.py

Runs what the kubelet runs against the real driver, in under a minute: the inventory
(``discover_gpus``), the per-process read, the health-event registration and one wait, the
re-check that returns a GPU to service, the usage readings (kubelet/gpu_usage.py) and their
DCGM series; and compares UUIDs, memory, utilisation and power with ``nvidia-smi``. Exits 0 when at least one GPU was found and everything agreed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kubelet.gpu import NvmlEventSource, discover_gpus, node_labels, nvml_recheck  # noqa: E402
from kubelet.gpu_usage import gpu_readings  # noqa: E402
from kubelet.resource_metrics import Readings, render  # noqa: E402

SMI_FIELDS = "uuid,memory.total,memory.used,utilization.gpu,power.draw"


def nvidia_smi() -> dict[str, tuple[int, int, int, float | None]]:
    """UUID -> (total MiB, used MiB, utilisation %, power W or None) as nvidia-smi says."""
    if shutil.which("nvidia-smi") is None:
        return {}
    out = subprocess.run(
        ["nvidia-smi", f"--query-gpu={SMI_FIELDS}", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    rows = {}
    for line in out.strip().splitlines():
        uuid, total, used, util, power = (p.strip() for p in line.split(","))
        watts = None if "N/A" in power else float(power)
        rows[uuid] = (int(total), int(used), int(util), watts)
    return rows


def main() -> int:
    devices = discover_gpus(None, "device-check")
    for d in devices:
        print(json.dumps(d.as_dict()))
    print("labels:", json.dumps(node_labels(devices)))
    print("status.gpus:", json.dumps([d.to_status() for d in devices]))
    problems = []
    smi = nvidia_smi()
    if not smi:
        print("nvidia-smi not found: nothing to compare with")
    for d in devices:
        row = smi.get(d.uuid)
        if row is None and not smi:
            continue
        if row is None:
            problems.append(f"{d.uuid}: not in nvidia-smi's list {sorted(smi)}")
            continue
        total, used, util, watts = row
        print(
            f"{d.uuid}: memory {d.memory_mib}/{total} MiB (kubelab/nvidia-smi), used "
            f"{d.memory_used_mib}/{used}, utilisation {d.utilization}/{util} %, power "
            f"{d.power_w}/{watts} W, per-process utilisation {d.process_utilization}"
        )
        if d.memory_mib != total:
            problems.append(f"{d.uuid}: total memory {d.memory_mib} MiB, nvidia-smi {total}")
        if (d.power_w is None) != (watts is None):
            problems.append(f"{d.uuid}: power {d.power_w} W, nvidia-smi {watts}")
        recheck = nvml_recheck(d.uuid)
        print(f"{d.uuid}: re-check {'passes' if not recheck else recheck!r}")
    readings = gpu_readings(devices, [])
    print("usage readings:", [r.__dict__ for r in readings.gpus])
    series = [ln for ln in render(Readings(0.0, gpus=readings.gpus, node="x")).decode().splitlines()
              if ln.startswith("DCGM_FI_")]  # fmt: skip
    print("DCGM series:", *series, sep="\n  ")
    if devices and not any(ln.startswith("DCGM_FI_DEV_FB_USED{") for ln in series):
        problems.append("no DCGM_FI_DEV_FB_USED series for the GPUs found")
    source = NvmlEventSource()
    if source.open():
        try:
            print("health events: registered; one wait of 1 s:", source.wait(1000))
        finally:
            source.close()
    else:
        problems.append("NVML health events could not be opened")
    print(f"{len(devices)} GPU(s), {sum(d.healthy for d in devices)} healthy")
    for p in problems:
        print("MISMATCH:", p)
    return 0 if devices and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
