"""The inventory sampler: apps of human users with package versions (batched, cached across
runs and restarts), USB and Bluetooth peripherals with drivers, and the start/change/daily
rhythm."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

from dexpulse.agent.config import AgentConfig
from dexpulse.agent.platform import CommandResult, Host, NoData
from dexpulse.agent.platform._linux import inventory as backend
from dexpulse.agent.samplers import inventory as inventory_module
from dexpulse.agent.samplers.base import REGISTRY, Context
from dexpulse.agent.samplers.inventory import InventorySampler, inventory_hash
from dexpulse.agent.state import StateStore
from dexpulse.schema import InventoryApp, InventoryPeripheral, InventorySample

START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ALICE, BOB = 1000, 1001
SNAP_FIREFOX = "/snap/firefox/5187/usr/lib/firefox/firefox"
EXES = {
    "/usr/bin/bash": None,
    "/usr/lib/firefox-esr/firefox-esr": None,
    "/usr/bin/gnome-shell": None,
    "/home/alice/bin/tool": None,
    "/usr/bin/vim.basic": None,
    "/usr/lib/systemd/systemd": None,
    SNAP_FIREFOX: None,
}
OWNERS = {  # what dpkg knows: bash under its pre-merged-/usr path
    "/bin/bash": "bash",
    "/usr/lib/firefox-esr/firefox-esr": "firefox-esr",
    "/usr/bin/gnome-shell": "gnome-shell",
    "/usr/bin/vim.basic": "vim",
}
VERSIONS = {
    "bash": "5.2.15-2+b8",
    "firefox-esr": "128.5.0esr-1~deb12u1",
    "gnome-shell": "43.9-0+deb12u2",
    "vim": "2:9.0.1378-2",
}
EXPECTED_APPS = [
    InventoryApp(name="bash", version="5.2.15-2+b8", running=True),
    InventoryApp(name="firefox", version="132.0.2-1", running=True),
    InventoryApp(name="firefox-esr", version="128.5.0esr-1~deb12u1", running=True),
    InventoryApp(name="gnome-shell", version="43.9-0+deb12u2", running=True),
    InventoryApp(name="tool", version=None, running=True),
]


def proc(pid: int, uid: int, exe: str | None) -> SimpleNamespace:
    return SimpleNamespace(pid=pid, info={"exe": exe, "uids": (uid, uid, uid)})


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Laptop:
    """A Debian laptop where alice (uid 1000) is logged in; dpkg and rpm are fakes."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = tmp_path / "root"
        self.write("etc/login.defs", "# comment\nUID_MIN\t\t\t 1000\nUID_MAX\t\t\t60000\n")
        self.write(f"run/systemd/users/{ALICE}", "NAME=alice\nSTATE=active\n")
        self.write("var/lib/dpkg/status", "Package: bash\nStatus: install ok installed\n")
        for exe in EXES:
            self.write(exe.lstrip("/"), "\x7fELF")
        self.write("snap/firefox/5187/meta/snap.yaml", "name: firefox\nversion: 132.0.2-1\n")
        self.processes: list[SimpleNamespace] = [
            proc(1, 0, "/usr/lib/systemd/systemd"),
            proc(2, 0, ""),  # kthreadd
            proc(100, ALICE, "/usr/bin/bash"),
            proc(101, ALICE, "/usr/bin/bash"),
            proc(102, ALICE, "/usr/lib/firefox-esr/firefox-esr"),
            proc(103, ALICE, "/usr/bin/gnome-shell"),
            proc(104, ALICE, "/home/alice/bin/tool"),
            proc(105, ALICE, SNAP_FIREFOX),
            proc(106, ALICE, None),  # exited, or not permitted
            proc(107, ALICE, "/memfd:xdg-desktop-portal (deleted)"),
            proc(os.getpid(), ALICE, "/usr/bin/python3.11"),  # the agent itself
            proc(300, BOB, "/usr/bin/vim.basic"),  # bob has no session: a cron leftover
        ]
        monkeypatch.setattr(psutil, "process_iter", lambda attrs: iter(self.processes))
        self.calls: list[tuple[str, ...]] = []
        self.missing: set[str] = set()
        self.rpm_owners: dict[str, list[str]] = {}
        self.clock = Clock()
        self.state = StateStore(tmp_path / "state" / "state")
        self.config = AgentConfig(state_dir=tmp_path / "state")

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult:
        argv = tuple(argv)
        self.calls.append(argv)
        if argv[0] in self.missing:
            raise NoData(f"{argv[0]} is not installed")
        if argv[:2] == ("dpkg-query", "-S"):
            out, err = [], []
            for path in argv[2:]:
                if path == "/usr/bin/gnome-shell":
                    out.append(f"diversion by gnome-shell-hack from: {path}")
                if path in OWNERS:
                    out.append(f"{OWNERS[path]}: {path}")
                else:
                    err.append(f"dpkg-query: no path found matching pattern {path}")
            return CommandResult(1 if err else 0, "\n".join(out) + "\n", "\n".join(err))
        if argv[:4] == ("dpkg-query", "-W", "-f", "${binary:Package}\t${Package}\t${Version}\n"):
            lines = [f"{p}\t{p}\t{VERSIONS[p]}\n" for p in argv[4:] if p in VERSIONS]
            return CommandResult(0 if len(lines) == len(argv) - 4 else 1, "".join(lines))
        if argv[:4] == ("rpm", "-qf", "--qf", "%{NAME}\t%{VERSION}-%{RELEASE}\n"):
            out = []
            for path in argv[4:]:
                owners = self.rpm_owners.get(path)
                out += owners or [f"file {path} is not owned by any package"]
            return CommandResult(0, "".join(line + "\n" for line in out))
        raise NoData(f"{argv[0]} is not installed")

    def sampler(self) -> InventorySampler:
        host = Host(root=self.root, run=self.run)
        return InventorySampler(Context(host, self.config, self.state, self.clock))

    def dpkg_searches(self) -> list[tuple[str, ...]]:
        return [call[2:] for call in self.calls if call[:2] == ("dpkg-query", "-S")]


@pytest.fixture
def laptop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Laptop:
    return Laptop(tmp_path, monkeypatch)


def only(samples: list[Any]) -> InventorySample:
    (sample,) = samples
    assert isinstance(sample, InventorySample)
    assert InventorySample.model_validate(sample.model_dump()) == sample
    return sample


def test_registered_hourly() -> None:
    assert REGISTRY["inventory"] is InventorySampler
    assert AgentConfig().samplers.inventory.interval_s == 3600


# -- apps ------------------------------------------------------------------------------------


def test_apps_of_logged_in_humans_with_versions(laptop: Laptop) -> None:
    sample = only(laptop.sampler().collect())
    assert sample.reason == "start"
    assert sample.ts == START
    assert sample.apps == EXPECTED_APPS


def test_lookups_are_batched(laptop: Laptop) -> None:
    laptop.sampler().collect()
    (search,) = laptop.dpkg_searches()
    assert set(search) == {
        "/usr/bin/bash",
        "/bin/bash",  # merged-/usr alias: dpkg recorded bash under /bin
        "/usr/lib/firefox-esr/firefox-esr",
        "/lib/firefox-esr/firefox-esr",
        "/usr/bin/gnome-shell",
        "/bin/gnome-shell",
        "/home/alice/bin/tool",
    }
    (listing,) = [call for call in laptop.calls if call[:2] == ("dpkg-query", "-W")]
    assert sorted(listing[4:]) == ["bash", "firefox-esr", "gnome-shell"]
    assert len(laptop.calls) == 2  # the snap's version came from its snap.yaml


def test_versions_are_cached_in_memory_and_across_restarts(laptop: Laptop) -> None:
    sampler = laptop.sampler()
    sampler.collect()
    laptop.calls.clear()
    sampler.collect()
    assert laptop.calls == []
    restarted = laptop.sampler()
    assert only(restarted.collect()).apps == EXPECTED_APPS
    assert laptop.calls == []
    cached = laptop.state.load("inventory")["versions"]
    assert cached["/usr/bin/bash"][1] == "5.2.15-2+b8"
    assert cached["/home/alice/bin/tool"][1] is None  # "no package" is remembered too


def test_an_upgraded_file_is_looked_up_again(
    laptop: Laptop, monkeypatch: pytest.MonkeyPatch
) -> None:
    sampler = laptop.sampler()
    sampler.collect()
    laptop.calls.clear()
    monkeypatch.setitem(VERSIONS, "gnome-shell", "43.10-0+deb12u1")
    laptop.write("usr/bin/gnome-shell", "\x7fELF new")
    os.utime(laptop.root / "usr/bin/gnome-shell", (1, 1))
    assert only(sampler.collect()).reason == "change"
    assert laptop.dpkg_searches() == [("/usr/bin/gnome-shell", "/bin/gnome-shell")]
    shell = [app for app in only(laptop.sampler().collect()).apps if app.name == "gnome-shell"]
    assert shell == [InventoryApp(name="gnome-shell", version="43.10-0+deb12u1", running=True)]


def test_without_dpkg_query_versions_are_unknown_and_retried(laptop: Laptop) -> None:
    laptop.missing.add("dpkg-query")
    sampler = laptop.sampler()
    apps = only(sampler.collect()).apps
    assert {app.name: app.version for app in apps}["bash"] is None
    assert {app.name: app.version for app in apps}["firefox"] == "132.0.2-1"
    assert "/usr/bin/bash" not in laptop.state.load("inventory").get("versions", {})
    laptop.missing.clear()
    laptop.calls.clear()
    assert only(sampler.collect()).apps == EXPECTED_APPS  # a change: versions now known
    assert len(laptop.dpkg_searches()) == 1


def test_rpm_family(laptop: Laptop) -> None:
    (laptop.root / "var/lib/dpkg/status").unlink()
    (laptop.root / "var/lib/rpm").mkdir(parents=True)
    laptop.rpm_owners = {
        "/usr/bin/bash": ["bash\t5.2.26-3.fc40"],
        "/usr/lib/firefox-esr/firefox-esr": ["firefox\t132.0.2-1.fc40"],
    }
    apps = only(laptop.sampler().collect()).apps
    versions = {app.name: app.version for app in apps}
    assert versions == {
        "bash": "5.2.26-3.fc40",
        "firefox": "132.0.2-1",
        "firefox-esr": "132.0.2-1.fc40",
        "gnome-shell": None,
        "tool": None,
    }
    rpm_calls = [call for call in laptop.calls if call[0] == "rpm"]
    assert len(rpm_calls) == 1 and len(rpm_calls[0]) == 4 + 4


def test_rpm_two_owners_falls_back_to_one_path_at_a_time(laptop: Laptop) -> None:
    (laptop.root / "var/lib/dpkg/status").unlink()
    (laptop.root / "usr/lib/sysimage/rpm").mkdir(parents=True)
    laptop.rpm_owners = {
        "/usr/bin/bash": ["bash\t5.2.26-3.fc40"],
        "/usr/bin/gnome-shell": ["gnome-shell\t46.2-1.fc40", "gnome-shell-x\t46.2-1.fc40"],
    }
    versions = {app.name: app.version for app in only(laptop.sampler().collect()).apps}
    assert versions["bash"] == "5.2.26-3.fc40"
    assert versions["gnome-shell"] == "46.2-1.fc40"
    assert versions["firefox-esr"] is None
    assert len([call for call in laptop.calls if call[0] == "rpm"]) == 1 + 4


def test_no_logind_falls_back_to_the_uid_range(laptop: Laptop) -> None:
    for entry in (laptop.root / "run/systemd/users").iterdir():
        entry.unlink()
    (laptop.root / "run/systemd/users").rmdir()
    names = [app.name for app in only(laptop.sampler().collect()).apps]
    assert "vim.basic" in names  # bob counts now: uid within UID_MIN..UID_MAX
    assert "systemd" not in names


def test_directory_users_with_a_session_count(laptop: Laptop) -> None:
    laptop.write("run/systemd/users/1768801104", "NAME=carol@corp.example\n")
    laptop.processes.append(proc(400, 1768801104, "/usr/bin/vim.basic"))
    names = [app.name for app in only(laptop.sampler().collect()).apps]
    assert "vim.basic" in names


def test_version_cache_is_bounded(laptop: Laptop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inventory_module, "MAX_CACHED", 2)
    laptop.sampler().collect()
    cached = laptop.state.load("inventory")["versions"]
    assert len(cached) == 2


# -- peripherals -----------------------------------------------------------------------------


def usb_device(
    root: Path, name: str, ids: tuple[str, str], strings: dict[str, str], drivers: list[str | None]
) -> None:
    base = root / "sys/bus/usb/devices" / name
    base.mkdir(parents=True)
    (base / "idVendor").write_text(ids[0] + "\n")
    (base / "idProduct").write_text(ids[1] + "\n")
    for key, value in strings.items():
        (base / key).write_text(value + "\n")
    for number, driver in enumerate(drivers):
        interface = root / "sys/bus/usb/devices" / f"{name}:1.{number}"
        interface.mkdir()
        if driver is not None:
            target = root / "sys/bus/usb/drivers" / driver
            target.mkdir(parents=True, exist_ok=True)
            (interface / "driver").symlink_to(target)


def module(root: Path, bus: str, driver: str, name: str, version: str | None) -> None:
    folder = root / "sys/module" / name
    folder.mkdir(parents=True)
    if version is not None:
        (folder / "version").write_text(version + "\n")
    drivers = root / "sys/bus" / bus / "drivers" / driver
    drivers.mkdir(parents=True, exist_ok=True)
    (drivers / "module").symlink_to(folder)


def hid_device(root: Path, name: str, uevent: str, driver: str | None) -> None:
    base = root / "sys/bus/hid/devices" / name
    base.mkdir(parents=True)
    (base / "uevent").write_text(uevent)
    if driver is not None:
        target = root / "sys/bus/hid/drivers" / driver
        target.mkdir(parents=True, exist_ok=True)
        (base / "driver").symlink_to(target)


def plug_peripherals(root: Path) -> None:
    usb_device(root, "usb1", ("1d6b", "0003"), {"product": "xHCI Host Controller"}, [])
    hub_interface = root / "sys/bus/usb/devices/1-0:1.0"
    hub_interface.mkdir()
    (hub_interface / "driver").symlink_to(root / "sys/bus/usb/drivers/hub", True)
    usb_device(
        root,
        "1-1",
        ("046d", "c52b"),
        {"manufacturer": "Logitech", "product": "USB Receiver", "serial": "SECRET-1"},
        ["usbhid", "usbhid", None],
    )
    usb_device(
        root,
        "1-2",
        ("0BDA", "8153"),
        {"manufacturer": "Realtek", "product": "USB 10/100/1000 LAN\x00"},
        ["r8152"],
    )
    module(root, "usb", "r8152", "r8152", "v1.12.13")
    usb_device(
        root,
        "1-3.1",
        ("047f", "c056"),
        {"manufacturer": "Plantronics", "product": "Plantronics Blackwire 3220 Series"},
        ["snd-usb-audio", "snd-usb-audio", "usbhid"],
    )
    module(root, "usb", "snd-usb-audio", "snd_usb_audio", None)
    usb_device(root, "1-4", ("27c6", "6594"), {}, [])
    hid_device(
        root,
        "0005:046D:B023.0003",
        "DRIVER=logitech-hidpp-device\nHID_ID=0005:0000046D:0000B023\nHID_NAME=MX Master 3\n"
        "HID_PHYS=f8:e4:e3:00:11:22\nHID_UNIQ=e2:5b:11:22:33:44\n",
        "logitech-hidpp-device",
    )
    hid_device(
        root,
        "0005:004C:0267.0004",
        "DRIVER=apple\nHID_NAME=Magic Keyboard\n",
        None,
    )
    hid_device(root, "0003:046D:C52B.0001", "HID_NAME=Logitech USB Receiver\n", "hid-generic")


EXPECTED_PERIPHERALS = [
    InventoryPeripheral(
        device_class="bluetooth",
        name="Magic Keyboard",
        vendor_id="004c",
        product_id="0267",
        driver="apple",
    ),
    InventoryPeripheral(
        device_class="bluetooth",
        name="MX Master 3",
        vendor_id="046d",
        product_id="b023",
        driver="logitech-hidpp-device",
    ),
    InventoryPeripheral(
        device_class="usb",
        name="Logitech USB Receiver",
        vendor_id="046d",
        product_id="c52b",
        driver="usbhid",
    ),
    InventoryPeripheral(
        device_class="usb",
        name="Plantronics Blackwire 3220 Series",
        vendor_id="047f",
        product_id="c056",
        driver="snd-usb-audio",
    ),
    InventoryPeripheral(
        device_class="usb",
        name="Plantronics Blackwire 3220 Series",
        vendor_id="047f",
        product_id="c056",
        driver="usbhid",
    ),
    InventoryPeripheral(
        device_class="usb",
        name="Realtek USB 10/100/1000 LAN",
        vendor_id="0bda",
        product_id="8153",
        driver="r8152",
        driver_version="v1.12.13",
    ),
    InventoryPeripheral(device_class="usb", vendor_id="27c6", product_id="6594"),
]


def test_peripherals_with_their_drivers(laptop: Laptop) -> None:
    plug_peripherals(laptop.root)
    sample = only(laptop.sampler().collect())
    assert sorted(sample.peripherals, key=lambda p: p.model_dump_json()) == sorted(
        EXPECTED_PERIPHERALS, key=lambda p: p.model_dump_json()
    )
    assert "SECRET-1" not in sample.model_dump_json()
    assert not any(p.name == "xHCI Host Controller" for p in sample.peripherals)


def test_no_usb_or_bluetooth_is_an_empty_list(laptop: Laptop) -> None:
    assert only(laptop.sampler().collect()).peripherals == []


# -- when it is sent -------------------------------------------------------------------------


def test_start_change_daily_rhythm(laptop: Laptop) -> None:
    sampler = laptop.sampler()
    assert only(sampler.collect()).reason == "start"
    laptop.clock.now += timedelta(hours=1)
    assert sampler.collect() == []

    laptop.processes.append(proc(500, ALICE, "/usr/bin/vim.basic"))
    laptop.clock.now += timedelta(hours=1)
    changed = only(sampler.collect())
    assert changed.reason == "change"
    assert changed.ts == START + timedelta(hours=2)
    assert "vim.basic" in [app.name for app in changed.apps]

    laptop.clock.now += timedelta(hours=22)
    assert sampler.collect() == []  # 22 h since the change was sent
    laptop.clock.now += timedelta(hours=2)
    daily = only(sampler.collect())
    assert daily.reason == "daily"
    assert daily.apps == changed.apps
    laptop.clock.now += timedelta(hours=1)
    assert sampler.collect() == []

    plug_peripherals(laptop.root)
    laptop.clock.now += timedelta(hours=1)
    assert only(sampler.collect()).reason == "change"

    assert only(laptop.sampler().collect()).reason == "start"  # a new agent process


def test_daily_tolerates_a_slightly_early_check(laptop: Laptop) -> None:
    sampler = laptop.sampler()
    sampler.collect()
    laptop.clock.now += timedelta(hours=23, minutes=20)
    assert sampler.collect() == []
    laptop.clock.now += timedelta(minutes=20)  # 23h40: within half an hourly interval
    assert only(sampler.collect()).reason == "daily"


def test_hash_ignores_order() -> None:
    a = InventoryApp(name="a", version="1")
    b = InventoryApp(name="b", version="2")
    p = InventoryPeripheral(device_class="usb", driver="usbhid")
    assert inventory_hash([a, b], [p]) == inventory_hash([b, a], [p])
    assert inventory_hash([a, b], [p]) != inventory_hash([a], [p])
    assert inventory_hash([a], []) != inventory_hash([], [InventoryPeripheral(name="a")])


def test_apps_are_capped(laptop: Laptop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "MAX_APPS", 3)
    apps = only(laptop.sampler().collect()).apps
    # the first three paths: /home/alice/bin/tool, /snap/firefox/..., /usr/bin/bash
    assert [app.name for app in apps] == ["bash", "firefox", "tool"]
