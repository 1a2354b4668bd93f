"""macOS inventory backend: running apps with bundle versions (plistlib, cached per path),
USB and Bluetooth peripherals from system_profiler; the inventory sampler over it."""

from __future__ import annotations

import json
import os
import plistlib
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest
from fakehost import Machine

from dexpulse.agent import platform
from dexpulse.agent.config import AgentConfig
from dexpulse.agent.platform import NoData
from dexpulse.agent.platform._macos import inventory
from dexpulse.agent.platform._macos.inventory import (
    SP_BLUETOOTH,
    SP_USB,
    SP_USB_HOST,
    apps_in_use,
    info_plist,
    peripherals,
)
from dexpulse.agent.samplers.base import Context
from dexpulse.agent.samplers.inventory import InventorySampler
from dexpulse.agent.state import StateStore
from dexpulse.schema import InventoryApp, InventoryPeripheral, InventorySample

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ALICE = 501
LEDGER = "/Applications/Ledger.app/Contents/MacOS/Ledger"
HELPER = (
    "/Applications/Ledger.app/Contents/Frameworks/Ledger Helper (Renderer).app/Contents/MacOS/"
    "Ledger Helper (Renderer)"
)
WRAPPED = "/Applications/Transit.app/Wrapper/Transit.app/Transit"
XPC = "/Applications/Ledger.app/Contents/XPCServices/Sync.xpc/Contents/MacOS/Sync"
NO_PLIST = "/Applications/Broken.app/Contents/MacOS/Broken"
SSH = "/usr/bin/ssh"
DOCK = "/System/Library/CoreServices/Dock.app/Contents/MacOS/Dock"
# made-up devices in the shapes of the parser tests (tests/agent/parsers/..._system_profiler)
USB = {
    "SPUSBDataType": [
        {
            "_name": "USB31Bus",
            "_items": [
                {
                    "_name": "USB Receiver",
                    "manufacturer": "Logitech",
                    "vendor_id": "0x046d  (Logitech Inc.)",
                    "product_id": "0xc52b",
                    "serial_num": "SERIAL123",
                }
            ],
        }
    ]
}
USB_HOST = {
    "SPUSBHostDataType": [
        {"_name": "USB 3.1 Bus", "_items": [{"_name": "Dock", "USBDeviceKeyVendorID": "0x2109"}]}
    ]
}
BLUETOOTH = {
    "SPBluetoothDataType": [
        {
            "device_connected": [
                {
                    "MX Master 3": {
                        "device_address": "AA:BB:CC:DD:EE:FF",
                        "device_vendorID": "0x046D",
                        "device_productID": "0xB023",
                        "device_firmwareVersion": "1.2.5",
                    }
                }
            ]
        }
    ]
}
RECEIVER = InventoryPeripheral(
    device_class="usb", name="Logitech USB Receiver", vendor_id="046d", product_id="c52b"
)
MOUSE = InventoryPeripheral(
    device_class="bluetooth",
    name="MX Master 3",
    vendor_id="046d",
    product_id="b023",
    driver_version="1.2.5",
)


def proc(pid: int, uid: int, exe: str | None) -> SimpleNamespace:
    return SimpleNamespace(pid=pid, info={"exe": exe, "uids": (uid, uid, uid)})


PROCESSES = [
    proc(1, 0, "/sbin/launchd"),
    proc(90, 88, "/System/Library/PrivateFrameworks/SkyLight.framework/Resources/WindowServer"),
    proc(100, ALICE, LEDGER),
    proc(101, ALICE, LEDGER),
    proc(102, ALICE, HELPER),
    proc(103, ALICE, WRAPPED),
    proc(104, ALICE, XPC),
    proc(105, ALICE, NO_PLIST),
    proc(106, ALICE, SSH),
    proc(107, ALICE, DOCK),
    proc(108, ALICE, None),  # not permitted to look, or exited
    proc(109, ALICE, ""),
    proc(110, 4294967294, "/usr/bin/nobodys"),  # nobody (-2)
    proc(111, 502, "/Users/bob/bin/tool"),
    proc(os.getpid(), ALICE, "/usr/local/bin/python3"),  # the agent itself
]
EXPECTED = [
    InventoryApp(name="Broken", version=None, running=True),
    InventoryApp(name="Dock", version="1.8", running=True),
    InventoryApp(name="Ledger", version="4.2.1", running=True),
    InventoryApp(name="Ledger Helper (Renderer)", version="4.2.1", running=True),
    InventoryApp(name="Sync", version="77", running=True),
    InventoryApp(name="Transit", version="5.17.10", running=True),
    InventoryApp(name="ssh", version=None, running=True),
    InventoryApp(name="tool", version=None, running=True),
]


def plist(machine: Machine, exe: str, info: dict[str, Any], binary: bool = False) -> Path:
    path = machine.root / (info_plist(exe) or "").lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(plistlib.dumps(info, fmt=plistlib.FMT_BINARY if binary else plistlib.FMT_XML))
    return path


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    m = Machine(tmp_path)
    plist(m, LEDGER, {"CFBundleShortVersionString": "4.2.1", "CFBundleVersion": "4210"})
    plist(m, HELPER, {"CFBundleShortVersionString": "4.2.1"}, binary=True)
    plist(m, WRAPPED, {"CFBundleShortVersionString": "5.17.10", "CFBundleName": "Transit"})
    plist(m, XPC, {"CFBundleVersion": "77"}, binary=True)
    plist(m, DOCK, {"CFBundleShortVersionString": "1.8"})
    return m


def test_bundle_paths() -> None:
    assert info_plist(LEDGER) == "/Applications/Ledger.app/Contents/Info.plist"
    assert info_plist(WRAPPED) == "/Applications/Transit.app/Wrapper/Transit.app/Info.plist"
    assert (
        info_plist(XPC)
        == "/Applications/Ledger.app/Contents/XPCServices/Sync.xpc/Contents/Info.plist"
    )
    assert info_plist(SSH) is None
    assert info_plist("/opt/tools/Contents/MacOS/tool") is None  # not inside a bundle
    assert info_plist("/tool") is None


def test_apps_in_use(machine: Machine) -> None:
    cache: dict[str, list[str | None]] = {}
    assert apps_in_use(machine.host, cache, PROCESSES) == EXPECTED
    assert set(cache) == {LEDGER, HELPER, WRAPPED, XPC, DOCK}  # bundles with a plist only
    assert cache[LEDGER][1] == "4.2.1"


def test_versions_are_cached_until_the_plist_changes(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache: dict[str, list[str | None]] = {}
    apps_in_use(machine.host, cache, PROCESSES)
    reads: list[bytes] = []
    real = inventory.bundle_version
    monkeypatch.setattr(inventory, "bundle_version", lambda data: reads.append(data) or real(data))
    assert apps_in_use(machine.host, cache, PROCESSES) == EXPECTED
    assert reads == []  # nothing read again
    path = plist(machine, LEDGER, {"CFBundleShortVersionString": "4.3.0"})
    later = NOW.timestamp() + 60
    os.utime(path, (later, later))
    apps = apps_in_use(machine.host, cache, PROCESSES)
    assert InventoryApp(name="Ledger", version="4.3.0", running=True) in apps
    assert len(reads) == 1  # only the updated bundle
    assert cache[LEDGER][1] == "4.3.0"  # re-stamped


def test_unreadable_or_odd_plists_give_no_version(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = machine.root / (info_plist(LEDGER) or "").lstrip("/")
    for junk in (b"not a plist", b"bplist00\x00\x01", plistlib.dumps(["a", "list"])):
        path.write_bytes(junk)
        assert inventory.apps_in_use(machine.host, {}, [proc(5, ALICE, LEDGER)]) == [
            InventoryApp(name="Ledger", version=None, running=True)
        ]
    monkeypatch.setattr(inventory, "MAX_PLIST_BYTES", 10)
    path.write_bytes(plistlib.dumps({"CFBundleShortVersionString": "4.2.1"}))
    assert inventory.apps_in_use(machine.host, {}, [proc(5, ALICE, LEDGER)])[0].version is None


def test_system_executables_go_last_when_there_are_too_many(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inventory, "MAX_APPS", 2)
    many = [proc(10, ALICE, DOCK), proc(11, ALICE, "/System/x"), proc(12, ALICE, SSH)]
    assert inventory.running_executables(many) == [SSH, DOCK]


def test_peripherals(machine: Machine) -> None:
    machine.answer(SP_USB, json.dumps(USB))
    machine.answer(SP_BLUETOOTH, json.dumps(BLUETOOTH))
    assert peripherals(machine.host) == [MOUSE, RECEIVER]
    assert SP_USB_HOST not in machine.calls  # the legacy type listed devices
    dumped = json.dumps([p.model_dump() for p in peripherals(machine.host)])
    assert "SERIAL123" not in dumped and "AA:BB" not in dumped


def test_usb_falls_back_to_the_host_data_type(machine: Machine) -> None:
    machine.answer(SP_USB, "")  # macOS 26: the legacy type reports nothing
    machine.answer(SP_USB_HOST, json.dumps(USB_HOST))
    machine.answer(SP_BLUETOOTH, '{"SPBluetoothDataType": [{}]}')
    assert peripherals(machine.host) == [
        InventoryPeripheral(device_class="usb", name="Dock", vendor_id="2109")
    ]
    machine.answer(SP_USB, '{"SPUSBDataType": []}')
    assert peripherals(machine.host)[0].name == "Dock"


def test_no_usb_device_and_no_host_data_type(machine: Machine) -> None:
    machine.answer(SP_USB, '{"SPUSBDataType": [{"_name": "USB31Bus"}]}')
    machine.answer(SP_USB_HOST, "", rc=1)  # an older release without it
    machine.answer(SP_BLUETOOTH, json.dumps(BLUETOOTH))
    assert peripherals(machine.host) == [MOUSE]


def test_failing_or_slow_system_profiler_is_nodata(machine: Machine) -> None:
    machine.answer(SP_BLUETOOTH, json.dumps(BLUETOOTH))
    with pytest.raises(NoData, match="no USB"):
        peripherals(machine.host)  # neither USB type answers: not an empty list
    machine.answer(SP_USB, json.dumps(USB))
    machine.answer(SP_BLUETOOTH, "", rc=1, stderr="system_profiler: crashed")
    with pytest.raises(NoData):
        peripherals(machine.host)

    def slow(argv: Any, timeout: float) -> Any:
        raise subprocess.TimeoutExpired(list(argv), timeout)

    slow_host = type(machine.host)(root=machine.root, run=slow)
    with pytest.raises(NoData, match="timed out"):
        inventory.bluetooth_peripherals(slow_host)


def test_a_changed_format_leaves_that_source_out(
    machine: Machine, caplog: pytest.LogCaptureFixture
) -> None:
    machine.answer(SP_USB, json.dumps(USB))
    machine.answer(SP_BLUETOOTH, '{"SPBluetoothDataTypeV2": []}')
    assert peripherals(machine.host) == [RECEIVER]
    assert "SPBluetoothDataType" in caplog.text


def test_inventory_sampler_over_macos_backend(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sampler -> macOS backend: sent at start, not again while unchanged, again on a change;
    the version cache survives a restart (no plist is read again)."""
    monkeypatch.setattr(platform, "area", lambda name: {"inventory": inventory}[name])
    monkeypatch.setattr(psutil, "process_iter", lambda attrs: iter(PROCESSES))
    machine.answer(SP_USB, json.dumps(USB))
    machine.answer(SP_BLUETOOTH, json.dumps(BLUETOOTH))
    clock = [NOW]
    store = StateStore(tmp_path / "state" / "state")
    ctx = Context(machine.host, AgentConfig(state_dir=tmp_path / "state"), store, lambda: clock[0])
    sampler = InventorySampler(ctx)
    (sample,) = sampler.collect()
    assert isinstance(sample, InventorySample)
    assert (sample.reason, sample.apps, sample.peripherals) == (
        "start",
        EXPECTED,
        [MOUSE, RECEIVER],
    )
    clock[0] += timedelta(hours=1)
    assert sampler.collect() == []
    restarted = InventorySampler(ctx)
    reads: list[bytes] = []
    real = inventory.bundle_version
    monkeypatch.setattr(inventory, "bundle_version", lambda data: reads.append(data) or real(data))
    (again,) = restarted.collect()
    assert isinstance(again, InventorySample) and again.reason == "start"  # a new process
    assert reads == []  # versions from the state store
    machine.answer(SP_BLUETOOTH, '{"SPBluetoothDataType": [{}]}')  # the mouse went away
    clock[0] += timedelta(hours=1)
    (changed,) = restarted.collect()
    assert isinstance(changed, InventorySample)
    assert (changed.reason, changed.peripherals) == ("change", [RECEIVER])


def test_inventory_sampler_skips_a_run_without_peripherals(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", lambda name: {"inventory": inventory}[name])
    monkeypatch.setattr(psutil, "process_iter", lambda attrs: iter(PROCESSES))
    store = StateStore(tmp_path / "state" / "state")
    ctx = Context(machine.host, AgentConfig(state_dir=tmp_path / "state"), store, lambda: NOW)
    with pytest.raises(NoData):
        InventorySampler(ctx).collect()
