"""Crash-loop and image-pull backoff: immediate first restart, doubling, cap, reset."""

from __future__ import annotations

from kubelet.backoff import RestartBackoff as Backoff


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_first_restart_immediate_then_doubling_to_cap() -> None:
    clock = Clock()
    b = Backoff(10, 300, 600, clock=clock)
    waits = []
    for i in range(8):
        waits.append(b.remaining("pod/c", f"dead{i}"))
    assert waits == [0, 10, 20, 40, 80, 160, 300, 300]


def test_same_death_asked_again_keeps_its_deadline() -> None:
    clock = Clock()
    b = Backoff(10, 300, 600, clock=clock)
    b.remaining("k", "d0")
    assert b.remaining("k", "d1") == 10
    clock.t += 4
    assert b.remaining("k", "d1") == 6  # level-triggered resyncs do not extend the wait
    assert b.current_delay("k", "d1") == 10
    clock.t += 6
    assert b.remaining("k", "d1") == 0
    assert b.remaining("k", "d2") == 20


def test_long_run_resets_backoff() -> None:
    clock = Clock()
    b = Backoff(10, 300, 600, clock=clock)
    for i in range(4):
        b.remaining("k", f"d{i}")
    assert b.remaining("k", "d4", ran_for=30) == 80
    assert b.remaining("k", "d5", ran_for=601) == 0  # ran 10 minutes: start over
    assert b.remaining("k", "d6") == 10


def test_keys_are_independent_and_forgettable() -> None:
    b = Backoff(1, 8, 600, clock=Clock())
    b.remaining("uid1/a", "x")
    assert b.remaining("uid1/a", "y") == 1
    assert b.remaining("uid1/b", "z") == 0
    b.forget_prefix("uid1/")
    assert b.remaining("uid1/a", "w") == 0


def test_pull_backoff_waits_before_first_retry() -> None:
    b = Backoff(10, 300, 600, clock=Clock(), first_immediate=False)
    assert [b.remaining("img", str(i)) for i in range(4)] == [10, 20, 40, 80]
    b.reset("img")
    assert b.remaining("img", "again") == 10
