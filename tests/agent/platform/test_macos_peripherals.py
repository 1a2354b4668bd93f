"""macOS peripheral backend: the unified log through ``log show --style ndjson`` (exact argv,
throttled to one query per 5 minutes, bounded window and output), and the peripheral_failure
sampler over it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakehost import Machine

from dexpulse.agent import platform
from dexpulse.agent.config import AgentConfig
from dexpulse.agent.platform import CommandResult, Host, NoData
from dexpulse.agent.platform._macos import peripherals
from dexpulse.agent.platform._macos.peripherals import (
    FILE_SOURCES,
    LOG_SOURCES,
    PREDICATE,
    QUERY_EVERY,
    log_argv,
    unified_log_failures,
)
from dexpulse.agent.samplers.base import Context
from dexpulse.agent.samplers.peripheral_failure import PeripheralFailureSampler
from dexpulse.agent.state import StateStore
from dexpulse.schema.events import PeripheralFailureSample

BERLIN = Path("/usr/share/zoneinfo/Europe/Berlin")
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
SINCE = NOW - timedelta(minutes=10)
ENUMERATION = (
    "AppleUSB20XHCIPort@01400000: AppleUSBHostPort::disconnect: persistent enumeration failures"
)


def line(when: datetime, message: str = ENUMERATION, process: str = "/kernel") -> str:
    """One ndjson entry in the shape of public `log show --style ndjson` output (local +0100)."""
    local = when.astimezone(UTC) + timedelta(hours=1)
    return json.dumps(
        {
            "eventType": "logEvent", "messageType": "Default", "processImagePath": process,
            "processID": 0, "subsystem": "", "category": "",
            "timestamp": local.strftime("%Y-%m-%d %H:%M:%S.%f") + "+0100",
            "eventMessage": message,
        }
    )  # fmt: skip


def output(*lines: str) -> str:
    return (
        "Filtering the log data using ...\n"
        + "".join(f"{x}\n" for x in lines)
        + (f'{{"count":{len(lines)},"finished":1}}\n')
    )


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    m = Machine(tmp_path)
    (m.root / "etc").mkdir()
    (m.root / "etc/localtime").symlink_to(BERLIN)
    return m


def test_exact_argv_in_local_time(machine: Machine) -> None:
    since = datetime(2026, 11, 27, 8, 50, 30, 900000, tzinfo=UTC)
    assert log_argv(machine.host, since) == (
        "log", "show", "--style", "ndjson", "--start", "2026-11-27 09:50:30",
        "--predicate", PREDICATE,
    )  # fmt: skip
    assert 'process == "kernel"' in PREDICATE and 'process == "bluetoothd"' in PREDICATE
    assert PREDICATE.count("(") == PREDICATE.count(")")


def test_failures_since_the_mark(machine: Machine) -> None:
    when = NOW - timedelta(minutes=2)
    machine.answer(log_argv(machine.host, SINCE), output(line(when)))
    batch = unified_log_failures(machine.host, SINCE, NOW)
    assert (batch.timeline, batch.horizon) == ("wall", NOW.timestamp())
    (entry,) = batch.entries
    assert isinstance(entry.sample, PeripheralFailureSample)
    assert entry.key == when.timestamp()
    assert (entry.sample.device_class, entry.sample.error) == ("usb", "enumeration_failed")
    again = unified_log_failures(machine.host, SINCE, NOW + timedelta(minutes=5))
    assert again.entries[0].fp == entry.fp


def test_queried_at_most_every_five_minutes(machine: Machine) -> None:
    recent = NOW - QUERY_EVERY + timedelta(seconds=1)
    batch = unified_log_failures(machine.host, recent, NOW)
    assert (batch.entries, batch.horizon) == ([], None)  # no advance: next query covers it
    assert machine.calls == []


def test_window_is_bounded(machine: Machine) -> None:
    day_ago = NOW - timedelta(days=1)
    machine.answer(log_argv(machine.host, NOW - timedelta(hours=1)), output())
    assert unified_log_failures(machine.host, day_ago, NOW).entries == []
    assert machine.calls == [log_argv(machine.host, NOW - timedelta(hours=1))]


def test_cut_output_stops_the_horizon_at_the_last_entry(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [line(SINCE + timedelta(seconds=i)) for i in range(1, 40)]
    text = output(*lines)
    monkeypatch.setattr(peripherals, "MAX_OUTPUT_CHARS", len(text) // 2)
    machine.answer(log_argv(machine.host, SINCE), text)
    batch = unified_log_failures(machine.host, SINCE, NOW)
    assert 0 < len(batch.entries) < len(lines)
    assert batch.horizon == max(e.key for e in batch.entries)


def test_log_missing_failing_or_slow_is_nodata(machine: Machine) -> None:
    with pytest.raises(NoData, match="not installed"):
        unified_log_failures(machine.host, SINCE, NOW)
    machine.answer(log_argv(machine.host, SINCE), "", rc=64, stderr="log: Invalid predicate")
    with pytest.raises(NoData, match="exited 64"):
        unified_log_failures(machine.host, SINCE, NOW)

    def slow(argv: Sequence[str], timeout: float) -> CommandResult:
        raise subprocess.TimeoutExpired(list(argv), timeout)

    with pytest.raises(NoData, match="did not answer"):
        unified_log_failures(Host(root=machine.root, run=slow), SINCE, NOW)


def test_empty_output_is_no_failure(machine: Machine) -> None:
    machine.answer(log_argv(machine.host, SINCE), "")
    assert unified_log_failures(machine.host, SINCE, NOW).entries == []


def test_output_that_is_not_ndjson_is_a_failure(machine: Machine) -> None:
    machine.answer(log_argv(machine.host, SINCE), "Timestamp  Thread  Type  Activity  PID\n")
    with pytest.raises(ValueError, match="no JSON log entries"):
        unified_log_failures(machine.host, SINCE, NOW)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def test_sampler_reports_each_failure_once(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sampler -> macOS backend -> parser, at the default 60 s interval: the first query waits
    for five minutes to pass, each failure is reported once across runs and a restart."""
    monkeypatch.setattr(platform, "area", lambda name: {"peripherals": peripherals}[name])
    assert set(LOG_SOURCES) == {"unified_log"} and FILE_SOURCES == {}
    clock = Clock()
    store = StateStore(tmp_path / "state" / "state")
    ctx = Context(machine.host, AgentConfig(state_dir=tmp_path / "state"), store, clock)
    first_floor = NOW - timedelta(seconds=ctx.config.samplers.peripheral_failure.interval_s)
    sampler = PeripheralFailureSampler(ctx)
    assert sampler.collect() == []  # first run: too soon to query
    assert machine.calls == []
    failed = NOW + timedelta(minutes=2)
    late = NOW + timedelta(minutes=3, seconds=50)  # inside the 30 s overlap of the next query
    reply = output(
        line(failed),
        line(failed, "Failed to encrypt connection  STATUS 634.", "/usr/sbin/bluetoothd"),
        line(late, ENUMERATION.replace("01400000", "01200000")),
    )
    clock.now = NOW + timedelta(minutes=4)
    machine.answer(log_argv(machine.host, first_floor), reply)
    found = sampler.collect()  # the whole time since the first run, in one query
    assert [s.device_class for s in found if isinstance(s, PeripheralFailureSample)] == [
        "usb", "bluetooth", "usb",
    ]  # fmt: skip
    assert machine.calls == [log_argv(machine.host, first_floor)]
    clock.now += timedelta(minutes=1)
    assert sampler.collect() == []  # throttled; commits the previous run's state
    clock.now += timedelta(minutes=5)
    floor = NOW + timedelta(minutes=4) - timedelta(seconds=30)
    machine.answer(log_argv(machine.host, floor), reply)  # the overlap returns them again
    restarted = PeripheralFailureSampler(ctx)
    assert restarted.collect() == []  # remembered across a restart
    assert machine.calls[-1] == log_argv(machine.host, floor)


def test_sampler_nodata_without_log(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", lambda name: {"peripherals": peripherals}[name])
    clock = Clock()
    store = StateStore(tmp_path / "state" / "state")
    ctx = Context(machine.host, AgentConfig(state_dir=tmp_path / "state"), store, clock)
    sampler = PeripheralFailureSampler(ctx)
    assert sampler.collect() == []  # throttled first run: nothing asked yet
    clock.now += timedelta(minutes=10)
    with pytest.raises(NoData):
        sampler.collect()
