"""A dead container's termination message: what it wrote to its terminationMessagePath,
or with FallbackToLogsOnError its last log lines (fake runtime)."""

from __future__ import annotations

import asyncio
from typing import Any

from kubelet.runtime.base import ContainerSpec
from kubelet.runtime.fake import FakeRuntime


def test_termination_message_from_the_file_or_the_logs(tmp_path: Any) -> None:
    from types import SimpleNamespace

    from kubelet.status import terminated_state
    from kubelet.termination_message import with_termination_message
    from kubelet.volumes import make_termination_log

    async def go() -> None:
        rt = FakeRuntime()
        h: Any = SimpleNamespace(
            uid="u1", ctx=SimpleNamespace(runtime=rt, config=SimpleNamespace(root_dir=tmp_path))
        )
        labels = {"io.kubelab.container.name": "app", "io.kubelab.container.restart-count": "0"}
        failing = ContainerSpec("n", "img", labels, command=["sh", "-c", "echo boom; exit 2"])
        cid = await rt.create(failing)
        make_termination_log(tmp_path, "u1", "app", 0)
        await rt.start(cid)
        while (info := await rt.inspect(cid)) is not None and info.running:
            await asyncio.sleep(0.01)
        assert info is not None
        plain = await with_termination_message(h, {"name": "app"}, info)
        assert plain.termination_message == ""  # policy File and nothing written
        fallback = {"name": "app", "terminationMessagePolicy": "FallbackToLogsOnError"}
        logged = await with_termination_message(h, fallback, info)
        assert logged.termination_message == "boom\n"
        assert terminated_state(logged, "fake")["message"] == "boom\n"
        make_termination_log(tmp_path, "u1", "app", 0).write_text("disk full\n")
        written = await with_termination_message(h, fallback, info)
        assert written.termination_message == "disk full\n"  # the file wins
        await rt.close()

    asyncio.run(asyncio.wait_for(go(), 10))
