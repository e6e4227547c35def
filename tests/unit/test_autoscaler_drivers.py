"""Power drivers' command lines, with a recording runner: nothing is powered, and the
Wake-on-LAN packet goes to a socket on 127.0.0.1 that the test itself listens on."""

from __future__ import annotations

import socket

import pytest

from autoscaler.drivers import Box, DriverConfigError, PowerError
from autoscaler.drivers.command import CommandDriver
from autoscaler.drivers.fake import FakeDriver, kubelet_argv
from autoscaler.drivers.ipmi import IpmiDriver
from autoscaler.drivers.runner import Completed, RecordingRunner
from autoscaler.drivers.wol import WolDriver

IPMI = {"kubelab.io/power-driver": "ipmi", "kubelab.io/power-ipmi-host": "10.0.0.5"}
CREDS = {"username": "admin", "password": "s3cret"}


def test_ipmi_command_lines_keep_the_password_out_of_argv() -> None:
    runner = RecordingRunner(Completed(0, "Chassis Power is on\n"))
    drv = IpmiDriver(runner)
    b = Box("gpu-3", IPMI, CREDS)
    drv.power_on(b)
    drv.power_off(b)
    assert drv.status(b) is True
    base = ["ipmitool", "-I", "lanplus", "-H", "10.0.0.5", "-U", "admin", "-E", "chassis", "power"]
    assert [argv for argv, _ in runner.calls] == [
        [*base, "on"],
        [*base, "soft"],
        [*base, "status"],
    ]
    assert all(env == {"IPMI_PASSWORD": "s3cret"} for _, env in runner.calls)
    assert all("s3cret" not in argv for argv, _ in runner.calls)


def test_ipmi_hard_off_and_missing_credentials() -> None:
    runner = RecordingRunner()
    IpmiDriver(runner).power_off(Box("g", {**IPMI, "kubelab.io/power-ipmi-off": "hard"}, CREDS))
    assert runner.calls[0][0][-1] == "off"
    with pytest.raises(DriverConfigError, match="username and password"):
        IpmiDriver(runner).power_on(Box("g", IPMI, {}))
    with pytest.raises(DriverConfigError, match="kubelab.io/power-ipmi-host"):
        IpmiDriver(runner).power_on(Box("g", {}, CREDS))


def test_command_pair_with_node_and_secret_env() -> None:
    runner = RecordingRunner()
    ann = {
        "kubelab.io/power-on-command": "plugctl --plug 'desk {node}' on",
        "kubelab.io/power-off-command": "plugctl --plug 'desk {node}' off",
    }
    drv = CommandDriver(runner)
    drv.power_on(Box("cpu-1", ann, {"api-token": "t0k"}))
    drv.power_off(Box("cpu-1", ann, {"api-token": "t0k"}))
    assert runner.calls == [
        (["plugctl", "--plug", "desk cpu-1", "on"], {"POWER_API_TOKEN": "t0k"}),
        (["plugctl", "--plug", "desk cpu-1", "off"], {"POWER_API_TOKEN": "t0k"}),
    ]


def test_failed_command_is_a_power_error() -> None:
    runner = RecordingRunner(Completed(1, "", "plug unreachable\n"))
    ann = {"kubelab.io/power-on-command": "plugctl on"}
    with pytest.raises(PowerError, match="plugctl exited 1: plug unreachable"):
        CommandDriver(runner).power_on(Box("x", ann))


def test_wol_sends_a_magic_packet_to_localhost() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(10)
        port = sock.getsockname()[1]
        ann = {
            "kubelab.io/power-mac": "52:54:00:12:34:56",
            "kubelab.io/power-wol-address": "127.0.0.1",
            "kubelab.io/power-wol-port": str(port),
            "kubelab.io/power-off-command": "ssh root@{node} systemctl poweroff",
        }
        runner = RecordingRunner()
        drv = WolDriver(runner)
        drv.power_on(Box("gpu-1", ann))
        data = sock.recv(1024)
        drv.power_off(Box("gpu-1", ann))
    assert data == b"\xff" * 6 + bytes.fromhex("525400123456") * 16
    assert runner.calls == [(["ssh", "root@gpu-1", "systemctl", "poweroff"], {})]


def test_wol_refuses_a_bad_mac() -> None:
    with pytest.raises(DriverConfigError, match="not a MAC address"):
        WolDriver(RecordingRunner()).power_on(Box("g", {"kubelab.io/power-mac": "nope"}))


def test_fake_kubelet_command_line_and_never_booting_box() -> None:
    b = Box("sim-1", {"kubelab.io/power-fake-kubelet-args": "--fake-gpus 2"})
    argv = kubelet_argv(b, "/tmp/home")
    assert argv[1:] == ["-m", "kubelab", "kubelet", "--runtime", "fake", "--node-name", "sim-1",
                        "--home", "/tmp/home", "--fake-gpus", "2"]  # fmt: skip
    spawned: list[list[str]] = []

    def spawn(a: object) -> object:
        spawned.append(list(a))  # type: ignore[call-overload]
        raise AssertionError("a box that never boots must not start a kubelet")

    drv = FakeDriver("/tmp/home", spawn)  # type: ignore[arg-type]
    drv.power_on(Box("dead", {"kubelab.io/power-fake-boots": "false"}))
    assert not drv.timers and not spawned
