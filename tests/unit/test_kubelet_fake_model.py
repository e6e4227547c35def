"""The fake runtime's one model of commands: what the examples' commands do without
Docker (Jobs complete, ``echo`` reaches the log, servers keep running)."""

from __future__ import annotations

import asyncio

from kubelet.runtime.base import LABEL_CONTAINER_INIT, ContainerSpec
from kubelet.runtime.fake import FakeRuntime
from kubelet.runtime.fake_model import model


def spec(*command: str, init: bool = False, gpus: tuple[str, ...] = ()) -> ContainerSpec:
    labels = {LABEL_CONTAINER_INIT: "true"} if init else {}
    return ContainerSpec("n", "img", labels, command=list(command) or None, gpu_uuids=list(gpus))


def test_sleep_exits_zero_after_its_seconds() -> None:
    run = model(spec("sleep", "30"))
    assert (run.exit_code, run.after, run.output) == (0, 30.0, ())
    assert model(spec("sh", "-c", "sleep 2m")).after == 120.0
    assert model(spec("sh", "-c", "exec sleep 5")).exit_code == 0


def test_echo_true_false_and_exit() -> None:
    assert model(spec("echo", "hello", "world")).output == ((0.0, "hello world\n"),)
    assert model(spec("echo", "hello")).exit_code == 0
    assert model(spec("true")).exit_code == 0
    assert model(spec("false")).exit_code == 1
    assert model(spec("sh", "-c", "exit 3")).exit_code == 3
    assert model(spec("sh", "-c", "false || echo rescued")).output == ((0.0, "rescued\n"),)
    assert model(spec("sh", "-c", "false && echo never")).exit_code == 1
    assert model(spec("sh", "-c", "set -e; false; echo never")).output == ()


def test_the_training_job_of_the_examples_completes_with_its_output() -> None:
    # deploy/examples/gpu-training-job.yaml
    script = "nvidia-smi -L && echo training... && sleep 30 && echo done"
    run = model(spec("sh", "-c", script, gpus=("GPU-abc",)))
    assert run.exit_code == 0 and run.after == 30.0
    assert [t for _, t in run.output] == [
        "GPU 0: NVIDIA GPU (UUID: GPU-abc)\n",
        "training...\n",
        "done\n",
    ]
    assert [o for o, _ in run.output] == [0.0, 0.0, 30.0]
    assert model(spec("nvidia-smi", "-L")).exit_code == 6  # no GPU bound: none visible


def test_helm_test_hook_wget_succeeds() -> None:
    # The test hook `helm create` scaffolds: command ["wget"], args ["NAME:PORT"].
    hook = ContainerSpec("n", "busybox", {}, command=["wget"], args=["web-chart:80"])
    assert model(hook).exit_code == 0
    assert model(spec("curl", "-sf", "http://web/")).exit_code == 0
    assert model(spec("wget")).exit_code is None  # no URL: not a modelled call


def test_commands_it_does_not_model_keep_running() -> None:
    assert model(spec("python", "-m", "http.server", "8080")).exit_code is None
    assert model(spec()).exit_code is None  # the image's own command
    assert model(spec("sh", "-c", "while true; do sleep 1; done")).exit_code is None
    served = model(spec("sh", "-c", "echo starting; exec httpd -f -p 80"))
    assert served.exit_code is None and served.output == ((0.0, "starting\n"),)
    assert model(spec("sleep", "infinity")).exit_code is None


def test_earlier_rules_still_hold() -> None:
    assert model(spec("sh", "-c", "echo hi > /x; exit 0")).exit_code == 0
    assert model(spec("sh", "-c", "date > /work/x", init=True)).exit_code == 0  # init: done
    assert model(spec("sh", "-c", "until ping db; do sleep 2; done", init=True)).exit_code is None


def test_fake_runtime_runs_the_model_and_logs_what_echo_printed() -> None:
    async def go() -> None:
        rt = FakeRuntime()
        cid = await rt.create(spec("sh", "-c", "echo one; sleep 0.05; echo two"))
        await rt.start(cid)
        info = await rt.inspect(cid)
        assert info is not None and info.running  # the caller sees it running first
        while info is not None and info.running:  # until its modelled exit
            await asyncio.sleep(0.01)
            info = await rt.inspect(cid)
        assert info is not None and info.exit_code == 0
        assert await rt.logs(cid) == b"one\ntwo\n"
        assert await rt.logs(cid, tail=1) == b"two\n"
        stamped = (await rt.logs(cid, timestamps=True)).decode().splitlines()
        assert [line.split(" ", 1)[1] for line in stamped] == ["one", "two"]
        server = await rt.create(spec("python", "-m", "http.server"))
        await rt.start(server)
        assert b"has no output" in await rt.logs(server)
        await rt.close()

    asyncio.run(asyncio.wait_for(go(), 10))


def test_fake_runtime_follows_a_log_line_by_line_until_the_container_stops() -> None:
    async def go() -> None:
        rt = FakeRuntime()
        cid = await rt.create(spec("sh", "-c", "echo one; sleep 0.3; echo two; sleep 0.3"))
        await rt.start(cid)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        got = [(chunk, loop.time() - t0) async for chunk in rt.stream_logs(cid)]
        assert [c for c, _ in got] == [b"one\n", b"two\n"]
        assert got[0][1] < 0.2 <= got[1][1]  # the second line when it is written
        assert loop.time() - t0 >= 0.55  # and the stream ends with the container
        await rt.close()

    asyncio.run(asyncio.wait_for(go(), 10))


def test_fake_exec_runs_the_same_model() -> None:
    async def go() -> None:
        rt = FakeRuntime()
        cid = await rt.create(spec("python", "-m", "http.server", gpus=("GPU-x",)))
        await rt.start(cid)
        listed = await rt.exec(cid, ["nvidia-smi", "-L"])
        assert (listed.exit_code, listed.stdout) == (0, b"GPU 0: NVIDIA GPU (UUID: GPU-x)\n")
        assert (await rt.exec(cid, ["sh", "-c", "echo hi; exit 4"])).exit_code == 4
        assert (await rt.exec(cid, ["false"])).exit_code == 1
        assert (await rt.exec(cid, ["cat", "/tmp/healthy"])).exit_code == 0  # not modelled
        try:
            await rt.exec(cid, ["sleep", "5"], timeout=1)
            raise AssertionError("a 5 s sleep must time out a 1 s exec")
        except TimeoutError:
            pass
        await rt.close()

    asyncio.run(asyncio.wait_for(go(), 10))
