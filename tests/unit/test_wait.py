"""tests/wait.py, the one wait helper: the value it returns, what a timeout says, which
exceptions mean "not yet" and which end the wait at once."""

from __future__ import annotations

import asyncio

import pytest

from tests.wait import WaitTimeout, wait_for, wait_for_async


def test_returns_the_first_truthy_value() -> None:
    seen = iter([None, 0, [], {"phase": "Running"}])
    assert wait_for(lambda: next(seen), "a Running pod", 5, interval=0) == {"phase": "Running"}


def test_timeout_names_what_and_the_last_value_seen() -> None:
    values = iter(range(1000))
    with pytest.raises(WaitTimeout) as e:
        wait_for(lambda: next(values) < 0, "a negative number", 0.05, interval=0.01)
    assert "waiting for a negative number" in str(e.value)
    assert "last observed: False" in str(e.value)
    assert isinstance(e.value, AssertionError)  # pytest reports it as a failed check


def test_an_exception_is_not_yet_and_is_reported_as_the_last_value() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError("the API is restarting")
        return "up"

    assert wait_for(flaky, "the API", 5, interval=0) == "up"

    def down() -> str:
        raise ConnectionRefusedError("the API is down")

    with pytest.raises(WaitTimeout, match="ConnectionRefusedError.*the API is down"):
        wait_for(down, "the API", 0.05, interval=0.01)


def test_give_up_on_ends_the_wait_at_once_and_diagnostics_are_appended() -> None:
    calls = []

    def invariant() -> bool:
        calls.append(1)
        raise AssertionError("13 pods > 12")

    with pytest.raises(AssertionError, match="13 pods") as e:
        wait_for(invariant, "the rollout", 30, give_up_on=(AssertionError,))
    assert not isinstance(e.value, WaitTimeout) and calls == [1]
    with pytest.raises(WaitTimeout, match="scheduler log tail"):
        wait_for(lambda: False, "a binding", 0.01, diagnostics=lambda: "scheduler log tail")


def test_async_accepts_coroutine_and_plain_predicates() -> None:
    async def main() -> tuple[int, str]:
        n = 0

        async def counted() -> int:
            nonlocal n
            n += 1
            return n if n >= 3 else 0

        got = await wait_for_async(counted, "three calls", 5, interval=0)
        plain = await wait_for_async(lambda: "ok", "a plain value", 5)
        return got, plain

    assert asyncio.run(main()) == (3, "ok")
    with pytest.raises(WaitTimeout, match="never"):
        asyncio.run(wait_for_async(lambda: None, "never", 0.02, interval=0.005))
