"""Windows Wi-Fi backend on its netsh path (no Native Wifi API: pinned off, so these run alike
on every OS): netsh wlan show interfaces through a fake runner, and the sampler. The API path
is in test_windows_wlanapi.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dexpulse.agent import platform
from dexpulse.agent.config import AgentConfig
from dexpulse.agent.platform import CommandResult, Host, NoData
from dexpulse.agent.platform._windows import wifi, wlanapi
from dexpulse.agent.samplers.base import Context
from dexpulse.agent.samplers.wifi import WifiSampler
from dexpulse.agent.state import StateStore
from dexpulse.schema import WifiSample
from dexpulse.schema.events import WifiEventSample

FIXTURES = Path(__file__).parents[2] / "fixtures" / "wifi" / "windows"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
NETSH = ("netsh", "wlan", "show", "interfaces")


def fixture(case: str) -> str:
    return (FIXTURES / case / f"windows_{case}.txt").read_text(encoding="utf-8")


class Runner:
    def __init__(self) -> None:
        self.outputs: dict[tuple[str, ...], CommandResult] = {}
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str], timeout: float) -> CommandResult:
        self.calls.append(tuple(argv))
        if tuple(argv) not in self.outputs:
            raise NoData(f"{argv[0]} is not installed")
        return self.outputs[tuple(argv)]


@pytest.fixture(autouse=True)
def no_native_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a machine without wlanapi.dll (and as off Windows): netsh answers."""
    monkeypatch.setattr(wlanapi, "load", lambda: None)


@pytest.fixture
def runner() -> Runner:
    return Runner()


@pytest.fixture
def host(tmp_path: Path, runner: Runner) -> Host:
    return Host(root=tmp_path, run=runner)


def test_english_netsh_link(host: Host, runner: Runner) -> None:
    runner.outputs[NETSH] = CommandResult(0, fixture("netsh_wlan_interfaces_en_1"))
    security: dict[str, str | None] = {}
    [sample] = wifi.read_wifi(host, NOW, ap_security=security)
    assert runner.calls == [NETSH]
    assert sample.interface == "Wi-Fi"
    assert sample.connected is True
    assert sample.ssid == "SSID-1"
    assert sample.bssid == "fe:dc:ba:09:87:02"
    assert sample.channel == 44
    assert sample.signal_percent == 42
    assert sample.rx_rate_mbps == 103
    assert sample.security == "WPA2-Personal"
    assert sample.ts == NOW
    assert security == {"fe:dc:ba:09:87:02": "WPA2-Personal"}


def test_german_netsh_link(host: Host, runner: Runner) -> None:
    runner.outputs[NETSH] = CommandResult(0, fixture("netsh_wlan_interfaces_de_2"))
    [sample] = wifi.read_wifi(host, NOW)
    assert (sample.interface, sample.connected, sample.band_ghz) == ("WLAN", True, 5.0)
    assert sample.channel == 116
    assert sample.security == "WPA2-Enterprise"


def test_no_wireless_interface_is_nodata(host: Host, runner: Runner) -> None:
    runner.outputs[NETSH] = CommandResult(0, "There is no wireless interface on the system.\n")
    with pytest.raises(NoData):
        wifi.read_wifi(host, NOW)


def test_netsh_failing_or_missing_is_nodata(host: Host, runner: Runner) -> None:
    with pytest.raises(NoData):
        wifi.read_wifi(host, NOW)  # not installed
    runner.outputs[NETSH] = CommandResult(1, "", "The Wireless AutoConfig Service is not running")
    with pytest.raises(NoData):
        wifi.read_wifi(host, NOW)
    runner.outputs[NETSH] = CommandResult(0, "Der Dienst läuft nicht.\n")  # unknown text
    with pytest.raises(NoData):
        wifi.read_wifi(host, NOW)


def test_location_gate_keeps_an_unnamed_unknown_interface(host: Host, runner: Runner) -> None:
    runner.outputs[NETSH] = CommandResult(
        0, "Network shell commands need location permission to access WLAN information.\n"
    )
    [sample] = wifi.read_wifi(host, NOW, ap_security={})
    assert sample.interface == ""
    assert sample.connected is None


def test_wifi_sampler_through_the_windows_backend(
    tmp_path: Path, runner: Runner, host: Host, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", lambda name: wifi)
    clock = [NOW]
    ctx = Context(
        host,
        AgentConfig(state_dir=tmp_path / "state"),
        StateStore(tmp_path / "state" / "state"),
        clock=lambda: clock[0],
    )
    sampler = WifiSampler(ctx)
    runner.outputs[NETSH] = CommandResult(0, fixture("netsh_wlan_interfaces_en_1"))
    [first] = sampler.collect()
    assert isinstance(first, WifiSample) and first.ssid == "SSID-1"
    clock[0] = NOW + timedelta(minutes=1)
    runner.outputs[NETSH] = CommandResult(0, "There is no wireless interface on the system.\n")
    [event] = sampler.collect()
    assert isinstance(event, WifiEventSample)
    assert (event.event, event.interface) == ("disconnected", "Wi-Fi")
