"""The OS matrix: the agent's Windows and macOS collection paths, end to end, on this machine.

For each OS, :func:`dexpulse.agent.platform.select` puts that OS's backends in place and a
recorded laptop answers every command they run (captured outputs from tests/fixtures, stamped
with recent times) and holds the files they read (crash and hang reports). The agent service
then runs exactly as on a laptop: device facts at start, enrollment against a real collector
process, every sampler under its supervisor for a few minutes of fake time, samples spooled and
uploaded. The test reads back from the collector's API what arrived: the device's OS, model and
build, and one sample of every kind that OS's backends give, with no sampler failing.

What this cannot prove is that the recorded outputs are what a real machine prints today: the
per-backend tests name the captures, and the README lists what still needs a real machine.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import httpx
import pytest
from fake_wlanapi import Bss, FakeWlan, Interface
from harness import Server, serve

from dexpulse.agent import platform
from dexpulse.agent.config import AgentConfig
from dexpulse.agent.platform import CommandResult, Host, NoData
from dexpulse.agent.platform._windows import wlanapi
from dexpulse.agent.service import AgentService

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).parents[1] / "fixtures"
OsName = Literal["windows", "macos"]


@dataclass
class Laptop:
    """A recorded machine: files under ``root``; commands answered by the longest matching
    argv prefix (an unknown command is "not installed", as on a machine without it)."""

    root: Path
    answers: list[tuple[tuple[str, ...], CommandResult]] = field(default_factory=list)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def answer(self, prefix: Sequence[str], stdout: str, rc: int = 0) -> None:
        self.answers = [a for a in self.answers if a[0] != tuple(prefix)]
        self.answers.append((tuple(prefix), CommandResult(rc, stdout)))

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult:
        self.calls.append(tuple(argv))
        best: tuple[int, CommandResult] | None = None
        for prefix, result in self.answers:
            if tuple(argv[: len(prefix)]) == prefix and (best is None or len(prefix) > best[0]):
                best = (len(prefix), result)
        if best is None:
            raise NoData(f"{argv[0]} is not installed")
        return best[1]

    def file(self, path: str, text: str, mtime: datetime) -> None:
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        import os

        os.utime(target, (mtime.timestamp(), mtime.timestamp()))

    @property
    def host(self) -> Host:
        return Host(root=self.root, run=self.run)


def fixture(area: str, os_name: str, case: str, name: str) -> str:
    return (FIXTURES / area / os_name / case / name).read_text(encoding="utf-8")


def process(pid: int, exe: str, uid: int, user: str) -> SimpleNamespace:
    """What psutil.process_iter([...]) yields for one process (the fields backends ask for)."""
    info = {"exe": exe, "uids": (uid, uid, uid), "username": user}
    return SimpleNamespace(pid=pid, info=info)


# -- the recorded laptops ----------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    laptop: Laptop
    processes: list[SimpleNamespace]
    expect: dict[str, Any]
    """``facts``: device fields; ``kinds``: sample kinds that must arrive."""
    later: dict[int, list[tuple[tuple[str, ...], str]]] = field(default_factory=dict)
    """Answers that change at minute N of the run (a device failing while the agent runs)."""


def macbook(root: Path, t0: datetime) -> Recorded:
    mac = Laptop(root)
    mac.answer(
        ["sw_vers"], "ProductName:\t\tmacOS\nProductVersion:\t\t15.5\nBuildVersion:\t\t24F74\n"
    )
    mac.answer(["sysctl", "-n", "hw.model"], "Mac15,3\n")
    # Wi-Fi: wdutil as root (this suite may run as root), system_profiler otherwise.
    mac.answer(["wdutil", "info"], fixture("wifi", "macos", "wdutil_info_macos15_redacted_1",
                                           "macos_wdutil_info_macos15_redacted_1.txt"))  # fmt: skip
    mac.answer(
        ["system_profiler", "SPAirPortDataType", "-json"],
        fixture("wifi", "macos", "system_profiler_SPAirPortDataType_15_5_1",
                "macos_system_profiler_SPAirPortDataType_15_5_1.json"),
    )  # fmt: skip
    mac.answer(["system_profiler", "SPPowerDataType", "-json"], json.dumps({"SPPowerDataType": [
        {"_name": "spbattery_information",
         "sppower_battery_charge_info": {"sppower_battery_state_of_charge": 81,
                                         "sppower_battery_is_charging": "FALSE"},
         "sppower_battery_health_info": {"sppower_battery_cycle_count": 312,
                                         "sppower_battery_health_maximum_capacity": "84%"}},
        {"_name": "sppower_ac_charger_information",
         "sppower_battery_charger_connected": "FALSE"}]}))  # fmt: skip
    booted = t0 - timedelta(hours=1)
    mac.answer(["sysctl", "-n", "kern.bootsessionuuid"], "6C1D2E3F-4A5B-4C6D-8E9F-0A1B2C3D4E5F\n")
    mac.answer(
        ["sysctl", "-n", "kern.boottime"],
        f"{{ sec = {int(booted.timestamp())}, usec = 0 }} {booted:%a %b %d %H:%M:%S %Y}\n",
    )
    login = booted + timedelta(seconds=38)
    mac.answer(
        ["ps", "-axo", "pid=,lstart=,comm="],
        f"    1 {booted:%a %b %e %H:%M:%S %Y}     /sbin/launchd\n"
        f"   98 {login:%a %b %e %H:%M:%S %Y}     "
        "/System/Library/CoreServices/loginwindow.app/Contents/MacOS/loginwindow\n",
    )
    # A crash report (the real .ips capture, moved to a minute ago) and a hang report.
    crashed = t0 - timedelta(seconds=40)
    case = "ips_crash_309_macos15_1"
    ips = fixture("crashes", "macos", case, f"macos_{case}.ips")
    ips = re.sub(r"2025-02-01 18:4\d:\d\d\.\d+ -0500", f"{crashed:%Y-%m-%d %H:%M:%S}.00 +0000", ips)
    mac.file("/Users/alice/Library/Logs/DiagnosticReports/Transit-2026.ips", ips, crashed)
    hung = t0 - timedelta(seconds=30)
    mac.file(
        "/Library/Logs/DiagnosticReports/Ledger_2026.hang",
        f"Date/Time:        {hung:%Y-%m-%d %H:%M:%S}.250 +0000\n"
        "OS Version:       macOS 15.5 (Build 24F74)\n\n"
        "Command:          Ledger\n"
        "Path:             /Applications/Ledger.app/Contents/MacOS/Ledger\n"
        "Version:          4.2.1 (4210)\nPID:              4242\n\n"
        "Event:            hang\nDuration:         6.50s\n"
        "Steps:            45 (100ms sampling interval)\n\n"
        "Process:          Ledger [4242]\n",
        hung,
    )
    # The unified log: one USB enumeration failure, a little after the agent started.
    failed = t0 + timedelta(minutes=2)
    entry = {
        "eventType": "logEvent", "messageType": "Default", "processImagePath": "/kernel",
        "processID": 0, "subsystem": "", "category": "",
        "timestamp": f"{failed:%Y-%m-%d %H:%M:%S.%f}+0000",
        "eventMessage": "AppleUSB20XHCIPort@01400000: AppleUSBHostPort::disconnect: "
                        "persistent enumeration failures",
    }  # fmt: skip
    mac.answer(["log", "show"], f"Filtering the log data\n{json.dumps(entry)}\n")
    mac.answer(["system_profiler", "SPUSBDataType", "-json"], json.dumps({"SPUSBDataType": [
        {"_name": "USB31Bus", "_items": [
            {"_name": "USB Receiver", "manufacturer": "Logitech",
             "vendor_id": "0x046d  (Logitech Inc.)", "product_id": "0xc52b"}]}]}))  # fmt: skip
    mac.answer(["system_profiler", "SPBluetoothDataType", "-json"], json.dumps(
        {"SPBluetoothDataType": [{"device_connected": [
            {"MX Master 3": {"device_vendorID": "0x046D", "device_productID": "0xB023",
                             "device_firmwareVersion": "12.3"}}]}]}))  # fmt: skip
    ledger = "/Applications/Ledger.app/Contents/MacOS/Ledger"
    mac.file(
        "/Applications/Ledger.app/Contents/Info.plist",
        '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>'
        "<key>CFBundleShortVersionString</key><string>4.2.1</string></dict></plist>\n",
        t0,
    )
    return Recorded(
        mac,
        [process(4242, ledger, 501, "alice"), process(1, "/sbin/launchd", 0, "root")],
        {
            "facts": {"os": "macos", "model": "Mac15,3", "os_build": "24F74"},
            "kinds": {
                "system", "wifi", "battery", "boot", "app_crash", "app_hang",
                "peripheral_failure", "inventory",
            },
            "inventory_app": {"name": "Ledger", "version": "4.2.1", "running": True},
        },
    )  # fmt: skip


def windows_event(provider: str, event_id: int, ts: datetime, data: dict[str, str]) -> str:
    """One event as ``wevtutil qe ... /f:xml`` prints it, with named EventData."""
    fields = "".join(f'<Data Name="{k}">{v}</Data>' for k, v in data.items())
    return (
        '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
        f'<Provider Name="{provider}" /><EventID>{event_id}</EventID>'
        f'<TimeCreated SystemTime="{ts:%Y-%m-%dT%H:%M:%S}.1234567Z" /></System>'
        f"<EventData>{fields}</EventData></Event>\r\n"
    )


def ps_date(stamp: datetime) -> str:
    """A DateTime as Windows PowerShell 5.1's ConvertTo-Json writes it."""
    return f"\\/Date({int(stamp.timestamp() * 1000)})\\/"


def thinkpad(root: Path, t0: datetime) -> Recorded:
    from dexpulse.agent.platform import _windows
    from dexpulse.agent.platform._windows import battery, boot, inventory, peripherals

    win = Laptop(root)
    win.answer(_windows.FACTS, json.dumps({
        "Manufacturer": "LENOVO", "Model": "21HD003QGE", "Caption": "Microsoft Windows 11 Pro",
        "DisplayVersion": "23H2", "ReleaseId": "2009", "CurrentBuild": "22631",
        "UBR": 4460}))  # fmt: skip
    # Application log: the real Application Error 1000 capture, moved to a minute ago, and a
    # hang (1002, positional data as Windows writes it).
    crashed = t0 - timedelta(seconds=40)
    crash = fixture("crashes", "windows", "event_1000_application_error_win11_named_data_1",
                    "windows_event_1000_application_error_win11_named_data_1.xml")  # fmt: skip
    stamp = f'SystemTime="{crashed:%Y-%m-%dT%H:%M:%S}.1703727Z"'
    crash = re.sub(r'SystemTime="[^"]+"', stamp, crash)
    hung = t0 - timedelta(seconds=30)
    hang = (
        '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
        '<Provider Name="Application Hang" /><EventID Qualifiers="0">1002</EventID>'
        f'<TimeCreated SystemTime="{hung:%Y-%m-%dT%H:%M:%S}.0000000Z" /></System><EventData>'
        + "".join(f"<Data>{d}</Data>" for d in (
            "OUTLOOK.EXE", "16.0.18526.20168", "273c", "01db9e8a5c2f7d11", "4294967295",
            r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE",
            "0c9b2b6e-1b1c-4c1f-9a53-7d2a3f1f4c1e", "", "", "Quiesce"))
        + "</EventData></Event>\r\n"
    )  # fmt: skip
    win.answer(["wevtutil", "qe", "Application"], crash + hang)
    # WLAN-AutoConfig: a drop with its reason, two minutes in.
    dropped = t0 + timedelta(minutes=2)
    win.answer(["wevtutil", "qe", "Microsoft-Windows-WLAN-AutoConfig/Operational"], windows_event(
        "Microsoft-Windows-WLAN-AutoConfig", 8003, dropped, {
            "InterfaceGuid": "{a7d8885d-10c1-43d4-9e1e-0a7b2678f020}",
            "InterfaceDescription": "Intel(R) Wi-Fi 6E AX211 160MHz", "SSID": "Office",
            "Reason": "The network is disconnected by the driver.",
            "ReasonCode": "163850"}))  # fmt: skip
    # Kernel-PnP: a device that had a problem starting (411) and one that started fine (410).
    pnp = {"DeviceInstanceId": r"USB\VID_17EF&amp;PID_A387\7&amp;11e7f7e8&amp;0&amp;1",
           "DriverName": "usb.inf", "ClassGuid": "{36FC9E60-C465-11CF-8056-444553540000}",
           "ServiceName": "rtux64w10", "Problem": "0x2b", "Status": "0xC0000001"}  # fmt: skip
    win.answer(["wevtutil", "qe", peripherals.PNP_LOG],
               windows_event("Microsoft-Windows-Kernel-PnP", 411, t0 + timedelta(minutes=1), pnp)
               + windows_event("Microsoft-Windows-Kernel-PnP", 410, t0, pnp))  # fmt: skip
    # Device problem codes: none at the first look; a camera that fails to install later.
    win.answer(peripherals.PNP_PROBLEMS, "[]")
    # Boot: LastBootUpTime an hour ago, and its Diagnostics-Performance event 100.
    booted = t0 - timedelta(hours=1)
    last_boot = json.dumps({"LastBootUpTime": ps_date(booted)})
    win.answer(boot.LAST_BOOT, last_boot.replace("\\\\", "\\"))
    win.answer(["wevtutil", "qe", "Microsoft-Windows-Diagnostics-Performance/Operational"],
               windows_event("Microsoft-Windows-Diagnostics-Performance", 100,
                             booted + timedelta(minutes=9), {
                   "BootStartTime": f"{booted - timedelta(seconds=3):%Y-%m-%dT%H:%M:%S}.7269640Z",
                   "BootTime": "51237", "OSLoaderDuration": "1308",
                   "BootUserProfileProcessingTime": "5400", "BootExplorerInitTime": "4731",
                   "BootPostBootTime": "26800"}))  # fmt: skip
    win.answer(battery.BATTERY, json.dumps({
        "Battery": [{"DeviceID": "1234LGCLNV-45N1", "EstimatedChargeRemaining": 81,
                     "BatteryStatus": 1}],
        "Static": [{"InstanceName": "ACPI\\PNP0C0A\\1_0", "DesignedCapacity": 57000,
                    "Capabilities": 2147483648}],
        "Full": [{"InstanceName": "ACPI\\PNP0C0A\\1_0", "FullChargedCapacity": 51300}],
        "Cycles": [], "Status": []}))  # fmt: skip
    outlook = r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE"
    win.file(outlook, "MZ", t0 - timedelta(days=3))  # the image whose version is looked up
    win.answer(inventory.versions_argv([outlook]), json.dumps([{
        "Path": outlook, "FileVersion": "16.0.18526.20168", "ProductVersion": "16.0.18526.20168",
        "Major": 16, "Minor": 0, "Build": 18526, "Private": 20168}]))  # fmt: skip
    win.answer(inventory.PERIPHERALS, json.dumps([{
        "DeviceName": "USB Composite Device", "DeviceClass": "USB",
        "DeviceID": "USB\\VID_046D&PID_C52B\\5&1", "ClassGuid": None, "InfName": "usb.inf",
        "DriverVersion": "10.0.22621.2506", "Service": "usbccgp", "Present": True}]))  # fmt: skip
    camera = {"Name": "USB Video Device", "DeviceID": "USB\\VID_0BDA&PID_58FD\\6&1",
              "PNPClass": "Camera", "ClassGuid": None, "ConfigManagerErrorCode": 28,
              "Service": None, "Manufacturer": None}  # fmt: skip
    return Recorded(
        win,
        [process(4100, outlook, 0, "CONTOSO\\alice")],
        {
            "facts": {"os": "windows", "model": "21HD003QGE", "os_build": "22631.4460",
                      "os_version": "Windows 11 Pro 23H2", "manufacturer": "LENOVO"},
            "kinds": {"system", "wifi", "wifi_event", "battery", "boot", "app_crash",
                      "app_hang", "peripheral_failure", "inventory"},
            "inventory_app": {"name": "OUTLOOK.EXE", "version": "16.0.18526.20168",
                              "running": True},
            "failures": {"problem code 43, status 0xc0000001", "problem code 28"},
        },
        later={5: [(peripherals.PNP_PROBLEMS, json.dumps([camera]))]},
    )  # fmt: skip


LAPTOPS: dict[OsName, Callable[[Path, datetime], Recorded]] = {
    "macos": macbook,
    "windows": thinkpad,
}


# -- the run -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("collector")
    with serve(f"sqlite:///{work / 'c.db'}", work) as running:
        yield running


@pytest.fixture
def selected(request: pytest.FixtureRequest) -> Iterator[OsName]:
    name: OsName = request.param
    before = platform.current
    platform.select(name)
    try:
        yield name
    finally:
        platform.current, platform.OS_NAME = before, before.OS_NAME


def fetch(server: Server, key: str, path: str) -> Any:
    answer = httpx.get(f"{server.url}{path}", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize("selected", list(LAPTOPS), indirect=True)
def test_agent_collects_and_uploads_as_on_a_laptop_of_that_os(
    selected: OsName, collector: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    recorded = LAPTOPS[selected](tmp_path / "root", t0)
    inventory = importlib.import_module(f"{platform.current.__name__}.inventory")
    fake_psutil = SimpleNamespace(process_iter=lambda *a, **k: iter(recorded.processes))
    monkeypatch.setattr(inventory, "psutil", fake_psutil)  # the laptop's processes, not ours
    clock = [t0]
    config = AgentConfig.model_validate(
        {
            "collector_url": collector.url,
            "enrollment_secret": collector.cli("collector", "enrollment-secret", "create"),
            "state_dir": str(tmp_path / "agent"),
            "tags": {"site": f"matrix-{selected}"},
            "samplers": {"network_probe": {"enabled": False}, "throughput": {"enabled": False}},
        }
    )
    if selected == "windows":  # the Native Wifi API answers, through the fake DLL
        wifi_card = FakeWlan(Interface(bss=[Bss(bytes.fromhex("fedcba987601"))]))
        monkeypatch.setattr(wlanapi, "load", lambda: wifi_card)
    agent = AgentService(config, host=recorded.laptop.host, clock=lambda: clock[0])
    credentials = agent.enroll()
    assert credentials is not None
    produced: list[Any] = []
    for minute in range(12):  # long enough for the throttled readers (5 and 10 minutes)
        for prefix, stdout in recorded.later.get(minute, []):
            recorded.laptop.answer(prefix, stdout)
        for supervisor in agent.enabled():
            produced += agent.sample(supervisor)
        clock[0] += timedelta(minutes=1)
    assert agent.upload() > 0
    agent.spool.close()

    failures = [
        (s.component, s.status, s.message)
        for s in produced
        if s.kind == "agent_health" and s.status in ("error", "disabled", "degraded")
    ]
    assert failures == []
    key = collector.cli("collector", "api-key", "create", "--role", "viewer")
    device = fetch(collector, key, f"/api/v1/devices/{credentials.device_id}")
    assert {k: device[k] for k in recorded.expect["facts"]} == recorded.expect["facts"]
    samples = fetch(collector, key, f"/api/v1/devices/{credentials.device_id}/samples")["samples"]
    kinds = {s["kind"] for s in samples}
    assert recorded.expect["kinds"] <= kinds, f"missing: {recorded.expect['kinds'] - kinds}"
    assert len(samples) == len(produced)  # everything produced arrived, once
    [inventory] = [s for s in samples if s["kind"] == "inventory"]
    assert recorded.expect["inventory_app"] in inventory["data"]["apps"]
    errors = {s["data"].get("error") for s in samples if s["kind"] == "peripheral_failure"}
    assert recorded.expect.get("failures", errors) <= errors
