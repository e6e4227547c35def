"""The stand-in ``libnvidia-ml.so.1`` (``standin.c``): built with gcc by the tests, loaded by
the real ``pynvml`` through its normal library search (``LD_LIBRARY_PATH``), and driven by a
small text file (``$KUBELAB_NVML_STANDIN``) that a test rewrites while the kubelet runs.

glibc reads ``LD_LIBRARY_PATH`` once, when a process starts, so the code under test always runs
in a child process started with :meth:`StandIn.env`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SOURCE = Path(__file__).with_name("standin.c")
LIBRARY = "libnvidia-ml.so.1"


def build_library(out_dir: Path) -> Path:
    """Compile the stand-in into ``out_dir/libnvidia-ml.so.1`` (once per directory)."""
    target = out_dir / LIBRARY
    if target.exists() and target.stat().st_mtime >= SOURCE.stat().st_mtime:
        return target
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise RuntimeError("the NVML stand-in needs a C compiler: apt-get install -y gcc")
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".{LIBRARY}.{os.getpid()}"
    subprocess.run(
        [
            gcc,
            "-Wall",
            "-Wextra",
            "-Werror",
            "-O2",
            "-shared",
            "-fPIC",
            "-o",
            str(tmp),
            str(SOURCE),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    tmp.replace(target)
    return target


@dataclass
class Device:
    """One simulated GPU as the stand-in reports it."""

    uuid: str
    name: str = "NVIDIA H100 80GB HBM3"
    memory_mib: int = 81559
    used_mib: int = 0
    util: int = 0
    mem_util: int = 0
    temp: int | None = 35  # None: the card has no sensor (NVML_ERROR_NOT_SUPPORTED)
    power_mw: int | None = 70_000
    lost: bool = False
    present: bool = True
    # MIG devices carved out of this GPU: (uuid, name, memory MiB). Non-empty: MIG enabled.
    migs: list[tuple[str, str, int]] = field(default_factory=list)


@dataclass
class StandIn:
    """The stand-in's configuration file; every change is written at once, atomically."""

    directory: Path
    devices: list[Device] = field(default_factory=list)
    processes: list[tuple[int, int, int]] = field(default_factory=list)  # (index, pid, MiB)
    # pid -> its SM utilisation sample (percent), for nvmlDeviceGetProcessUtilization
    process_sm: dict[int, int] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)  # "xid 0 79", "ecc 1"
    driver: str = "550.54.15"
    init_error: int = 0

    def __post_init__(self) -> None:
        self.library_dir = build_library(self.directory / "lib").parent
        self.config = self.directory / "nvml-standin.conf"
        self.write()

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The environment a child process needs to load the stand-in by its normal search."""
        env = dict(os.environ if base is None else base)
        env["LD_LIBRARY_PATH"] = ":".join(
            p for p in (str(self.library_dir), env.get("LD_LIBRARY_PATH", "")) if p
        )
        env["KUBELAB_NVML_STANDIN"] = str(self.config)
        return env

    def render(self) -> str:
        lines = [f"driver {self.driver}"]
        if self.init_error:
            lines.append(f"init_error {self.init_error}")
        for i, d in enumerate(self.devices):
            if not d.present:
                continue
            temp = "na" if d.temp is None else str(d.temp)
            power = "na" if d.power_mw is None else str(d.power_mw)
            lines.append(
                f"device {i} uuid={d.uuid} memory_mib={d.memory_mib} used_mib={d.used_mib}"
                f" util={d.util} mem_util={d.mem_util} temp={temp} power_mw={power}"
                f" lost={int(d.lost)} name={d.name}"
            )
            lines += [f"mig {i} uuid={u} memory_mib={mib} name={n}" for u, n, mib in d.migs]
        lines += [
            f"process {i} {pid} {mib}"
            + (f" {self.process_sm[pid]}" if pid in self.process_sm else "")
            for i, pid, mib in self.processes
        ]
        lines += self.events
        return "\n".join(lines) + "\n"

    def write(self) -> None:
        tmp = self.config.with_suffix(".tmp")
        tmp.write_text(self.render())
        tmp.replace(self.config)  # a new inode: the library notices within its mtime tick
