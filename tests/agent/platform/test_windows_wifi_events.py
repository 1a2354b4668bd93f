"""Windows Wi-Fi events from WLAN-AutoConfig's log: the backend through a fake wevtutil, and
the wifi sampler taking connects, drops and failures from the log while it polls for roams."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from fakehost import Machine

from dexpulse.agent import platform
from dexpulse.agent.config import AgentConfig
from dexpulse.agent.platform._windows import eventlog, wifi, wifi_events, wlanapi
from dexpulse.agent.samplers.base import Context
from dexpulse.agent.samplers.wifi import WifiSampler
from dexpulse.agent.state import StateStore
from dexpulse.schema import WifiSample
from dexpulse.schema.events import AgentHealthSample, WifiEventSample

FIXTURES = Path(__file__).parents[2] / "fixtures" / "wifi" / "windows"
CONNECTED_8001 = (
    FIXTURES
    / "event_wlan_autoconfig_8001_connected_1"
    / "windows_event_wlan_autoconfig_8001_connected_1.xml"
).read_text("utf-8")
NOW = datetime(2022, 10, 27, 4, 38, 10, tzinfo=UTC)
GUID = "{a7d8885d-10c1-43d4-9e1e-0a7b2678f020}"


def wlan_event(event_id: int, ts: str, data: dict[str, str], guid: str = GUID) -> str:
    """An event as wevtutil prints it, with the named EventData the channel writes."""
    fields = {"InterfaceGuid": guid, "InterfaceDescription": "Intel(R) Wi-Fi 6 AX200 160MHz"}
    body = "".join(f'<Data Name="{k}">{v}</Data>' for k, v in {**fields, **data}.items())
    return (
        '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
        '<Provider Name="Microsoft-Windows-WLAN-AutoConfig" '
        'Guid="{9580d7dd-0379-4658-9870-d5be7d52d6de}" />'
        f'<EventID>{event_id}</EventID><TimeCreated SystemTime="{ts}" />'
        "<Channel>Microsoft-Windows-WLAN-AutoConfig/Operational</Channel></System>"
        f"<EventData>{body}</EventData></Event>\n"
    )


# 8003 as Windows 10/11 write it: Reason text and ReasonCode (a decimal number).
DISCONNECTED_8003 = wlan_event(
    8003,
    "2022-10-27T04:38:02.0000000Z",
    {
        "ConnectionMode": "Automatic connection with a profile",
        "ProfileName": "SSID_TEST",
        "SSID": "SSID_TEST",
        "BSSType": "Infrastructure",
        "Reason": "The network is disconnected by the driver.",
        "ReasonCode": "163850",
        "ConnectionId": "0x2",
    },
)
# 8002 with its documented FailureReason; ReasonCode as some builds write it, in hex.
FAILED_8002 = wlan_event(
    8002,
    "2022-10-27T04:38:05.5000000Z",
    {
        "ConnectionMode": "Automatic connection with a profile",
        "ProfileName": "Corp",
        "SSID": "Corp",
        "BSSType": "Infrastructure",
        "FailureReason": "The specific network is not available.",
        "ReasonCode": "0x28001",
        "ConnectionId": "0x3",
    },
)


def wevtutil(since: datetime) -> tuple[str, ...]:
    return eventlog.wevtutil_argv(wifi_events.WLAN_LOG, wifi_events.WLAN_EVENTS, since)


def test_connect_drop_and_failure_from_the_log(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    since = NOW - timedelta(minutes=1)
    machine.answer(wevtutil(since), CONNECTED_8001 + DISCONNECTED_8003 + FAILED_8002)
    batch = wifi_events.wlan_events(machine.host, since, NOW)
    events = [e.sample for e in batch.entries]
    assert all(isinstance(e, WifiEventSample) for e in events)
    assert [(e.event, e.ssid) for e in events] == [  # type: ignore[attr-defined]
        ("connected", "SSID_TEST"),
        ("disconnected", "SSID_TEST"),
        ("auth_failed", "Corp"),
    ]
    drop, failure = events[1], events[2]
    assert isinstance(drop, WifiEventSample) and isinstance(failure, WifiEventSample)
    assert (drop.reason_code, drop.reason) == (163850, "The network is disconnected by the driver.")
    assert (failure.reason_code, failure.reason) == (
        0x28001,
        "The specific network is not available.",
    )
    assert drop.interface == "Intel(R) Wi-Fi 6 AX200 160MHz"
    assert events[0].ts == datetime(2022, 10, 27, 4, 37, 47, 158313, tzinfo=UTC)
    query = machine.calls[0][3]
    assert "EventID=8001 or EventID=8002 or EventID=8003" in query
    assert "EventID=11002 or EventID=11006 or EventID=12013" in query
    assert len({e.fp for e in batch.entries}) == 3


def test_two_adapters_in_the_same_instant_stay_two_events(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    since = NOW - timedelta(minutes=1)
    ts, data = "2022-10-27T04:38:02.0000000Z", {"SSID": "Corp", "Reason": "x", "ReasonCode": "1"}
    other = "{00000000-0000-0000-0000-000000000001}"
    machine.answer(wevtutil(since), wlan_event(8003, ts, data) + wlan_event(8003, ts, data, other))
    assert len(wifi_events.wlan_events(machine.host, since, NOW).entries) == 2


def test_channel_missing_is_nodata(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    since = NOW - timedelta(minutes=1)
    machine.answer(
        wevtutil(since), "", rc=15007, stderr="The specified channel could not be found."
    )
    with pytest.raises(platform.NoData):
        wifi_events.wlan_events(machine.host, since, NOW)


NETSH = ("netsh", "wlan", "show", "interfaces")
LINK = """
There is 1 interface on the system:

    Name                   : Wi-Fi
    Description            : Intel(R) Wi-Fi 6 AX200 160MHz
    GUID                   : a7d8885d-10c1-43d4-9e1e-0a7b2678f020
    Physical address       : 12:34:56:78:9a:bc
    State                  : connected
    SSID                   : SSID_TEST
    BSSID                  : {bssid}
    Network type           : Infrastructure
    Radio type             : 802.11ax
    Authentication         : WPA2-Personal
    Cipher                 : CCMP
    Connection mode        : Auto Connect
    Channel                : 36
    Receive rate (Mbps)    : 866.7
    Transmit rate (Mbps)   : 866.7
    Signal                 : 90%
    Profile                : SSID_TEST
"""


@pytest.fixture(autouse=True)
def netsh_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No wlanapi.dll (as off Windows): the link comes from netsh, answered by the fake."""
    monkeypatch.setattr(wlanapi, "load", lambda: None)


def windows_backend() -> SimpleNamespace:
    """The Windows Wi-Fi area as the sampler sees it (a copy, so a test may change it)."""
    return SimpleNamespace(
        read_wifi=wifi.read_wifi,
        EVENT_SOURCES=dict(wifi.EVENT_SOURCES),
        EVENT_KINDS=wifi.EVENT_KINDS,
    )


def test_sampler_takes_drops_from_the_log_and_roams_from_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", {"wifi": wifi}.__getitem__)  # the real module
    machine = Machine(tmp_path)
    clock = [NOW]
    config = AgentConfig.model_validate(
        {"state_dir": str(tmp_path / "state"), "privacy": {"ssid": "clear", "bssid": "clear"}}
    )
    ctx = Context(
        machine.host, config, StateStore(tmp_path / "state" / "db"), clock=lambda: clock[0]
    )
    sampler = WifiSampler(ctx)

    # First poll: linked; the log has the connect of 23 s ago.
    machine.answer(NETSH, LINK.format(bssid="aa:bb:cc:00:00:01"))
    machine.answer(wevtutil(NOW - timedelta(minutes=1)), CONNECTED_8001)
    first = sampler.collect()
    assert [type(s) for s in first] == [WifiSample, WifiEventSample]
    assert isinstance(first[1], WifiEventSample) and first[1].event == "connected"

    # A minute later: dropped and back (between polls) and now on another access point.
    # Polling alone would see only the roam; the log gives the drop, with its reason.
    def at(seconds: int) -> str:
        return (NOW + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")

    drop = wlan_event(8003, at(40), {"SSID": "SSID_TEST", "Reason": "r", "ReasonCode": "1"})
    fail = wlan_event(8002, at(45), {"SSID": "SSID_TEST", "FailureReason": "f"})
    clock[0] = NOW + timedelta(seconds=60)
    machine.answer(NETSH, LINK.format(bssid="aa:bb:cc:00:00:02"))
    machine.answer(wevtutil(NOW - timedelta(seconds=30)), CONNECTED_8001 + drop + fail)
    second = sampler.collect()
    events = [s for s in second if isinstance(s, WifiEventSample)]
    assert sorted(e.event for e in events) == ["auth_failed", "disconnected", "roamed"]
    roam = next(e for e in events if e.event == "roamed")
    assert (roam.previous_bssid, roam.bssid) == ("aa:bb:cc:00:00:01", "aa:bb:cc:00:00:02")

    # The log still holds them on the next run, and after a restart: none is sent twice.
    clock[0] = NOW + timedelta(seconds=65)
    machine.answer(wevtutil(NOW + timedelta(seconds=30)), drop + fail)
    assert [type(s) for s in sampler.collect()] == [WifiSample]
    clock[0] = NOW + timedelta(seconds=70)
    machine.answer(wevtutil(NOW + timedelta(seconds=35)), drop + fail)
    assert [type(s) for s in WifiSampler(ctx).collect()] == [WifiSample]
    assert machine.calls[-1] == wevtutil(NOW + timedelta(seconds=35))  # read, and skipped


def test_log_unreadable_means_polling_reports_every_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", {"wifi": windows_backend()}.__getitem__)
    machine = Machine(tmp_path)  # wevtutil answers nothing: "not installed"
    clock = [NOW]
    ctx = Context(
        machine.host,
        AgentConfig(state_dir=tmp_path / "state"),
        StateStore(tmp_path / "state" / "db"),
        clock=lambda: clock[0],
    )
    sampler = WifiSampler(ctx)
    machine.answer(NETSH, LINK.format(bssid="aa:bb:cc:00:00:01"))
    assert [type(s) for s in sampler.collect()] == [WifiSample]
    clock[0] = NOW + timedelta(minutes=1)
    machine.answer(NETSH, "There is no wireless interface on the system.\n")
    [event] = sampler.collect()
    assert isinstance(event, WifiEventSample) and event.event == "disconnected"


def test_hashed_identifiers_in_logged_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform, "area", {"wifi": windows_backend()}.__getitem__)
    machine = Machine(tmp_path)
    config = AgentConfig.model_validate(
        {
            "state_dir": str(tmp_path / "state"),
            "privacy": {"ssid": "hashed", "bssid": "omitted", "hash_key": "k"},
        }
    )
    ctx = Context(machine.host, config, StateStore(tmp_path / "state" / "db"), clock=lambda: NOW)
    machine.answer(NETSH, LINK.format(bssid="aa:bb:cc:00:00:01"))
    machine.answer(wevtutil(NOW - timedelta(minutes=1)), CONNECTED_8001)
    [_, event] = WifiSampler(ctx).collect()
    assert isinstance(event, WifiEventSample)
    assert event.ssid is not None and event.ssid.startswith("h:") and "SSID_TEST" not in event.ssid
    assert event.bssid is None


def test_a_broken_log_is_reported_once_and_polling_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(host: object, since: datetime, now: datetime) -> object:
        raise RuntimeError("event log service answered garbage")

    backend = windows_backend()
    backend.EVENT_SOURCES = {"wlan_autoconfig": broken}
    monkeypatch.setattr(platform, "area", {"wifi": backend}.__getitem__)
    machine = Machine(tmp_path)
    clock = [NOW]
    ctx = Context(
        machine.host,
        AgentConfig(state_dir=tmp_path / "state"),
        StateStore(tmp_path / "state" / "db"),
        clock=lambda: clock[0],
    )
    sampler = WifiSampler(ctx)
    machine.answer(NETSH, LINK.format(bssid="aa:bb:cc:00:00:01"))
    first = sampler.collect()
    assert [type(s) for s in first] == [WifiSample, AgentHealthSample]
    assert isinstance(first[1], AgentHealthSample) and first[1].status == "degraded"
    clock[0] = NOW + timedelta(minutes=1)
    assert [type(s) for s in sampler.collect()] == [WifiSample]  # said once
