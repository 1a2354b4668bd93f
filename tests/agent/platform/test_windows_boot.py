"""Windows boot backend (LastBootUpTime through PowerShell, event 100 through wevtutil) and the
boot sampler over it.

Event 100 is written here in wevtutil's XML shape (single-quoted attributes, named Data in the
documented v2 order); its figures are those of a Windows 11 build 26200 boot quoted in a
public test suite (BootTime 51237 ms, BootStartTime 20:40:16.7269640Z, written the next
morning at 09:33:20). LastBootUpTime is printed as Windows PowerShell 5.1 does
(``\\/Date(ms)\\/``) and as PowerShell 7 does (ISO 8601 with the local offset).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakehost import Machine

from dexpulse.agent import platform
from dexpulse.agent.config import AgentConfig
from dexpulse.agent.platform import NoData
from dexpulse.agent.platform._windows import boot
from dexpulse.agent.samplers.base import Context
from dexpulse.agent.samplers.boot import BootSampler
from dexpulse.agent.state import StateStore
from dexpulse.schema import BootSample

BOOTED = datetime(2026, 8, 17, 20, 40, 19, 250000, tzinfo=UTC)  # kernel start, after the loader
NOW = datetime(2026, 8, 18, 9, 40, tzinfo=UTC)
NEWEST = (
    "wevtutil", "qe", "Microsoft-Windows-Diagnostics-Performance/Operational",
    "/q:*[System[(EventID=100)]]", "/f:xml", "/rd:true", "/c:5",
)  # fmt: skip


def ms(stamp: datetime) -> int:
    return int(stamp.timestamp() * 1000)


def last_boot_51(stamp: datetime) -> str:
    return f'{{"LastBootUpTime":"\\/Date({ms(stamp)})\\/"}}'


def last_boot_7(stamp: datetime) -> str:
    local = stamp.astimezone(datetime.now(UTC).astimezone().tzinfo)
    return '{"LastBootUpTime":"' + local.isoformat() + '"}'


def event100(start: str, created: str, boot_ms: int = 51237, instance: int = 392) -> str:
    data = {
        "BootTsVersion": "2", "BootStartTime": start, "BootEndTime": created,
        "SystemBootInstance": str(instance), "UserBootInstance": str(instance),
        "BootTime": str(boot_ms), "MainPathBootTime": "24437", "BootKernelInitTime": "79",
        "BootUserProfileProcessingTime": "5400", "BootExplorerInitTime": "4731",
        "BootNumStartupApps": "16", "BootPostBootTime": "26800", "OSLoaderDuration": "1308",
    }  # fmt: skip
    fields = "".join(f"<Data Name='{k}'>{v}</Data>" for k, v in data.items())
    return (
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
        "<Provider Name='Microsoft-Windows-Diagnostics-Performance' "
        "Guid='{cfc18ec0-96b1-4eba-961b-622caee05b0a}'/><EventID>100</EventID><Version>2</Version>"
        f"<Level>3</Level><TimeCreated SystemTime='{created}'/><EventRecordID>1492</EventRecordID>"
        "<Channel>Microsoft-Windows-Diagnostics-Performance/Operational</Channel>"
        f"<Computer>DESKTOP-1</Computer><Security UserID='S-1-5-19'/></System><EventData>{fields}"
        "</EventData></Event>\r\n"
    )  # fmt: skip


THIS_BOOT = event100("2026-08-17T20:40:16.7269640Z", "2026-08-18T09:33:20.2798602Z")
LAST_BOOT_EVENT = event100(
    "2026-08-16T22:28:43.1933117Z", "2026-08-17T09:10:44.6031254Z", 111814, 391
)


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Machine:
    monkeypatch.setattr(boot, "BOOT_CLOCK", lambda: BOOTED.timestamp() + 0.4)  # psutil's drift
    return Machine(tmp_path)


def context(machine: Machine, tmp_path: Path, clock: list[datetime]) -> Context:
    config = AgentConfig(state_dir=tmp_path / "state")
    store = StateStore(tmp_path / "state" / "state")
    return Context(machine.host, config, store, lambda: clock[0])


def test_the_exact_commands() -> None:
    assert boot.LAST_BOOT[:4] == ("powershell", "-NoProfile", "-NonInteractive", "-Command")
    script = boot.LAST_BOOT[4]
    assert script.startswith("$ProgressPreference='SilentlyContinue'; ")
    assert "Get-CimInstance -ClassName Win32_OperatingSystem -Property LastBootUpTime" in script
    assert "ConvertTo-Json -InputObject $out" in script and '"' not in script


@pytest.mark.parametrize("shape", [last_boot_51, last_boot_7])
def test_boot_time_and_id_from_last_boot_up_time(machine: Machine, shape: object) -> None:
    assert callable(shape)
    machine.answer(boot.LAST_BOOT, shape(BOOTED))
    assert boot.boot_time(machine.host) == BOOTED
    assert boot.boot_id(machine.host) == str(int(BOOTED.timestamp())) == "1786999219"
    assert machine.calls == [boot.LAST_BOOT, boot.LAST_BOOT]


def test_boot_id_never_comes_from_psutil(machine: Machine) -> None:
    """psutil's figure moves with the clock; an id cut from it would flip within one boot."""
    with pytest.raises(NoData):
        boot.boot_id(machine.host)  # PowerShell missing
    machine.answer(boot.LAST_BOOT, "", rc=1, stderr="Get-CimInstance : Access denied")
    with pytest.raises(NoData, match="Access denied"):
        boot.boot_id(machine.host)
    assert boot.boot_time(machine.host) == BOOTED + timedelta(seconds=0.4)  # fallback
    machine.answer(boot.LAST_BOOT, '{"LastBootUpTime":"2026-08-17T20:40:19.25"}')  # no zone
    with pytest.raises(NoData, match="no date with a time zone"):
        boot.boot_id(machine.host)
    machine.answer(boot.LAST_BOOT, "Get-CimInstance : Invalid namespace")  # exit 0, not JSON
    with pytest.raises(NoData, match="not JSON"):
        boot.boot_id(machine.host)


def test_boot_time_none_when_nothing_answers(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> float:
        raise OSError("no clock")

    monkeypatch.setattr(boot, "BOOT_CLOCK", broken)
    assert boot.boot_time(machine.host) is None


def test_boot_sample_of_this_boot(machine: Machine) -> None:
    machine.answer(NEWEST, THIS_BOOT + LAST_BOOT_EVENT)  # newest first
    sample = boot.boot_sample(machine.host, BOOTED)
    assert sample == BootSample(
        ts=datetime(2026, 8, 17, 20, 40, 16, 726964, tzinfo=UTC),
        boot_duration_s=51.237,
        loader_s=1.308,
        logon_duration_s=36.931,
    )
    assert machine.calls == [NEWEST]


def test_event_not_written_yet(machine: Machine) -> None:
    machine.answer(NEWEST, LAST_BOOT_EVENT)  # only the previous boot's
    assert boot.boot_sample(machine.host, BOOTED) is None
    machine.answer(NEWEST, "")  # a fresh channel: wevtutil prints nothing
    assert boot.boot_sample(machine.host, BOOTED) is None


def test_the_closest_event_within_the_tolerance_wins(machine: Machine) -> None:
    quick = event100("2026-08-17T20:37:00.0000000Z", "2026-08-17T20:39:00.0000000Z", 99000)
    machine.answer(NEWEST, THIS_BOOT + quick)  # a reboot three minutes before this one
    sample = boot.boot_sample(machine.host, BOOTED)
    assert sample is not None and sample.boot_duration_s == 51.237


@pytest.mark.parametrize(
    ("rc", "stderr"),
    [
        (5, "Failed to read events. Access is denied."),
        (15007, "Failed to query log. The specified channel could not be found."),
    ],
)
def test_unreadable_channel_is_nodata(machine: Machine, rc: int, stderr: str) -> None:
    machine.answer(NEWEST, "", rc=rc, stderr=stderr)
    with pytest.raises(NoData):
        boot.boot_sample(machine.host, BOOTED)


def test_boot_sampler_reports_each_boot_once(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", {"boot": boot}.__getitem__)
    machine.answer(boot.LAST_BOOT, last_boot_51(BOOTED))
    machine.answer(NEWEST, LAST_BOOT_EVENT)
    clock = [NOW]
    ctx = context(machine, tmp_path, clock)
    sampler = BootSampler(ctx)
    assert sampler.collect() == []  # event 100 not written yet: ask again next run
    machine.answer(NEWEST, THIS_BOOT + LAST_BOOT_EVENT)
    (sample,) = sampler.collect()
    assert isinstance(sample, BootSample) and sample.boot_duration_s == 51.237
    assert sampler.collect() == []  # same boot
    assert BootSampler(ctx).collect() == []  # nor after a restart
    machine.calls.clear()
    assert BootSampler(ctx).collect() == []
    assert machine.calls == [boot.LAST_BOOT]  # a known boot costs one PowerShell call
    # the next boot
    later = BOOTED + timedelta(days=1, hours=1)
    machine.answer(boot.LAST_BOOT, last_boot_51(later))
    machine.answer(
        NEWEST,
        event100("2026-08-18T21:40:17.0000000Z", "2026-08-18T21:45:00.0000000Z", 40000, 393)
        + THIS_BOOT,
    )
    (second,) = BootSampler(ctx).collect()
    assert isinstance(second, BootSample) and second.boot_duration_s == 40.0


def test_boot_sampler_without_powershell_is_nodata(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", {"boot": boot}.__getitem__)
    with pytest.raises(NoData):
        BootSampler(context(machine, tmp_path, [NOW])).collect()
