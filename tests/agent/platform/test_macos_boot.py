"""macOS boot backend (boot id and time from sysctl, boot-to-login-window time from ps) and
device facts. The ps lines are written here in the layout of ``ps -axo pid=,lstart=,comm=``
(strftime's %c in the C locale), with made-up pids and times."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from fakehost import Machine

from dexpulse.agent import platform
from dexpulse.agent.config import AgentConfig
from dexpulse.agent.platform import NoData, _macos
from dexpulse.agent.platform._macos import boot
from dexpulse.agent.platform._macos.boot import BOOT_SESSION, BOOT_TIME, PS_START
from dexpulse.agent.samplers.base import Context
from dexpulse.agent.samplers.boot import BootSampler
from dexpulse.agent.state import StateStore
from dexpulse.schema import BootSample

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
BOOTED = datetime(2026, 11, 27, 7, 58, 12, tzinfo=UTC)
# the shape `sysctl -n kern.boottime` prints (struct timeval, then ctime in local time)
BOOTTIME = f"{{ sec = {int(BOOTED.timestamp())}, usec = 412345 }} Fri Nov 27 07:58:12 2026\n"
SESSION = "6C1D2E3F-4A5B-4C6D-8E9F-0A1B2C3D4E5F\n"
# the shape of `sw_vers` on macOS 15 (hand-made from its documented three lines)
SW_VERS = "ProductName:\t\tmacOS\nProductVersion:\t\t15.5\nBuildVersion:\t\t24F74\n"
BERLIN = Path("/usr/share/zoneinfo/Europe/Berlin")
LOGINWINDOW = "/System/Library/CoreServices/loginwindow.app/Contents/MacOS/loginwindow"
# local (CET, UTC+1) start times; the boot was at 08:58:12 local
PS = (
    f"    1 Fri Nov 27 08:58:12 2026     /sbin/launchd\n"
    f"   98 Fri Nov 27 08:58:52 2026     {LOGINWINDOW}\n"
    f"  412 Fri Nov 27 09:31:07 2026     {LOGINWINDOW}\n"  # a second session (user switching)
    f"  500 Sat Nov  7 23:01:00 2026     /Applications/Ledger.app/Contents/MacOS/Ledger Helper\n"
    "garbage line\n"
)


def with_zone(machine: Machine) -> Machine:
    (machine.root / "etc").mkdir()
    (machine.root / "etc/localtime").symlink_to(BERLIN)
    return machine


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


def test_parse_ps_lstart() -> None:
    rows = boot.parse_ps_lstart(PS, timezone(timedelta(hours=1)))
    assert [pid for pid, _, _ in rows] == [1, 98, 412, 500]
    assert rows[1] == (98, datetime(2026, 11, 27, 7, 58, 52, tzinfo=UTC), LOGINWINDOW)
    assert rows[3][1] == datetime(2026, 11, 7, 22, 1, tzinfo=UTC)  # space-padded day
    assert rows[3][2].endswith("Ledger Helper")  # executables with spaces
    assert boot.parse_ps_lstart("  7 Fri Foo 27 08:58:52 2026 /x\n", UTC) == []


def test_boot_to_login_window(machine: Machine) -> None:
    machine.answer(PS_START, PS)
    sample = boot.boot_sample(with_zone(machine).host, BOOTED)
    assert sample == BootSample(ts=BOOTED, boot_duration_s=40.0)  # the first loginwindow
    assert sample is not None and sample.logon_duration_s is None


def test_login_window_not_started_yet(machine: Machine) -> None:
    machine.answer(PS_START, "    1 Fri Nov 27 08:58:12 2026     /sbin/launchd\n")
    assert boot.boot_sample(with_zone(machine).host, BOOTED) is None


def test_login_window_restarted_by_a_logout(machine: Machine) -> None:
    later = f"  900 Fri Nov 27 10:15:00 2026     {LOGINWINDOW}\n"
    machine.answer(PS_START, later)
    assert boot.boot_sample(with_zone(machine).host, BOOTED) == BootSample(ts=BOOTED)
    within = f"  900 Fri Nov 27 09:13:11 2026     {LOGINWINDOW}\n"  # 14:59 after boot
    machine.answer(PS_START, within)
    sample = boot.boot_sample(machine.host, BOOTED)
    assert sample is not None and sample.boot_duration_s == 899.0


def test_clock_stepped_since_boot(machine: Machine) -> None:
    before = f"   98 Fri Nov 27 08:40:00 2026     {LOGINWINDOW}\n"  # before the boot time
    machine.answer(PS_START, before)
    assert boot.boot_sample(with_zone(machine).host, BOOTED) == BootSample(ts=BOOTED)
    rounding = f"   98 Fri Nov 27 08:58:11 2026     {LOGINWINDOW}\n"  # a second early
    machine.answer(PS_START, rounding)
    assert boot.boot_sample(machine.host, BOOTED) == BootSample(ts=BOOTED, boot_duration_s=0.0)


def test_ps_failing_is_nodata(machine: Machine) -> None:
    with pytest.raises(NoData):
        boot.boot_sample(machine.host, BOOTED)
    machine.answer(PS_START, "", rc=1, stderr="ps: not permitted")
    with pytest.raises(NoData, match="exited 1"):
        boot.boot_sample(machine.host, BOOTED)


def test_boot_sampler_over_macos_backend(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing until the login window is up, then one sample for this boot, not repeated by
    later runs nor by a restarted sampler."""
    monkeypatch.setattr(platform, "area", lambda name: {"boot": boot}[name])
    with_zone(machine)
    machine.answer(BOOT_TIME, BOOTTIME)
    machine.answer(BOOT_SESSION, SESSION)
    machine.answer(PS_START, "    1 Fri Nov 27 08:58:12 2026     /sbin/launchd\n")
    ctx = context(machine, tmp_path)
    sampler = BootSampler(ctx)
    assert sampler.collect() == []  # loginwindow not up yet: ask again
    machine.answer(PS_START, PS)
    (sample,) = sampler.collect()
    assert sample == BootSample(ts=BOOTED, boot_duration_s=40.0)
    assert sampler.collect() == []  # this run writes the boot id down
    assert BootSampler(ctx).collect() == []  # remembered across a restart
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
