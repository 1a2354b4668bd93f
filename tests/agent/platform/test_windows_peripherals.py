"""Windows device problem codes (Win32_PnPEntity through PowerShell, throttled, reported when a
device enters a problem state) beside Kernel-PnP 411, and the peripheral_failure sampler.

Answers in Windows PowerShell 5.1's compressed ConvertTo-Json shape (``&`` as ``\\u0026``);
properties as Win32_PnPEntity documents them, device ids in the documented USB/HID formats,
values illustrative.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakehost import Machine

from dexpulse.agent import platform
from dexpulse.agent.config import AgentConfig
from dexpulse.agent.platform import CommandResult
from dexpulse.agent.platform._windows import peripherals
from dexpulse.agent.samplers.base import Context
from dexpulse.agent.samplers.peripheral_failure import PeripheralFailureSampler
from dexpulse.agent.state import StateStore
from dexpulse.schema.events import PeripheralFailureSample

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
BT = "USB\\VID_8087&PID_0026\\5&2B6E2D1&0&10"
CAM = "USB\\VID_0BDA&PID_58FD&MI_00\\6&1A2B3C4D&0&0000"
DOCK_NIC = "USB\\VID_17EF&PID_A387&MI_00\\7&11E7F7E8&0&0000"


def device(device_id: str, code: int, name: str, klass: str, service: str | None) -> dict[str, Any]:
    return {"Name": name, "DeviceID": device_id, "PNPClass": klass, "ClassGuid": None,
            "ConfigManagerErrorCode": code, "Service": service, "Manufacturer": None}  # fmt: skip


def answer(*devices: dict[str, Any]) -> str:
    return json.dumps(list(devices), separators=(",", ":")).replace("&", "\\u0026")


BLUETOOTH_10 = device(BT, 10, "Intel(R) Wireless Bluetooth(R)", "Bluetooth", "BTHUSB")
CAMERA_28 = device(CAM, 28, "USB Video Device", "Camera", None)
NIC_43 = device(DOCK_NIC, 43, "Lenovo USB-C Dock Ethernet", "Net", "rtux64w10")


class Laptop(Machine):
    """Answers the problem look from ``problems`` and any Kernel-PnP query from ``pnp_log``."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.problems: str | None = answer()
        self.pnp_log = ""

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult:
        argv = tuple(argv)
        if argv == peripherals.PNP_PROBLEMS and self.problems is not None:
            self.calls.append(argv)
            return CommandResult(0, self.problems)
        if argv[:3] == ("wevtutil", "qe", peripherals.PNP_LOG):
            self.calls.append(argv)
            return CommandResult(0, self.pnp_log)
        return super().run(argv, timeout)

    def looks(self) -> int:
        return sum(1 for call in self.calls if call == peripherals.PNP_PROBLEMS)


@pytest.fixture
def laptop(tmp_path: Path) -> Laptop:
    return Laptop(tmp_path)


def look(laptop: Laptop, cursor: dict[str, Any] | None, now: datetime) -> tuple[
    list[PeripheralFailureSample], dict[str, Any]
]:  # fmt: skip
    return peripherals.pnp_problems(laptop.host, cursor, now)


def test_registered_as_a_state_source_beside_the_log() -> None:
    assert set(peripherals.LOG_SOURCES) == {"pnp"}
    assert peripherals.FILE_SOURCES == {"pnp_problems": peripherals.pnp_problems}
    assert peripherals.PNP_PROBLEMS[:4] == ("powershell", "-NoProfile", "-NonInteractive",
                                           "-Command")  # fmt: skip
    script = peripherals.PNP_PROBLEMS[4]
    assert (
        "Get-CimInstance -ClassName Win32_PnPEntity -Filter 'ConfigManagerErrorCode<>0 AND "
        "ConfigManagerErrorCode<>22 AND ConfigManagerErrorCode<>45'" in script
    )
    assert "Select-Object Name,DeviceID,PNPClass,ClassGuid,ConfigManagerErrorCode,Service" in script


def test_first_look_records_what_is_already_broken(laptop: Laptop) -> None:
    laptop.problems = answer(CAMERA_28)
    samples, cursor = look(laptop, None, T0)
    assert samples == []
    assert cursor == {"checked": T0.timestamp(), "problems": [[CAM, 28]]}


def test_entering_recovering_and_failing_again(laptop: Laptop) -> None:
    laptop.problems = answer(CAMERA_28)
    _, cursor = look(laptop, None, T0)
    laptop.problems = answer(BLUETOOTH_10, CAMERA_28)
    (sample,), cursor = look(laptop, cursor, T0 + timedelta(minutes=10))
    assert (sample.device_id, sample.error) == (BT, "problem code 10")
    assert sample.ts == T0 + timedelta(minutes=10)
    assert sample.message == (
        "CM_PROB_FAILED_START (problem code 10): Intel(R) Wireless Bluetooth(R)"
    )
    assert look(laptop, cursor, T0 + timedelta(minutes=20))[0] == []  # still broken: not news
    laptop.problems = answer(CAMERA_28)  # Bluetooth recovered
    _, cursor = look(laptop, cursor, T0 + timedelta(minutes=30))
    assert cursor["problems"] == [[CAM, 28]]
    laptop.problems = answer(BLUETOOTH_10, CAMERA_28)  # and failed again
    (again,), cursor = look(laptop, cursor, T0 + timedelta(minutes=40))
    assert again.device_id == BT
    laptop.problems = answer(device(BT, 43, "Intel(R) Wireless Bluetooth(R)", "Bluetooth",
                                    "BTHUSB"), CAMERA_28)  # fmt: skip
    (changed,), _ = look(laptop, cursor, T0 + timedelta(minutes=50))
    assert changed.error == "problem code 43"


def test_looks_at_most_every_ten_minutes(laptop: Laptop) -> None:
    _, cursor = look(laptop, None, T0)
    laptop.problems = answer(NIC_43)
    for minutes in (1, 5, 9.9):
        samples, same = look(laptop, cursor, T0 + timedelta(minutes=minutes))
        assert samples == [] and same == cursor
    assert laptop.looks() == 1
    (sample,), _ = look(laptop, cursor, T0 + timedelta(minutes=10))
    assert sample.device_id == DOCK_NIC and laptop.looks() == 2


def test_a_clock_set_back_looks_again(laptop: Laptop) -> None:
    _, cursor = look(laptop, None, T0 + timedelta(days=1))
    laptop.problems = answer(NIC_43)
    (sample,), _ = look(laptop, cursor, T0)
    assert sample.device_id == DOCK_NIC


def test_failing_looks_keep_the_set_and_wait_too(
    laptop: Laptop, caplog: pytest.LogCaptureFixture
) -> None:
    laptop.problems = answer(CAMERA_28)
    _, cursor = look(laptop, None, T0)
    laptop.problems = None  # powershell missing from now on
    samples, failed = look(laptop, cursor, T0 + timedelta(minutes=10))
    assert samples == [] and failed["problems"] == [[CAM, 28]]
    assert failed["checked"] == (T0 + timedelta(minutes=10)).timestamp()
    laptop.calls.clear()
    assert look(laptop, failed, T0 + timedelta(minutes=15))[0] == []
    assert laptop.calls == []  # not restarted every minute
    laptop.problems = "Get-CimInstance : Zugriff verweigert"  # exit 0, not JSON
    with caplog.at_level(logging.WARNING):
        samples, bad = look(laptop, failed, T0 + timedelta(minutes=20))
    assert samples == [] and bad["problems"] == [[CAM, 28]]
    assert "device problems: the PowerShell answer is not JSON" in caplog.text
    laptop.problems = answer(CAMERA_28, BLUETOOTH_10)
    (sample,), _ = look(laptop, bad, T0 + timedelta(minutes=30))
    assert sample.device_id == BT  # the camera was known all along


@pytest.mark.parametrize(
    "cursor",
    [{}, {"checked": "soon", "problems": "x"}, {"checked": -5.0, "problems": [["a"], 3]}],
)
def test_a_damaged_cursor_starts_afresh(laptop: Laptop, cursor: dict[str, Any]) -> None:
    laptop.problems = answer(CAMERA_28)
    samples, fresh = look(laptop, cursor, T0)
    assert samples == [] and fresh["problems"] == [[CAM, 28]]


def test_peripheral_sampler_reports_each_entry_once(
    laptop: Laptop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", {"peripherals": peripherals}.__getitem__)
    clock = [T0]
    config = AgentConfig(state_dir=tmp_path / "state")
    store = StateStore(tmp_path / "state" / "state")

    def sampler() -> PeripheralFailureSampler:
        return PeripheralFailureSampler(Context(laptop.host, config, store, lambda: clock[0]))

    laptop.problems = answer(CAMERA_28)
    first = sampler()
    assert first.collect() == []  # baseline: the camera was broken before the agent came
    laptop.problems = answer(CAMERA_28, BLUETOOTH_10)
    clock[0] = T0 + timedelta(minutes=1)
    assert first.collect() == [] and laptop.looks() == 1  # throttled
    clock[0] = T0 + timedelta(minutes=10)
    (sample,) = first.collect()
    assert isinstance(sample, PeripheralFailureSample) and sample.device_id == BT
    clock[0] = T0 + timedelta(minutes=11)
    assert first.collect() == []  # commits the state of the run that emitted
    for minutes in (21, 31):
        clock[0] = T0 + timedelta(minutes=minutes)
        assert sampler().collect() == []  # restarted: no repeat
    assert laptop.looks() == 4
