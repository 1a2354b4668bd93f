"""Windows crash, hang and device-failure backends: wevtutil through a fake runner, the
app_crash / app_hang / peripheral_failure samplers over them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dexpulse.agent import platform
from dexpulse.agent.config import AgentConfig, SamplerSettings
from dexpulse.agent.platform import CommandResult, Host, NoData
from dexpulse.agent.platform._windows import crashes, eventlog, hangs, peripherals
from dexpulse.agent.samplers.app_crash import AppCrashSampler
from dexpulse.agent.samplers.app_hang import AppHangSampler
from dexpulse.agent.samplers.base import REGISTRY, Context, load_all
from dexpulse.agent.samplers.peripheral_failure import PeripheralFailureSampler
from dexpulse.agent.state import StateStore
from dexpulse.schema.events import AppCrashSample, AppHangSample, PeripheralFailureSample

FIXTURES = Path(__file__).parents[2] / "fixtures"
NOW = datetime(2025, 3, 26, 23, 1, 30, 500000, tzinfo=UTC)
SINCE = NOW - timedelta(minutes=5)


def fixture(area: str, case: str, ext: str) -> str:
    return (FIXTURES / area / "windows" / case / f"windows_{case}.{ext}").read_text("utf-8")


CRASH_XML = fixture("crashes", "event_1000_application_error_win11_named_data_1", "xml")
WER_XML = fixture("crashes", "event_1001_wer_legacy_unnamed_data_1", "xml")
PNP_TEXT = fixture("peripherals", "event_kernel_pnp_411_rendered_en_1", "txt")
# The fixture's "Event Xml:" part is cut short; the EventData below is its rendered fields.
PNP_XML = (
    PNP_TEXT.split("Event Xml:", 1)[1].split("[...", 1)[0].rstrip()
    + """
  </System>
  <EventData>
    <Data Name="DeviceInstanceId">DEVICE_ID</Data>
    <Data Name="DriverName">usbxhci.inf</Data>
    <Data Name="ClassGuid">{36FC9E60-C465-11CF-8056-444553540000}</Data>
    <Data Name="ServiceName">USBXHCI</Data>
    <Data Name="LowerFilters"></Data>
    <Data Name="UpperFilters"></Data>
    <Data Name="Problem">0x15</Data>
    <Data Name="Status">0x0</Data>
  </EventData>
</Event>
"""
).replace(
    "DEVICE_ID",
    r"PCI\VEN_1B6F&amp;DEV_7052&amp;SUBSYS_70521849&amp;REV_00\4&amp;11e7f7e8&amp;0&amp;0048",
)


def hang_xml(ts: str, pid: str, report: str, app: str = "OUTLOOK.EXE") -> str:
    data = [
        app,
        "16.0.18526.20168",
        pid,
        "01db9e8a5c2f7d11",
        "4294967295",
        rf"C:\Program Files\Microsoft Office\root\Office16\{app}",
        report,
        "",
        "",
        "Quiesce",
    ]
    fields = "".join(f"<Data>{d}</Data>" for d in data)  # unnamed, as 1002 writes them
    return (
        '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
        '<Provider Name="Application Hang" /><EventID Qualifiers="0">1002</EventID>'
        f'<TimeCreated SystemTime="{ts}" /><Channel>Application</Channel></System>'
        f"<EventData>{fields}<Binary>55006E006B006E006F0077006E0000000000</Binary></EventData>"
        "</Event>\n"
    )  # fmt: skip


def wer_hang_xml(ts: str, report: str) -> str:
    data = [
        "0",
        "5",
        "AppHangB1",
        "Not available",
        "0",
        "OUTLOOK.EXE",
        "16.0.18526.20168",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        report,
    ]
    fields = "".join(f"<Data>{d}</Data>" for d in data)
    return (
        '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
        '<Provider Name="Windows Error Reporting" /><EventID>1001</EventID>'
        f'<TimeCreated SystemTime="{ts}" /></System><EventData>{fields}</EventData></Event>\n'
    )  # fmt: skip


class Runner:
    """Answers ``wevtutil qe <log>`` by log name; records every argv."""

    def __init__(self) -> None:
        self.logs: dict[str, CommandResult] = {}
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], timeout: float) -> CommandResult:
        self.calls.append(tuple(argv))
        if argv[:2] != ("wevtutil", "qe") or argv[2] not in self.logs:
            raise NoData(f"{argv[0]} is not installed")
        return self.logs[argv[2]]

    def answer(self, log: str, text: str, rc: int = 0, stderr: str = "") -> None:
        self.logs[log] = CommandResult(rc, text, stderr)


@pytest.fixture
def runner() -> Runner:
    return Runner()


@pytest.fixture
def host(tmp_path: Path, runner: Runner) -> Host:
    return Host(root=tmp_path, run=runner)


# -- the query ---------------------------------------------------------------------------------


def test_exact_wevtutil_argv(host: Host, runner: Runner) -> None:
    runner.answer("Application", "")
    assert crashes.application_errors(host, SINCE, NOW).entries == []
    assert runner.calls == [
        (
            "wevtutil", "qe", "Application",
            "/q:*[System[(EventID=1000) and TimeCreated[@SystemTime>='2025-03-26T22:56:30.000Z']]]",
            "/f:xml", "/rd:false", "/c:500",
        )
    ]  # fmt: skip
    assert eventlog.query((1002, 1001), None) == "*[System[(EventID=1001 or EventID=1002)]]"


def test_unreadable_log_is_nodata(host: Host, runner: Runner) -> None:
    with pytest.raises(NoData):
        crashes.application_errors(host, SINCE, NOW)  # wevtutil missing
    runner.answer("Application", "", rc=5, stderr="Failed to read events. Access is denied.")
    with pytest.raises(NoData):
        hangs.application_hangs(host, SINCE, NOW)


# -- crashes -----------------------------------------------------------------------------------


def test_application_error_1000(host: Host, runner: Runner) -> None:
    runner.answer("Application", CRASH_XML)
    batch = crashes.application_errors(host, SINCE, NOW)
    assert batch.timeline == "wall" and batch.origin == eventlog.EPOCH
    assert batch.horizon == (NOW - eventlog.EPOCH).total_seconds()
    [entry] = batch.entries
    sample = entry.sample
    assert isinstance(sample, AppCrashSample)
    assert (sample.app_name, sample.pid, sample.exception_code) == (
        "AIMTService.exe", 0x1628, "0xc0000005",
    )  # fmt: skip
    assert sample.ts == datetime(2025, 3, 26, 23, 0, 53, 170372, tzinfo=UTC)
    assert entry.key == (sample.ts - eventlog.EPOCH).total_seconds()
    assert crashes.application_errors(host, SINCE, NOW).entries[0].fp == entry.fp
    assert crashes.THREAD_SOURCES == frozenset()


def test_a_full_answer_keeps_the_horizon_at_the_last_event(
    host: Host, runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(eventlog, "MAX_EVENTS", 1)
    runner.answer("Application", CRASH_XML)
    batch = crashes.application_errors(host, SINCE, NOW)
    assert batch.horizon == (batch.entries[0].sample.ts - eventlog.EPOCH).total_seconds()


def test_app_crash_sampler_over_the_windows_backend(
    tmp_path: Path, host: Host, runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", {"crashes": crashes}.__getitem__)
    runner.answer("Application", CRASH_XML)
    ctx = context(tmp_path, host, NOW)
    sampler = AppCrashSampler(ctx)
    [sample] = sampler.collect()
    assert isinstance(sample, AppCrashSample) and sample.app_name == "AIMTService.exe"
    assert sampler.collect() == []  # wevtutil still answers it: already reported
    assert AppCrashSampler(ctx).collect() == []  # nor after a restart (state committed)


# -- hangs -------------------------------------------------------------------------------------


def test_hang_1002_and_its_wer_twin(host: Host, runner: Runner) -> None:
    report = "0c9b2b6e-1b1c-4c1f-9a53-7d2a3f1f4c1e"
    runner.answer(
        "Application",
        hang_xml("2025-03-26T22:59:02.1170000Z", "273c", report)
        + wer_hang_xml("2025-03-26T22:59:05.0000000Z", report)
        + WER_XML,  # a Store update failure bucket: not a hang
    )
    batch = hangs.application_hangs(host, SINCE, NOW)
    [entry] = batch.entries
    sample = entry.sample
    assert isinstance(sample, AppHangSample)
    assert (sample.app_name, sample.pid, sample.report_id) == ("OUTLOOK.EXE", 0x273C, report)
    assert "EventID=1001 or EventID=1002" in runner.calls[0][3]


def test_app_hang_sampler_reports_each_hang_once(
    tmp_path: Path, host: Host, runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", {"hangs": hangs}.__getitem__)
    runner.answer("Application", hang_xml("2025-03-26T23:01:00.0000000Z", "0x10", "r1"))
    clock = [NOW]
    sampler = AppHangSampler(context(tmp_path, host, NOW, clock))
    [sample] = sampler.collect()
    assert isinstance(sample, AppHangSample) and sample.pid == 16
    clock[0] = NOW + timedelta(minutes=1)
    assert sampler.collect() == []
    runner.answer("Application", "", rc=15007, stderr="The specified channel could not be found.")
    with pytest.raises(NoData):
        sampler.collect()


def test_app_hang_without_a_backend_is_nodata(tmp_path: Path, host: Host) -> None:
    sampler = AppHangSampler(context(tmp_path, host, NOW))
    if platform.OS_NAME == "linux":
        with pytest.raises(NoData):
            sampler.collect()


def test_every_registered_sampler_has_a_config_entry() -> None:
    registry = load_all()
    assert "app_hang" in REGISTRY
    for name in registry:  # what the service does for every registered sampler
        assert isinstance(getattr(AgentConfig().samplers, name), SamplerSettings)


# -- peripherals -------------------------------------------------------------------------------


def test_kernel_pnp_411(host: Host, runner: Runner) -> None:
    runner.answer(peripherals.PNP_LOG, PNP_XML)
    [entry] = peripherals.pnp_failures(host, SINCE, NOW).entries
    sample = entry.sample
    assert isinstance(sample, PeripheralFailureSample)
    assert sample.device_id == r"PCI\VEN_1B6F&DEV_7052&SUBSYS_70521849&REV_00\4&11e7f7e8&0&0048"
    assert (sample.vendor_id, sample.product_id, sample.device_class) == ("1b6f", "7052", "usb")
    assert sample.error == "problem code 21"
    assert runner.calls[0][2:4] == (
        "Microsoft-Windows-Kernel-PnP/Configuration",
        "/q:*[System[(EventID=411) and TimeCreated[@SystemTime>='2025-03-26T22:56:30.000Z']]]",
    )
    assert set(peripherals.FILE_SOURCES) == {"pnp_problems"}  # see test_windows_peripherals


def test_peripheral_sampler_over_the_windows_backend(
    tmp_path: Path, host: Host, runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", {"peripherals": peripherals}.__getitem__)
    when = datetime(2020, 4, 12, 19, 46, 30, tzinfo=UTC)
    runner.answer(peripherals.PNP_LOG, PNP_XML)
    [sample] = PeripheralFailureSampler(context(tmp_path, host, when)).collect()
    assert isinstance(sample, PeripheralFailureSample) and sample.driver == "USBXHCI"


def context(
    tmp_path: Path, host: Host, now: datetime, clock: list[datetime] | None = None
) -> Context:
    ticks = clock if clock is not None else [now]
    return Context(
        host,
        AgentConfig(state_dir=tmp_path / "state"),
        StateStore(tmp_path / "state" / "state"),
        clock=lambda: ticks[0],
    )
