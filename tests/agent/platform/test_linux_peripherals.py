"""Linux peripheral backend: bluetoothd's journal, CUPS's error_log cursor, kernel USB lines."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dexpulse.agent.platform import CommandResult, Host, NoData
from dexpulse.agent.platform._linux import peripherals
from dexpulse.agent.platform._linux.crashes import JOURNAL_KERNEL
from dexpulse.agent.platform._linux.peripherals import (
    JOURNAL_BLUETOOTH,
    bluetooth_failures,
    cups_failures,
    usb_failures,
)
from dexpulse.schema.events import PeripheralFailureSample

FIXTURES = Path(__file__).parents[2] / "fixtures" / "peripherals" / "linux"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
SINCE = NOW - timedelta(minutes=1)
SINCE_ARG = f"--since=@{int(SINCE.timestamp())}"
LOG = "var/log/cups/error_log"


def fixture(case: str) -> str:
    return (FIXTURES / case / f"linux_{case}.txt").read_text(encoding="utf-8")


def cups_line(minute: int, message: str = "[Job 7] The printer is not responding.") -> str:
    return f"E [27/Nov/2026:09:{minute:02d}:00 +0100] {message}\n"


class Machine:
    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "root"
        self.root.mkdir()
        self.outputs: dict[tuple[str, ...], CommandResult] = {}
        self.host = Host(root=self.root, run=self.run)

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult:
        if tuple(argv) not in self.outputs:
            raise NoData(f"{argv[0]} is not installed")
        return self.outputs[tuple(argv)]

    def answer(self, argv: tuple[str, ...], stdout: str, rc: int = 0) -> None:
        self.outputs[argv] = CommandResult(rc, stdout, "" if rc == 0 else "denied")

    def write(self, text: str, mode: str = "a") -> None:
        path = self.root / LOG
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open(mode, encoding="utf-8") as out:
            out.write(text)


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def test_bluetooth_failures_from_the_journal(machine: Machine) -> None:
    machine.answer((*JOURNAL_BLUETOOTH, SINCE_ARG), fixture("bluetoothd_journal_disconnects_1"))
    batch = bluetooth_failures(machine.host, SINCE, NOW)
    assert batch.timeline == "wall"
    first = batch.entries[0]
    assert isinstance(first.sample, PeripheralFailureSample)
    assert first.sample.device_class == "bluetooth"
    assert first.sample.device_id == "4c:87:5d:ca:3f:18"
    assert first.key == datetime(2025, 4, 17, 16, 27, 35, 194301, tzinfo=UTC).timestamp()
    assert len({e.fp for e in batch.entries}) == len(batch.entries)


def test_bluetooth_unit_lines_only_and_no_access(machine: Machine) -> None:
    only_systemd = (
        "2026-11-27T09:59:00.000000+01:00 laptop systemd[1]: Started bluetooth.service.\n"
    )
    machine.answer((*JOURNAL_BLUETOOTH, SINCE_ARG), only_systemd)
    assert bluetooth_failures(machine.host, SINCE, NOW).entries == []
    machine.answer((*JOURNAL_BLUETOOTH, SINCE_ARG), "", rc=1)
    with pytest.raises(NoData, match="journalctl exited 1"):
        bluetooth_failures(machine.host, SINCE, NOW)


def test_usb_failures_share_the_kernel_reading(machine: Machine) -> None:
    journal = (
        "2026-11-27T09:59:01.100000+01:00 laptop kernel: usb usb2-port3: unable to enumerate"
        " USB device\n"
        "2026-11-27T09:59:02.000000+01:00 laptop kernel: a.out[99]: segfault at 0 ip 0 sp 0"
        " error 6\n"
    )
    machine.answer((*JOURNAL_KERNEL, SINCE_ARG), journal)
    (entry,) = usb_failures(machine.host, SINCE, NOW).entries
    assert (entry.sample.device_id, entry.sample.error) == ("2-3", "enumeration_failed")


def test_cups_first_run_then_only_new_whole_lines(machine: Machine) -> None:
    machine.write(fixture("cups_error_log_1"), "w")
    samples, cursor = cups_failures(machine.host, None, NOW)
    assert samples and all(s.device_class == "printer" for s in samples)
    assert cursor["offset"] == (machine.root / LOG).stat().st_size
    assert cups_failures(machine.host, cursor, NOW)[0] == []  # nothing new
    machine.write(cups_line(58) + "E [27/Nov/2026:09:59:00 +0100] [Job 8] The prin")
    samples, cursor = cups_failures(machine.host, cursor, NOW)
    assert [s.ts for s in samples] == [datetime(2026, 11, 27, 8, 58, tzinfo=UTC)]
    assert samples[0].error == "printer_not_responding"
    machine.write("ter is not responding.\n")  # the rest of the half-written line
    samples, cursor = cups_failures(machine.host, cursor, NOW)
    assert [s.message for s in samples] == [
        "E [27/Nov/2026:09:59:00 +0100] [Job 8] The printer is not responding."
    ]


def test_cups_first_run_reads_only_the_end(machine: Machine) -> None:
    old = cups_line(1, "[Job 1] " + "x" * 100) * 1000  # ~125 KiB of old lines
    machine.write(old + cups_line(59), "w")
    samples, _ = cups_failures(machine.host, None, NOW)
    assert len(samples) < 600 and samples[-1].ts == datetime(2026, 11, 27, 8, 59, tzinfo=UTC)


def test_cups_rotation_reads_the_rest_of_the_old_file(machine: Machine) -> None:
    machine.write(cups_line(50), "w")
    _, cursor = cups_failures(machine.host, None, NOW)
    machine.write(cups_line(51))  # written after our read, before rotation
    os.rename(machine.root / LOG, machine.root / (LOG + ".O"))
    machine.write(cups_line(52), "w")
    samples, cursor = cups_failures(machine.host, cursor, NOW)
    assert [s.ts.minute for s in samples] == [51, 52]
    assert cursor["inode"] == (machine.root / LOG).stat().st_ino


def test_cups_truncation_reads_from_the_start(machine: Machine) -> None:
    machine.write(cups_line(50) + cups_line(51), "w")
    _, cursor = cups_failures(machine.host, None, NOW)
    machine.write(cups_line(53), "w")  # same inode, shorter
    samples, cursor = cups_failures(machine.host, cursor, NOW)
    assert [s.ts.minute for s in samples] == [53]
    machine.write(cups_line(54, "[Job 9] The printer is not responding, again.") * 3, "w")
    samples, _ = cups_failures(machine.host, cursor, NOW)  # refilled past our offset
    assert [s.ts.minute for s in samples] == [54, 54, 54]


def test_cups_missing_log_is_nodata(machine: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(NoData, match="does not exist"):
        cups_failures(machine.host, None, NOW)
    machine.write(cups_line(50), "w")
    real_open = Path.open

    def denied(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name == "error_log":
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(NoData, match="not permitted"):
        cups_failures(machine.host, None, NOW)


def test_cups_backlog_is_read_over_several_runs(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(peripherals, "CUPS_MAX_READ", 200)
    machine.write(cups_line(40), "w")
    _, cursor = cups_failures(machine.host, None, NOW)
    machine.write("".join(cups_line(m) for m in range(41, 46)))  # 5 lines of 70 bytes
    minutes: list[int] = []
    for _ in range(4):
        samples, cursor = cups_failures(machine.host, cursor, NOW)
        minutes += [s.ts.minute for s in samples]
    assert minutes == [41, 42, 43, 44, 45]
