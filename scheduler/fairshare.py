"""Fair share among queues: decayed GPU usage and Slurm's fair-share factor. Pure.

Usage is GPU-seconds that halve every ``half_life`` (default 7 days), so last month's
week-long job hardly counts and this morning's does. A queue's factor is Slurm's classic
``2 ** (-usage_share / share)``: its fraction of all (decayed) usage over its fraction of
all shares (nominal GPUs). 1.0 for a queue that used nothing, 0.5 for one that used just
its share, towards 0 for one far over it. Waiting work is ordered by priority first, then
by that factor (highest first), then by age.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

LN2 = math.log(2.0)


def decayed(usage: float, elapsed: float, half_life: float) -> float:
    """``usage`` GPU-seconds, ``elapsed`` seconds later."""
    if elapsed <= 0 or half_life <= 0:
        return usage
    return usage * 2.0 ** (-elapsed / half_life)


def accrued(usage: float, gpus: float, elapsed: float, half_life: float) -> float:
    """Usage after ``elapsed`` seconds during which ``gpus`` GPUs ran: the old usage
    decayed, plus the exact integral of the new GPU-seconds decaying as they accrue."""
    if elapsed <= 0:
        return usage
    if half_life <= 0:
        return usage + gpus * elapsed
    d = 2.0 ** (-elapsed / half_life)
    return usage * d + gpus * (half_life / LN2) * (1.0 - d)


def fair_share_factors(usage: Mapping[str, float], shares: Mapping[str, float]) -> dict[str, float]:
    """Slurm's factor for every queue in ``shares``: ``2 ** (-(U/ΣU) / (S/ΣS))``.

    A queue with no share (0 nominal GPUs) counts as a tiny one: it runs when nobody
    with a share waits."""
    total_usage = sum(max(u, 0.0) for u in usage.values())
    total_share = sum(max(s, 0.0) for s in shares.values())
    out: dict[str, float] = {}
    for name, share in shares.items():
        if total_usage <= 0:
            out[name] = 1.0
            continue
        u = max(usage.get(name, 0.0), 0.0) / total_usage
        s = max(share, 0.0) / total_share if total_share > 0 else 0.0
        s = max(s, 1e-6)
        out[name] = 2.0 ** (-u / s)
    return out


def order_key(priority: int, factor: float, created: str) -> tuple[int, float, str]:
    """Sort key for waiting work: higher priority, then higher factor, then older."""
    return (-priority, -factor, created)
