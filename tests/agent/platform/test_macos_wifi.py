"""macOS Wi-Fi backend: wdutil (as root) before system_profiler, over recorded outputs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakehost import Machine

from dexpulse.agent import platform
from dexpulse.agent.config import AgentConfig
from dexpulse.agent.platform import CommandResult, NoData
from dexpulse.agent.platform._macos import wifi
from dexpulse.agent.platform._macos.wifi import SYSTEM_PROFILER, WDUTIL, read_wifi
from dexpulse.agent.samplers.base import Context
from dexpulse.agent.samplers.wifi import WifiSampler
from dexpulse.agent.state import StateStore
from dexpulse.schema import WifiSample

FIXTURES = Path(__file__).parents[2] / "fixtures" / "wifi" / "macos"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def fixture(case: str, ext: str = "txt") -> str:
    return (FIXTURES / case / f"macos_{case}.{ext}").read_text(encoding="utf-8")


PROFILER_ON = fixture("system_profiler_SPAirPortDataType_15_5_1", "json")
PROFILER_OFF = fixture("system_profiler_SPAirPortDataType_wifi_off_3", "json")
WDUTIL_12 = fixture("wdutil_info_macos12_2")
WDUTIL_15 = fixture("wdutil_info_macos15_redacted_1")


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def context(machine: Machine, tmp_path: Path) -> Context:
    config = AgentConfig(state_dir=tmp_path / "state")
    store = StateStore(tmp_path / "state" / "state")
    return Context(machine.host, config, store, lambda: NOW)


def test_system_profiler_when_not_root(machine: Machine) -> None:
    machine.answer(WDUTIL, WDUTIL_12)
    machine.answer(SYSTEM_PROFILER, PROFILER_ON)
    (sample,) = read_wifi(machine.host, NOW, as_root=False)
    assert machine.calls == [SYSTEM_PROFILER]  # wdutil is never tried without root
    assert sample.interface == "en0"
    assert sample.connected is True
    assert sample.ssid == "SSID-2"
    assert (sample.rssi_dbm, sample.noise_dbm) == (-40.0, -97.0)
    assert (sample.channel, sample.band_ghz, sample.frequency_mhz) == (6, 2.4, 2437.0)
    assert sample.tx_rate_mbps == 144.0
    assert sample.security == "Open"
    assert sample.ts == NOW


def test_wdutil_preferred_as_root(machine: Machine) -> None:
    machine.answer(WDUTIL, WDUTIL_12)
    machine.answer(SYSTEM_PROFILER, PROFILER_ON)
    (sample,) = read_wifi(machine.host, NOW, as_root=True)
    assert machine.calls == [WDUTIL]  # the slow system_profiler is not run
    assert sample.interface == "en1"
    assert sample.ssid == "SomeSSID-5"
    assert sample.bssid == "fe:dc:ba:09:87:65"
    assert sample.rssi_dbm == -61.0
    assert (sample.channel, sample.band_ghz) == (144, 5.0)
    assert sample.radio_type == "802.11ac"


def test_wdutil_redacted_identifiers_are_null(machine: Machine) -> None:
    machine.answer(WDUTIL, WDUTIL_15)
    (sample,) = read_wifi(machine.host, NOW, as_root=True)
    assert sample.connected is True
    assert sample.ssid is None
    assert sample.bssid is None
    assert (sample.rssi_dbm, sample.noise_dbm, sample.tx_rate_mbps) == (-79.0, -91.0, 103.0)
    assert (sample.channel, sample.band_ghz) == (44, 5.0)
    assert "redacted" not in sample.model_dump_json()


@pytest.mark.parametrize(
    "result",
    [
        None,  # not installed (before macOS 12)
        CommandResult(1, "", "wdutil: must be run as root"),
        CommandResult(0, "NETWORK\n    Primary IPv4 : en0\n"),  # no WIFI section
    ],
)
def test_wdutil_falls_back_to_system_profiler(
    machine: Machine, result: CommandResult | None
) -> None:
    if result is not None:
        machine.outputs[WDUTIL] = result
    machine.answer(SYSTEM_PROFILER, PROFILER_ON)
    (sample,) = read_wifi(machine.host, NOW, as_root=True)
    assert machine.calls == [WDUTIL, SYSTEM_PROFILER]
    assert sample.ssid == "SSID-2"


def test_wifi_off(machine: Machine) -> None:
    machine.answer(SYSTEM_PROFILER, PROFILER_OFF)
    (sample,) = read_wifi(machine.host, NOW, as_root=False)
    assert (sample.interface, sample.connected, sample.rssi_dbm) == ("en0", False, None)


def test_no_wifi_interface_is_nodata(machine: Machine) -> None:
    machine.answer(SYSTEM_PROFILER, '{"SPAirPortDataType": [{"spairport_airport_interfaces": []}]}')
    with pytest.raises(NoData, match="no Wi-Fi interface"):
        read_wifi(machine.host, NOW, as_root=False)


def test_system_profiler_missing_or_failing_is_nodata(machine: Machine) -> None:
    with pytest.raises(NoData, match="not installed"):
        read_wifi(machine.host, NOW, as_root=False)
    machine.answer(SYSTEM_PROFILER, "", rc=1, stderr="boom")
    with pytest.raises(NoData, match="exited 1"):
        read_wifi(machine.host, NOW, as_root=False)
    machine.answer(SYSTEM_PROFILER, "Wi-Fi:\n  Software Versions:\n")
    with pytest.raises(NoData, match="not JSON"):
        read_wifi(machine.host, NOW, as_root=False)


def test_root_check_is_used_by_default(machine: Machine, monkeypatch: pytest.MonkeyPatch) -> None:
    machine.answer(WDUTIL, WDUTIL_12)
    machine.answer(SYSTEM_PROFILER, PROFILER_ON)
    monkeypatch.setattr(wifi, "running_as_root", lambda: True)
    assert read_wifi(machine.host, NOW)[0].interface == "en1"
    monkeypatch.setattr(wifi, "running_as_root", lambda: False)
    assert read_wifi(machine.host, NOW)[0].interface == "en0"


def test_running_as_root_follows_geteuid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wifi.os, "geteuid", lambda: 0, raising=False)
    assert wifi.running_as_root() is True
    monkeypatch.setattr(wifi.os, "geteuid", lambda: 501, raising=False)
    assert wifi.running_as_root() is False
    monkeypatch.delattr(wifi.os, "geteuid", raising=False)
    assert wifi.running_as_root() is False


def test_wifi_sampler_over_macos_backend(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sampler -> macOS backend -> parser, with the sampler's privacy (clear by default)."""
    monkeypatch.setattr(platform, "area", lambda name: {"wifi": wifi}[name])
    monkeypatch.setattr(wifi, "running_as_root", lambda: False)
    machine.answer(SYSTEM_PROFILER, PROFILER_ON)
    samples = WifiSampler(context(machine, tmp_path)).collect()
    links = [s for s in samples if isinstance(s, WifiSample)]
    assert len(links) == 1
    assert links[0].interface == "en0"
    assert links[0].rssi_dbm == -40.0
    assert links[0].connected is True
