"""macOS boot backend (boot id and time from sysctl; no duration) and device facts."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakehost import Machine

from dexpulse.agent import platform
from dexpulse.agent.config import AgentConfig
from dexpulse.agent.platform import NoData, _macos
from dexpulse.agent.platform._macos import boot
from dexpulse.agent.platform._macos.boot import BOOT_SESSION, BOOT_TIME
from dexpulse.agent.samplers.base import Context
from dexpulse.agent.samplers.boot import BootSampler
from dexpulse.agent.state import StateStore

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
BOOTED = datetime(2026, 11, 27, 7, 58, 12, tzinfo=UTC)
# the shape `sysctl -n kern.boottime` prints (struct timeval, then ctime in local time)
BOOTTIME = f"{{ sec = {int(BOOTED.timestamp())}, usec = 412345 }} Fri Nov 27 07:58:12 2026\n"
SESSION = "6C1D2E3F-4A5B-4C6D-8E9F-0A1B2C3D4E5F\n"
# the shape of `sw_vers` on macOS 15 (hand-made from its documented three lines)
SW_VERS = "ProductName:\t\tmacOS\nProductVersion:\t\t15.5\nBuildVersion:\t\t24F74\n"


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def context(machine: Machine, tmp_path: Path) -> Context:
    config = AgentConfig(state_dir=tmp_path / "state")
    store = StateStore(tmp_path / "state" / "state")
    return Context(machine.host, config, store, lambda: NOW)


def test_boot_time_and_id(machine: Machine) -> None:
    machine.answer(BOOT_TIME, BOOTTIME)
    machine.answer(BOOT_SESSION, SESSION)
    assert boot.boot_time(machine.host) == BOOTED
    assert boot.boot_id(machine.host) == "6c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"


def test_boot_id_falls_back_to_boot_time(machine: Machine) -> None:
    machine.answer(BOOT_TIME, BOOTTIME)
    machine.answer(BOOT_SESSION, "", rc=1, stderr="sysctl: unknown oid 'kern.bootsessionuuid'")
    assert boot.boot_id(machine.host) == str(int(BOOTED.timestamp()))


def test_nothing_readable(machine: Machine) -> None:
    assert boot.boot_time(machine.host) is None
    with pytest.raises(NoData):
        boot.boot_id(machine.host)
    machine.answer(BOOT_TIME, "garbage\n")
    assert boot.boot_time(machine.host) is None


def test_boot_duration_is_nodata(machine: Machine) -> None:
    with pytest.raises(NoData, match="unified log"):
        boot.boot_sample(machine.host, BOOTED)


def test_boot_sampler_over_macos_backend(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sampler reaches the backend and ends in NoData (no duration), never a failure."""
    monkeypatch.setattr(platform, "area", lambda name: {"boot": boot}[name])
    machine.answer(BOOT_TIME, BOOTTIME)
    machine.answer(BOOT_SESSION, SESSION)
    with pytest.raises(NoData, match="unified log"):
        BootSampler(context(machine, tmp_path)).collect()
    assert BOOT_SESSION in machine.calls and BOOT_TIME in machine.calls


def test_device_facts(machine: Machine) -> None:
    machine.answer(_macos.SW_VERS, SW_VERS)
    machine.answer(_macos.HW_MODEL, "Mac15,3\n")
    facts = _macos.device_facts(machine.host)
    assert facts == {
        "hostname": socket.gethostname(),
        "os_version": "macOS 15.5",
        "os_build": "24F74",
        "model": "Mac15,3",
        "manufacturer": "Apple",
    }


def test_device_facts_without_tools(machine: Machine) -> None:
    facts = _macos.device_facts(machine.host)
    assert facts["model"] is None
    assert facts["manufacturer"] is None
    assert facts["hostname"] == socket.gethostname()
