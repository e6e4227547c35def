"""Fair shares of the API (apiserver/flowcontrol.py): a user's requests past its share wait,
then get 429 with Retry-After; nodes, admins and the control plane are never limited; open
watches are counted per user."""

from __future__ import annotations

import asyncio

import pytest

from api.errors import ApiError
from apiserver.flowcontrol import FlowControl, is_system


def test_who_is_system() -> None:
    assert is_system("system:node:gpu-1", ["system:nodes", "system:authenticated"])
    assert is_system("admin", ["system:masters"])
    assert is_system("system:kube-scheduler", [])
    assert is_system("system:serviceaccount:kube-system:coredns", [])
    assert not is_system("alice", ["students"])
    assert not is_system("system:serviceaccount:lab:runner", [])


def test_a_users_requests_past_its_share_wait_then_get_429() -> None:
    async def go() -> None:
        fc = FlowControl(per_user=2, queue_wait=0.05)
        release = asyncio.Event()
        entered: list[int] = []

        async def one(i: int) -> str:
            try:
                async with fc.request("alice", []):
                    entered.append(i)
                    await release.wait()
                return "done"
            except ApiError as e:
                return f"{e.code} {e.reason} {e.retry_after_seconds}"

        tasks = [asyncio.create_task(one(i)) for i in range(4)]
        await asyncio.sleep(0.2)  # past queue_wait: the two waiting requests give up
        assert len(entered) == 2
        release.set()
        results = await asyncio.gather(*tasks)
        assert sorted(results) == ["429 TooManyRequests 1"] * 2 + ["done"] * 2
        assert fc.shares == {}  # nothing held once all are done

    asyncio.run(go())


def test_a_waiting_request_gets_the_slot_a_finished_one_frees() -> None:
    async def go() -> None:
        fc = FlowControl(per_user=1, queue_wait=5)
        order: list[str] = []

        async def one(name: str, hold: float) -> None:
            async with fc.request("alice", []):
                order.append(name)
                await asyncio.sleep(hold)

        await asyncio.gather(one("first", 0.05), one("second", 0))
        assert order == ["first", "second"]
        # Another user and the system are not held back by alice's share.
        async with fc.request("alice", []):
            async with fc.request("bob", []), fc.request("system:node:n", ["system:nodes"]):
                pass

    asyncio.run(go())


def test_watches_are_counted_per_user() -> None:
    fc = FlowControl(watches_per_user=2)
    assert fc.open_watch("alice", []) and fc.open_watch("alice", [])
    with pytest.raises(ApiError) as err:
        fc.open_watch("alice", [])
    assert err.value.code == 429 and "too many open watches" in err.value.message
    assert "--max-watches-per-user" in err.value.message
    assert fc.open_watch("system:node:n", ["system:nodes"]) is False  # not counted
    fc.close_watch("alice")
    assert fc.open_watch("alice", [])
