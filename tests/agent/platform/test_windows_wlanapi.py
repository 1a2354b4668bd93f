"""Windows Wi-Fi through the Native Wifi API: the structure layouts, and the reading code run
against a fake wlanapi.dll (fake_wlanapi.py) that answers through ctypes function pointers."""

from __future__ import annotations

import ctypes
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from fake_wlanapi import Bss, Connection, FakeWlan, Interface
from fakehost import Machine

from dexpulse.agent import platform
from dexpulse.agent.config import AgentConfig
from dexpulse.agent.platform import NoData
from dexpulse.agent.platform._windows import nativewifi, wifi, wlanapi
from dexpulse.agent.samplers.base import Context
from dexpulse.agent.samplers.wifi import WifiSampler
from dexpulse.agent.state import StateStore
from dexpulse.schema import WifiSample
from dexpulse.schema.events import WifiEventSample

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
NETSH = ("netsh", "wlan", "show", "interfaces")
AP1 = bytes.fromhex("fedcba987601")
AP2 = bytes.fromhex("fedcba987602")
NETSH_EN = (
    Path(__file__).parents[2]
    / "fixtures/wifi/windows/netsh_wlan_interfaces_en_1/windows_netsh_wlan_interfaces_en_1.txt"
).read_text("utf-8")
GATED = "Network shell commands need location permission to access WLAN information.\n"


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def read(machine: Machine, fake: FakeWlan, **kwargs: Any) -> list[WifiSample]:
    return wifi.read_wifi(machine.host, NOW, api=fake, **kwargs)


# --- layouts ----------------------------------------------------------------------------------

# (structure, documented size): members added up with the C alignment rules of the SDK headers;
# none holds a pointer, so x86 and x64 agree.
SIZES = [
    (wlanapi.GUID, 16),
    (wlanapi.DOT11_SSID, 4 + 32),
    (wlanapi.WLAN_INTERFACE_INFO, 16 + 2 * 256 + 4),
    (wlanapi.WLAN_ASSOCIATION_ATTRIBUTES, 36 + 4 + 6 + 2 + 5 * 4),
    (wlanapi.WLAN_SECURITY_ATTRIBUTES, 4 * 4),
    (wlanapi.WLAN_CONNECTION_ATTRIBUTES, 4 + 4 + 2 * 256 + 68 + 16),
    (wlanapi.WLAN_RATE_SET, 4 + 2 * 126),
    (wlanapi.WLAN_BSS_ENTRY, 360),
]


@pytest.mark.parametrize(("structure", "size"), SIZES, ids=lambda v: getattr(v, "__name__", ""))
def test_structure_sizes(structure: type[ctypes.Structure], size: int) -> None:
    assert ctypes.sizeof(structure) == size


def test_member_offsets() -> None:
    association = wlanapi.WLAN_ASSOCIATION_ATTRIBUTES
    # DOT11_MAC_ADDRESS (6 bytes at 40) is followed by 2 bytes of padding before the enum.
    assert (association.dot11Bssid.offset, association.dot11PhyType.offset) == (40, 48)
    assert (association.wlanSignalQuality.offset, association.ulTxRate.offset) == (56, 64)
    connection = wlanapi.WLAN_CONNECTION_ATTRIBUTES
    assert connection.wlanAssociationAttributes.offset == 8 + 512
    assert connection.wlanSecurityAttributes.offset == 8 + 512 + 68
    entry = wlanapi.WLAN_BSS_ENTRY
    assert (entry.dot11Bssid.offset, entry.dot11BssType.offset, entry.lRssi.offset) == (40, 48, 56)
    # BOOLEAN at 64, USHORT at 66, then the ULONGLONG timestamps 8-aligned at 72 and 80.
    assert (entry.usBeaconPeriod.offset, entry.ullTimestamp.offset) == (66, 72)
    assert (entry.ulChCenterFrequency.offset, entry.wlanRateSet.offset) == (92, 96)
    assert (entry.ulIeOffset.offset, entry.ulIeSize.offset) == (352, 356)
    assert wlanapi.WLAN_BSS_LIST.wlanBssEntries.offset == 8
    assert wlanapi.WLAN_INTERFACE_INFO_LIST.InterfaceInfo.offset == 8


def test_opcodes_and_fixed_width_types() -> None:
    assert wlanapi.wlan_intf_opcode_current_connection == 7
    assert wlanapi.wlan_intf_opcode_channel_number == 8
    assert wlanapi.wlan_intf_opcode_rssi == 268435714
    for kind in (wlanapi.DWORD, wlanapi.ULONG, wlanapi.LONG, wlanapi.BOOL, wlanapi.ENUM):
        assert ctypes.sizeof(kind) == 4
    assert ctypes.sizeof(wlanapi.WCHAR) == 2


@pytest.mark.skipif(platform.OS_NAME == "windows", reason="loads the real DLL on Windows")
def test_nothing_is_loaded_off_windows() -> None:
    assert wlanapi.load() is None


# --- one read -------------------------------------------------------------------------------


def test_connected_interface(machine: Machine) -> None:
    fake = FakeWlan(Interface(bss=[Bss(AP2, rssi=-40), Bss(AP1, frequency_khz=5_180_000)]))
    security: dict[str, str | None] = {}
    [sample] = read(machine, fake, ap_security=security)
    assert sample == WifiSample(
        ts=NOW,
        interface="Wi-Fi",
        connected=True,
        ssid="Office",
        bssid="fe:dc:ba:98:76:01",
        rssi_dbm=-57,  # the rssi opcode, not the BSS entry's -58
        signal_percent=76,
        channel=36,
        band_ghz=5.0,
        frequency_mhz=5180.0,
        rx_rate_mbps=866.7,
        tx_rate_mbps=576.0,
        radio_type="802.11ax",
        security="WPA2-Personal",
    )
    assert security == {"fe:dc:ba:98:76:01": "WPA2-Personal"}
    assert fake.called("WlanOpenHandle") == [2]
    assert fake.called("WlanGetNetworkBssList") == [(b"Office", 1, 1)]  # the connected SSID
    assert machine.calls == []  # netsh not run
    fake.assert_clean()
    assert fake.closed == 1 and fake.allocated == 5


def test_frequency_gives_band_and_channel_where_the_opcode_fails(machine: Machine) -> None:
    link = Connection(ssid=b"Caf\xc3\xa9 6E", auth=9, phy=11)
    fake = FakeWlan(
        Interface(connection=link, channel_rc=50, bss=[Bss(AP1, b"Caf\xc3\xa9 6E", -61, 5_975_000)])
    )
    [sample] = read(machine, fake)
    assert (sample.ssid, sample.security, sample.radio_type) == (
        "Café 6E",
        "WPA3-Personal",
        "802.11be",
    )
    assert (sample.frequency_mhz, sample.band_ghz, sample.channel) == (5975.0, 6.0, 5)
    fake.assert_clean()


def test_rssi_from_the_bss_entry_then_from_the_percentage(machine: Machine) -> None:
    fake = FakeWlan(Interface(rssi_rc=50, bss=[Bss(AP1, rssi=-63)]))
    assert read(machine, fake)[0].rssi_dbm == -63
    fake.assert_clean()
    fake = FakeWlan(Interface(rssi=None, bss=[], connection=Connection(signal=60)))
    assert read(machine, fake)[0].rssi_dbm == -70  # 60 % on the -100..-50 dBm line
    fake.assert_clean()


def test_the_description_labels_an_interface_without_an_alias(machine: Machine) -> None:
    [sample] = read(machine, FakeWlan(Interface(), aliases=False))
    assert sample.interface == "Intel(R) Wi-Fi 6 AX201 160MHz"
    [sample] = read(machine, FakeWlan(Interface(alias=None, description="USB Wi-Fi")))
    assert sample.interface == "USB Wi-Fi"
    [sample] = read(machine, FakeWlan(Interface(alias=None, description=" ")))
    assert sample.interface == ""  # as netsh's unnamed interfaces: None would not match


def test_disconnected_interface(machine: Machine) -> None:
    fake = FakeWlan(Interface(state=4))  # wlan_interface_state_disconnected
    [sample] = read(machine, fake)
    assert sample == WifiSample(ts=NOW, interface="Wi-Fi", connected=False)
    assert fake.called("WlanQueryInterface") == []
    fake.assert_clean()


@pytest.mark.parametrize("rc", [wlanapi.ERROR_NOT_FOUND, wlanapi.ERROR_INVALID_STATE])
def test_a_link_lost_between_the_calls_is_disconnected(machine: Machine, rc: int) -> None:
    fake = FakeWlan(Interface(connection_rc=rc))
    assert read(machine, fake) == [WifiSample(ts=NOW, interface="Wi-Fi", connected=False)]
    fake = FakeWlan(Interface(connection=Connection(state=5)))  # associating by now
    assert read(machine, fake)[0].connected is False
    fake.assert_clean()


def test_two_interfaces(machine: Machine) -> None:
    fake = FakeWlan(
        Interface(bss=[Bss(AP1)]),
        Interface(description="USB 802.11ac", alias="Wi-Fi 2", state=4),
    )
    first, second = read(machine, fake)
    assert (first.interface, first.connected, first.ssid) == ("Wi-Fi", True, "Office")
    assert (second.interface, second.connected, second.ssid) == ("Wi-Fi 2", False, None)
    fake.assert_clean()


def test_no_interface_is_nodata_without_asking_netsh(machine: Machine) -> None:
    fake = FakeWlan()
    with pytest.raises(NoData):
        read(machine, fake)
    assert machine.calls == []
    fake.assert_clean()


# --- Windows 11 24H2 location gate ----------------------------------------------------------


def test_connection_denied_falls_back_to_netsh(machine: Machine) -> None:
    fake = FakeWlan(Interface(connection_rc=wlanapi.ERROR_ACCESS_DENIED))
    machine.answer(NETSH, GATED)
    [sample] = read(machine, fake)
    assert (sample.interface, sample.connected, sample.ssid) == ("", None, None)
    assert machine.calls == [NETSH]
    fake.assert_clean()
    machine.answer(NETSH, NETSH_EN)  # netsh allowed where the API is not
    [sample] = read(machine, fake)
    assert (sample.interface, sample.ssid, sample.signal_percent) == ("Wi-Fi", "SSID-1", 42)
    fake.assert_clean()


def test_bss_list_denied_keeps_the_link_without_frequency(machine: Machine) -> None:
    fake = FakeWlan(Interface(bss=[Bss(AP1)], bss_rc=wlanapi.ERROR_ACCESS_DENIED))
    [sample] = read(machine, fake)
    assert (sample.ssid, sample.bssid, sample.rssi_dbm) == ("Office", "fe:dc:ba:98:76:01", -57)
    assert (sample.frequency_mhz, sample.channel, sample.band_ghz) == (None, 36, 5.0)
    assert len(fake.called("WlanGetNetworkBssList")) == 1
    fake.assert_clean()


def test_identity_withheld_keeps_signal_rates_and_channel(machine: Machine) -> None:
    withheld = Connection(ssid=b"", bssid=bytes(6))
    fake = FakeWlan(Interface(connection=withheld, bss=[Bss(AP1)], bss_rc=5))
    [sample] = read(machine, fake, ap_security={})
    assert (sample.connected, sample.ssid, sample.bssid) == (True, None, None)
    assert (sample.rssi_dbm, sample.signal_percent, sample.channel) == (-57, 76, 36)
    assert (sample.rx_rate_mbps, sample.security) == (866.7, "WPA2-Personal")
    assert fake.called("WlanGetNetworkBssList") == []  # no BSSID to look up
    fake.assert_clean()


# --- no API ---------------------------------------------------------------------------------


def test_service_not_active_reads_netsh(machine: Machine) -> None:
    fake = FakeWlan(Interface())
    fake.open_rc = wlanapi.ERROR_SERVICE_NOT_ACTIVE
    machine.answer(
        NETSH, "", rc=1, stderr="The Wireless AutoConfig Service (wlansvc) is not running."
    )
    with pytest.raises(NoData):
        read(machine, fake)
    assert machine.calls == [NETSH]
    machine.answer(NETSH, "There is no wireless interface on the system.\n")
    with pytest.raises(NoData):
        read(machine, fake)
    machine.answer(NETSH, NETSH_EN)
    assert read(machine, fake)[0].ssid == "SSID-1"
    assert fake.closed == 0  # nothing was opened
    fake.assert_clean()


def test_enumeration_failing_reads_netsh(machine: Machine) -> None:
    fake = FakeWlan(Interface())
    fake.enum_rc = 1722  # RPC_S_SERVER_UNAVAILABLE
    machine.answer(NETSH, NETSH_EN)
    assert read(machine, fake)[0].interface == "Wi-Fi"
    fake.assert_clean()
    assert fake.closed == 1


# --- a driver's junk ------------------------------------------------------------------------


def test_absurd_counts_and_lengths_are_bounded(machine: Machine) -> None:
    many = [Interface(alias=f"Wi-Fi {n}", state=4) for n in range(nativewifi.MAX_INTERFACES + 4)]
    fake = FakeWlan(*many)
    fake.interface_items = 0xFFFFFFFF
    samples = read(machine, fake)
    assert [s.interface for s in samples] == [
        f"Wi-Fi {n}" for n in range(nativewifi.MAX_INTERFACES)
    ]
    fake.assert_clean()

    junk = Connection(ssid=b"x" * 32, ssid_length=200, signal=250, rx_kbps=0xFFFFFFFF)
    [sample] = read(
        machine,
        FakeWlan(
            Interface(
                description="D" * 400,
                alias=None,
                connection=junk,
                channel=0,
                rssi=0x7FFFFFFF,
                bss=[Bss(AP1, rssi=40, frequency_khz=0)],
                bss_items=0xFFFFFFFF,
            )
        ),
    )
    assert sample.interface == "D" * 256  # the array holds 256 WCHARs, no NUL after them
    assert (sample.ssid, sample.signal_percent, sample.channel, sample.band_ghz) == (None,) * 4
    assert (sample.rssi_dbm, sample.frequency_mhz) == (None, None)
    assert sample.rx_rate_mbps is None  # 4.3 Tbit/s: the largest ULONG is no rate
    assert sample.bssid == "fe:dc:ba:98:76:01"


def test_bss_entries_beyond_the_total_size_are_not_read(machine: Machine) -> None:
    entry = ctypes.sizeof(wlanapi.WLAN_BSS_ENTRY)
    others = [Bss(bytes([0, 0, 0, 0, 0, n])) for n in range(1, 4)]
    fake = FakeWlan(Interface(bss=[*others, Bss(AP1)], bss_total=8 + 3 * entry))
    assert read(machine, fake)[0].frequency_mhz is None  # the match is the 4th of 3 declared
    fake = FakeWlan(Interface(bss=[*others, Bss(AP1)], bss_items=3))
    assert read(machine, fake)[0].frequency_mhz is None
    fake = FakeWlan(Interface(bss=[*others, Bss(AP1)]))
    assert read(machine, fake)[0].frequency_mhz == 5180.0
    fake.assert_clean()


def test_short_answers_are_ignored(machine: Machine) -> None:
    size = ctypes.sizeof(wlanapi.WLAN_CONNECTION_ATTRIBUTES)
    fake = FakeWlan(Interface(connection_size=size - 16, bss=[Bss(AP1)]))
    [sample] = read(machine, fake)
    assert (sample.connected, sample.ssid, sample.signal_percent) == (True, None, None)
    assert (sample.rssi_dbm, sample.channel) == (-57, 36)
    assert fake.called("WlanGetNetworkBssList") == []
    fake.assert_clean()


# --- nothing left behind ----------------------------------------------------------------------


class Boom(Exception):
    pass


def boom(*args: object, **kwargs: object) -> Any:
    raise Boom


def _fail_in_list(monkeypatch: pytest.MonkeyPatch, fake: FakeWlan) -> None:
    monkeypatch.setattr(wlanapi, "utf16", boom)  # while the interface list is held


def _fail_in_query(monkeypatch: pytest.MonkeyPatch, fake: FakeWlan) -> None:
    monkeypatch.setattr(nativewifi.ctypes, "string_at", boom)  # while an answer is held


def _fail_in_bss(monkeypatch: pytest.MonkeyPatch, fake: FakeWlan) -> None:
    monkeypatch.setattr(nativewifi, "MAX_BSS_ENTRIES", "not a number")  # while the list is held


def _fail_in_dll(monkeypatch: pytest.MonkeyPatch, fake: FakeWlan) -> None:
    real = fake.WlanGetNetworkBssList

    def faulting(*args: object) -> int:
        real(*args)  # the list is allocated, then the call faults before handing it over
        raise OSError("exception: access violation reading 0x0000000000000000")

    monkeypatch.setattr(fake, "WlanGetNetworkBssList", faulting)


@pytest.mark.parametrize("sabotage", [_fail_in_list, _fail_in_query, _fail_in_bss])
def test_everything_freed_and_closed_on_exceptions(
    machine: Machine, monkeypatch: pytest.MonkeyPatch, sabotage: Any
) -> None:
    fake = FakeWlan(Interface(bss=[Bss(AP1)]))
    sabotage(monkeypatch, fake)
    with pytest.raises((Boom, TypeError)):
        read(machine, fake)
    fake.assert_clean()
    assert fake.closed == 1


def test_the_handle_is_closed_when_a_call_faults(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeWlan(Interface(bss=[Bss(AP1)]))
    _fail_in_dll(monkeypatch, fake)
    monkeypatch.setattr(wifi, "_faulted", set())
    with pytest.raises(NoData, match="netsh"):  # fell back to netsh, absent on this machine
        read(machine, fake)
    assert fake.handles == set() and fake.closed == 1
    assert len(fake.live) == 1  # only what the faulting call never handed over


# --- the sampler over the API ---------------------------------------------------------------


@pytest.fixture
def api_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWlan]:
    """The wifi sampler reading this OS's backend = the Windows one, whose DLL is the fake."""
    fake = FakeWlan(Interface(guid=uuid.UUID(int=7), bss=[Bss(AP1), Bss(AP2, rssi=-49)]))
    monkeypatch.setattr(platform, "area", lambda name: wifi)
    monkeypatch.setattr(wlanapi, "load", lambda: fake)
    yield fake
    fake.assert_clean()


def test_sampler_reports_a_roam_across_two_polls(
    tmp_path: Path, machine: Machine, api_backend: FakeWlan
) -> None:
    clock = [NOW]
    ctx = Context(
        machine.host,
        AgentConfig(state_dir=tmp_path / "state"),
        StateStore(tmp_path / "state" / "state"),
        clock=lambda: clock[0],
    )
    sampler = WifiSampler(ctx)
    [first] = sampler.collect()
    assert isinstance(first, WifiSample)
    assert (first.interface, first.bssid, first.frequency_mhz) == (
        "Wi-Fi",
        "fe:dc:ba:98:76:01",
        5180.0,
    )

    clock[0] = NOW + timedelta(minutes=1)
    api_backend.interfaces[0].connection = Connection(bssid=AP2, signal=90)
    api_backend.interfaces[0].rssi = None
    second, event = sampler.collect()
    assert isinstance(second, WifiSample) and isinstance(event, WifiEventSample)
    assert (second.bssid, second.rssi_dbm, second.signal_percent) == ("fe:dc:ba:98:76:02", -49, 90)
    assert (event.event, event.interface, event.ssid) == ("roamed", "Wi-Fi", "Office")
    assert (event.bssid, event.previous_bssid) == ("fe:dc:ba:98:76:02", "fe:dc:ba:98:76:01")
    assert {call[0] for call in machine.calls} == {"wevtutil"}  # events only: no netsh


def test_a_fault_inside_the_dll_falls_back_to_netsh(
    machine: Machine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wifi, "_faulted", set())  # as in a fresh agent process

    class Faulting:
        def WlanOpenHandle(self, *args: object) -> int:
            raise OSError("exception: access violation reading 0x0000000000000010")

    machine.answer(wifi.NETSH, "There is no wireless interface on the system.\n")
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            with pytest.raises(NoData):  # netsh was asked, and has no interface either
                wifi.read_wifi(machine.host, NOW, api=cast(Any, Faulting()))
    assert machine.calls == [wifi.NETSH, wifi.NETSH]
    assert [r.message for r in caplog.records].count(
        "wifi: Native Wifi API failed (exception: access violation reading "
        "0x0000000000000010); reading netsh instead"
    ) == 1  # once per process, not every poll
