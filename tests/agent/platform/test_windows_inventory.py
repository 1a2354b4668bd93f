"""Windows inventory backend: interactive users' programs with file versions (one PowerShell
lookup per run, cached), peripherals from Win32_PnPSignedDriver, and the inventory sampler.

PowerShell answers are written in Windows PowerShell 5.1's compressed ConvertTo-Json shape of
the scripts' ``$out``; processes are psutil-shaped stand-ins. The Application Error fixture
(a real Windows 11 event) checks that a crash and the inventory name an app alike.
"""

from __future__ import annotations

import base64
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest
from fakehost import Machine

from dexpulse.agent import platform
from dexpulse.agent.config import AgentConfig
from dexpulse.agent.parsers import ParseContext, ParseError
from dexpulse.agent.parsers.wevt import parse_windows_event_xml
from dexpulse.agent.platform import NoData
from dexpulse.agent.platform._windows import inventory, powershell
from dexpulse.agent.samplers.base import Context
from dexpulse.agent.samplers.inventory import InventorySampler
from dexpulse.agent.state import StateStore
from dexpulse.schema import AppCrashSample, InventoryApp, InventoryPeripheral, InventorySample

START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
FIXTURE = (
    Path(__file__).parents[2] / "fixtures/crashes/windows"
    / "event_1000_application_error_win11_named_data_1"
    / "windows_event_1000_application_error_win11_named_data_1.xml"
)  # fmt: skip
OUTLOOK = "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE"
TEAMS = "C:\\Users\\alice\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe"
EXPLORER = "C:\\Windows\\explorer.exe"
AIMT = (
    "C:\\Program Files\\WindowsApps\\AdvancedMicroDevicesInc-2.AIM-TAMS_4.5.1060.0_x64__"
    "0a9344xs7nr4m\\AIMTService\\AIMTService.exe"
)
SVCHOST = "C:\\Windows\\System32\\svchost.exe"
WINLOGON = "C:\\Windows\\System32\\winlogon.exe"
DWM = "C:\\Windows\\System32\\dwm.exe"
FONTDRV = "C:\\Windows\\System32\\fontdrvhost.exe"
VERSIONS = {
    OUTLOOK: (16, 0, 18526, 20168),
    TEAMS: (1, 7, 0, 33761),
    EXPLORER: (10, 0, 22621, 3672),
    AIMT: (4, 5, 0, 1060),
}
PERIPHERALS_51 = json.dumps(
    [
        {"DeviceName": "USB Composite Device", "DeviceClass": "USB",
         "DeviceID": "USB\\VID_046D&PID_C52B\\5&1", "ClassGuid": None, "InfName": "usb.inf",
         "DriverVersion": "10.0.22621.2506", "Service": "usbccgp", "Present": True},
        {"DeviceName": "Intel(R) Wi-Fi 6E AX211 160MHz", "DeviceClass": "NET",
         "DeviceID": "PCI\\VEN_8086&DEV_51F0\\3&1", "ClassGuid": None, "InfName": "oem12.inf",
         "DriverVersion": "23.30.0.6", "Service": "Netwtw14", "Present": True},
    ],
    separators=(",", ":"),
).replace("&", "\\u0026")  # fmt: skip
LOGITECH = InventoryPeripheral(
    device_class="usb", name="USB Composite Device", vendor_id="046d", product_id="c52b",
    driver="usbccgp", driver_version="10.0.22621.2506",
)  # fmt: skip


def proc(pid: int, exe: str | None, user: str | None) -> SimpleNamespace:
    return SimpleNamespace(pid=pid, info={"exe": exe, "username": user})


SESSIONS = {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1, 7: 1, 8: 0, 9: 0, 10: 1, 11: None, 12: None}
PROCESSES = [
    proc(1, OUTLOOK, "CONTOSO\\alice"),
    proc(2, OUTLOOK, "CONTOSO\\alice"),  # a second window: one app
    proc(3, TEAMS, "AzureAD\\AliceSmith"),
    proc(4, EXPLORER, None),  # owner unreadable, but in a user session
    proc(5, WINLOGON, "NT AUTHORITY\\SYSTEM"),  # session 1, but a system account
    proc(6, DWM, "Window Manager\\DWM-1"),
    proc(7, FONTDRV, "Font Driver Host\\UMFD-1"),
    proc(8, SVCHOST, "NT AUTHORITY\\LOCAL SERVICE"),  # session 0
    proc(9, AIMT, "NT AUTHORITY\\SYSTEM"),  # a service: session 0
    proc(10, None, None),  # protected: no exe
    proc(11, AIMT, "LAPTOP-7\\bob"),  # session unreadable, a user's: kept
    proc(12, SVCHOST, None),  # neither session nor owner: not known to be a person's
    proc(os.getpid(), "C:\\Program Files\\dexpulse\\dexpulse.exe", "NT AUTHORITY\\SYSTEM"),
]


def decoded_paths(argv: tuple[str, ...]) -> list[str]:
    """The paths a version lookup carries, decoded from its base64 literal."""
    match = re.search(r"FromBase64String\('([A-Za-z0-9+/=]+)'\)", argv[-1])
    assert match is not None
    paths: list[str] = json.loads(base64.b64decode(match[1]).decode("utf-8"))
    return paths


def version_answer(paths: list[str]) -> str:
    rows: list[dict[str, Any]] = []
    for path in paths:
        if path in VERSIONS:
            major, minor, build, private = VERSIONS[path]
            text = ".".join(map(str, VERSIONS[path]))
            rows.append({"Path": path, "Major": major, "Minor": minor, "Build": build,
                         "Private": private, "FileVersion": text})  # fmt: skip
        else:
            rows.append({"Path": path, "Error": "ItemNotFoundException"})
    return json.dumps(rows, separators=(",", ":"))


class Laptop(Machine):
    """A Windows laptop where alice is logged on; the version lookup answers by its paths."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(tmp_path)
        for path in (OUTLOOK, TEAMS, EXPLORER, AIMT, SVCHOST, WINLOGON):
            self.file(path, "MZ")
        self.processes = list(PROCESSES)
        monkeypatch.setattr(psutil, "process_iter", lambda attrs: iter(self.processes))
        monkeypatch.setattr(inventory, "SESSION_OF", SESSIONS.get)
        self.answer(inventory.PERIPHERALS, PERIPHERALS_51)
        self.lookup_fails = False

    def run(self, argv: Any, timeout: float) -> Any:
        argv = tuple(argv)
        if argv[:4] == powershell.POWERSHELL and "FromBase64String" in argv[-1]:
            self.calls.append(argv)
            if self.lookup_fails:
                raise NoData("powershell is not installed")
            from dexpulse.agent.platform import CommandResult

            return CommandResult(0, version_answer(decoded_paths(argv)))
        return super().run(argv, timeout)

    def lookups(self) -> list[list[str]]:
        return [decoded_paths(c) for c in self.calls if "FromBase64String" in c[-1]]


@pytest.fixture
def laptop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Laptop:
    return Laptop(tmp_path, monkeypatch)


EXPECTED_APPS = [
    InventoryApp(name="AIMTService.exe", version="4.5.0.1060", running=True),
    InventoryApp(name="explorer.exe", version="10.0.22621.3672", running=True),
    InventoryApp(name="OUTLOOK.EXE", version="16.0.18526.20168", running=True),
    InventoryApp(name="Teams.exe", version="1.7.0.33761", running=True),
]


def test_interactive_users_programs_only(laptop: Laptop) -> None:
    assert inventory.running_executables() == sorted([OUTLOOK, TEAMS, EXPLORER, AIMT])


def test_apps_with_versions_in_one_lookup(laptop: Laptop) -> None:
    cache: dict[str, list[str | None]] = {}
    apps = inventory.apps_in_use(laptop.host, cache)
    assert sorted(apps, key=lambda a: a.name.lower()) == EXPECTED_APPS
    assert laptop.lookups() == [sorted([OUTLOOK, TEAMS, EXPLORER, AIMT])]
    (call,) = laptop.calls
    assert call == inventory.versions_argv(sorted([OUTLOOK, TEAMS, EXPLORER, AIMT]))
    assert cache[OUTLOOK][1] == "16.0.18526.20168"
    laptop.calls.clear()
    assert inventory.apps_in_use(laptop.host, cache) == apps
    assert laptop.calls == []  # all cached


def test_app_name_is_the_crash_events_app_name(laptop: Laptop) -> None:
    (crash,) = parse_windows_event_xml(FIXTURE.read_text("utf-8"), ParseContext(now=START))
    assert isinstance(crash, AppCrashSample)
    apps = {a.name: a.version for a in inventory.apps_in_use(laptop.host, {})}
    assert crash.app_path == AIMT
    assert apps[crash.app_name] == crash.app_version == "4.5.0.1060"


def test_changed_file_is_looked_up_again(laptop: Laptop) -> None:
    cache: dict[str, list[str | None]] = {}
    inventory.apps_in_use(laptop.host, cache)
    laptop.calls.clear()
    later = START + timedelta(days=3)
    laptop.file(TEAMS, "MZ updated", mtime=later)  # an update replaced Teams.exe
    VERSIONS[TEAMS] = (1, 7, 0, 40000)
    try:
        apps = inventory.apps_in_use(laptop.host, cache)
    finally:
        VERSIONS[TEAMS] = (1, 7, 0, 33761)
    assert laptop.lookups() == [[TEAMS]]
    assert InventoryApp(name="Teams.exe", version="1.7.0.40000", running=True) in apps


def test_paths_are_data_not_script(laptop: Laptop) -> None:
    odd = 'C:\\Users\\o\'brien\\$Tools\\`x\\Zoë "beta"\\app.exe'
    argv = inventory.versions_argv([odd])
    assert decoded_paths(argv) == [odd]
    script = argv[-1]
    assert "o'brien" not in script and "Zoë" not in script and "$Tools" not in script
    assert '"' not in script and script.isascii()


def test_lookup_that_cannot_run_is_retried_next_run(
    laptop: Laptop, caplog: pytest.LogCaptureFixture
) -> None:
    cache: dict[str, list[str | None]] = {}
    laptop.lookup_fails = True
    apps = inventory.apps_in_use(laptop.host, cache)
    assert {a.name for a in apps} == {a.name for a in EXPECTED_APPS}
    assert all(a.version is None for a in apps) and cache == {}
    assert "file versions of 4 programs not read" in caplog.text
    laptop.lookup_fails = False
    assert sorted(inventory.apps_in_use(laptop.host, cache), key=lambda a: a.name.lower()) == (
        EXPECTED_APPS
    )


def test_bad_json_from_the_lookup_is_logged_not_raised(
    laptop: Laptop, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(inventory, "run_text", lambda *a, **k: "Get-Item : Access denied")
    cache: dict[str, list[str | None]] = {}
    apps = inventory.apps_in_use(laptop.host, cache)
    assert all(a.version is None for a in apps) and cache == {}
    assert "file versions: the PowerShell answer is not JSON" in caplog.text


def test_a_command_line_too_long_waits_for_the_next_run(
    laptop: Laptop, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = powershell.command_line_length(inventory.versions_argv([OUTLOOK, AIMT])) + 1
    monkeypatch.setattr(inventory, "MAX_COMMAND_LINE", budget)
    cache: dict[str, list[str | None]] = {}
    first = {a.name: a.version for a in inventory.apps_in_use(laptop.host, cache)}
    assert laptop.lookups() == [[OUTLOOK, AIMT]]  # sorted paths, as many as fit
    assert first["OUTLOOK.EXE"] == "16.0.18526.20168" and first["explorer.exe"] is None
    second = {a.name: a.version for a in inventory.apps_in_use(laptop.host, cache)}
    assert laptop.lookups()[1] == [TEAMS, EXPLORER]
    assert second["explorer.exe"] == "10.0.22621.3672"
    assert len(laptop.lookups()) == 2


def test_peripherals(laptop: Laptop) -> None:
    assert inventory.peripherals(laptop.host) == [LOGITECH]  # the PCI Wi-Fi card is not one
    assert inventory.PERIPHERALS[:4] == powershell.POWERSHELL
    script = inventory.PERIPHERALS[4]
    assert "Get-CimInstance -ClassName Win32_PnPSignedDriver" in script
    assert "Win32_PnPEntity" in script and '"' not in script


def test_peripherals_that_cannot_be_read_fail_the_run(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    with pytest.raises(NoData):
        inventory.peripherals(machine.host)
    machine.answer(inventory.PERIPHERALS, "Get-CimInstance : Quota violation")
    with pytest.raises(ParseError, match="peripherals"):
        inventory.peripherals(machine.host)


def test_inventory_sampler_over_the_windows_backend(
    laptop: Laptop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", {"inventory": inventory}.__getitem__)
    clock = [START]
    config = AgentConfig(state_dir=tmp_path / "state")
    state = StateStore(tmp_path / "state" / "state")

    def sampler() -> InventorySampler:
        return InventorySampler(Context(laptop.host, config, state, lambda: clock[0]))

    first = sampler()
    (sample,) = first.collect()
    assert isinstance(sample, InventorySample) and sample.reason == "start"
    assert sorted(sample.apps, key=lambda a: a.name.lower()) == EXPECTED_APPS
    assert sample.peripherals == [LOGITECH]
    clock[0] = START + timedelta(hours=1)
    assert first.collect() == []  # nothing changed
    laptop.calls.clear()
    (restarted,) = sampler().collect()
    assert isinstance(restarted, InventorySample) and restarted.reason == "start"
    assert laptop.lookups() == []  # versions cached across the restart
    laptop.processes.append(proc(20, "C:\\Tools\\new.exe", "CONTOSO\\alice"))
    SESSIONS[20] = 1
    laptop.file("C:\\Tools\\new.exe", "MZ")
    try:
        clock[0] = START + timedelta(hours=2)
        (changed,) = first.collect()
    finally:
        del SESSIONS[20]
    assert isinstance(changed, InventorySample) and changed.reason == "change"
    assert InventoryApp(name="new.exe", version=None, running=True) in changed.apps
    assert laptop.lookups() == [["C:\\Tools\\new.exe"]]
