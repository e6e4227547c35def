"""One-off check of the real NVML path on a GPU machine (not collected by pytest):

    .venv/bin/python tests/device/check_nvml.py

Prints what ``discover_gpus()`` sees and the Node labels and ``status.gpus`` entries the
kubelet would report, then exits 0 if at least one GPU was found.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kubelet.gpu import discover_gpus, node_labels  # noqa: E402


def main() -> int:
    devices = discover_gpus(None, "device-check")
    for d in devices:
        print(json.dumps(d.as_dict()))
    print("labels:", json.dumps(node_labels(devices)))
    print("status.gpus:", json.dumps([d.to_status() for d in devices]))
    print(f"{len(devices)} GPU(s), {sum(d.healthy for d in devices)} healthy")
    return 0 if devices else 1


if __name__ == "__main__":
    sys.exit(main())
