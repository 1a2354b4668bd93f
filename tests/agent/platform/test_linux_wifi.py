"""Linux Wi-Fi backend: interface discovery and the iw -> nmcli -> /proc -> operstate merge."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dexpulse.agent.platform import CommandResult, Host, NoData
from dexpulse.agent.platform._linux.wifi import NMCLI_LIST, read_wifi, wireless_interfaces

FIXTURES = Path(__file__).parents[2] / "fixtures" / "wifi" / "linux"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
PROC_HEADER = (
    "Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE\n"
    " face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n"
)


def fixture(case: str) -> str:
    return (FIXTURES / case / f"linux_{case}.txt").read_text(encoding="utf-8")


def iw(iface: str) -> tuple[str, ...]:
    return ("iw", "dev", iface, "link")


def nmcli(iface: str) -> tuple[str, ...]:
    return (*NMCLI_LIST, "ifname", iface)


class Machine:
    """A fake root (sysfs, procfs) and a runner answering from a table of argv -> output."""

    def __init__(self, tmp_path: Path, wireless: Sequence[str] = ("wlan0",)) -> None:
        self.root = tmp_path / "root"
        (self.root / "sys/class/net/lo").mkdir(parents=True)
        (self.root / "sys/class/net/eth0/device").mkdir(parents=True)
        for iface in wireless:
            (self.root / f"sys/class/net/{iface}/wireless").mkdir(parents=True)
        self.outputs: dict[tuple[str, ...], CommandResult] = {}
        self.calls: list[tuple[str, ...]] = []
        self.host = Host(root=self.root, run=self.run)

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult:
        self.calls.append(tuple(argv))
        if tuple(argv) not in self.outputs:
            raise NoData(f"{argv[0]} is not installed")
        return self.outputs[tuple(argv)]

    def answer(self, argv: tuple[str, ...], stdout: str, returncode: int = 0) -> None:
        self.outputs[argv] = CommandResult(returncode, stdout, "" if not returncode else "err")

    def file(self, path: str, text: str) -> None:
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def test_interfaces_from_sysfs_wireless_dir_or_phy80211(tmp_path: Path) -> None:
    machine = Machine(tmp_path, wireless=("wlp2s0", "wlan1"))
    (machine.root / "sys/class/net/wlx00c0ca/phy80211").mkdir(parents=True)
    assert wireless_interfaces(machine.host) == ["wlan1", "wlp2s0", "wlx00c0ca"]


def test_iw_link_with_noise_from_proc(tmp_path: Path) -> None:
    machine = Machine(tmp_path, wireless=("wlp1s0",))
    machine.answer(iw("wlp1s0"), fixture("iw_dev_link_1"))
    proc_line = " wlp1s0: 0000   59.  -49.  -92.  0 0 0 0 0 0\n"
    machine.file("/proc/net/wireless", PROC_HEADER + proc_line)
    (s,) = read_wifi(machine.host, NOW)
    assert (s.interface, s.connected, s.ssid, s.bssid) == (
        "wlp1s0",
        True,
        "SSID-1",
        "fe:dc:ba:98:76:02",
    )
    assert (s.rssi_dbm, s.noise_dbm) == (-51, -92)  # iw's signal kept, /proc adds noise
    assert (s.channel, s.band_ghz, s.frequency_mhz, s.tx_rate_mbps) == (1, 2.4, 2412.0, 26.0)
    assert s.ts == NOW
    assert machine.calls == [iw("wlp1s0")]  # no nmcli without a security cache


def test_nmcli_adds_security_once_per_access_point(tmp_path: Path) -> None:
    machine = Machine(tmp_path, wireless=("wlp1s0",))
    machine.answer(iw("wlp1s0"), fixture("iw_dev_link_1"))
    machine.answer(
        nmcli("wlp1s0"),
        " :AA\\:BB\\:CC\\:DD\\:EE\\:FF:Other:Infra:6:130 Mbit/s:40:▂▄__:WPA2\n"
        "*:FE\\:DC\\:BA\\:98\\:76\\:02:SSID-1:Infra:1:130 Mbit/s:82:▂▄▆█:WPA2 802.1X\n",
    )
    cache: dict[str, str | None] = {}
    (first,) = read_wifi(machine.host, NOW, ap_security=cache)
    assert (first.security, first.signal_percent, first.rssi_dbm) == ("WPA2 802.1X", 82, -51)
    assert cache == {"fe:dc:ba:98:76:02": "WPA2 802.1X"}
    (second,) = read_wifi(machine.host, NOW, ap_security=cache)
    assert second.security == "WPA2 802.1X"
    assert second.signal_percent is None  # a strength is not cached: it would be stale
    assert machine.calls.count(nmcli("wlp1s0")) == 1


def test_missing_nmcli_is_asked_once_per_access_point(tmp_path: Path) -> None:
    machine = Machine(tmp_path, wireless=("wlp1s0",))
    machine.answer(iw("wlp1s0"), fixture("iw_dev_link_1"))
    cache: dict[str, str | None] = {}
    for _ in range(3):
        (s,) = read_wifi(machine.host, NOW, ap_security=cache)
        assert s.connected is True and s.security is None
    assert machine.calls.count(nmcli("wlp1s0")) == 1
    assert cache == {"fe:dc:ba:98:76:02": None}


def test_nmcli_when_iw_is_missing(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    machine.answer(nmcli("wlan0"), fixture("nmcli_terse_dev_wifi_list_2"))
    machine.file("/proc/net/wireless", fixture("proc_net_wireless_1"))
    (s,) = read_wifi(machine.host, NOW)
    assert (s.interface, s.connected, s.ssid, s.bssid) == (
        "wlan0",
        True,
        "SSID-3",
        "fe:dc:ba:09:87:03",
    )
    assert (s.signal_percent, s.channel, s.security) == (87, 1, "Open")
    assert (s.rssi_dbm, s.noise_dbm) == (-50, None)  # from /proc; noise -256 means unknown
    assert machine.calls == [iw("wlan0"), nmcli("wlan0")]


def test_iw_failing_falls_back_to_nmcli(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    machine.answer(iw("wlan0"), "command failed: No such device (-19)\n", returncode=237)
    machine.answer(nmcli("wlan0"), " :AA\\:BB\\:CC\\:DD\\:EE\\:FF:Other:Infra:6:130 Mbit/s:40:x:\n")
    (s,) = read_wifi(machine.host, NOW)
    assert (s.interface, s.connected, s.ssid) == ("wlan0", False, None)


def test_unparsable_iw_output_falls_back(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    machine.answer(iw("wlan0"), "Usage:\tiw [options] command\n")
    machine.file("/sys/class/net/wlan0/operstate", "up\n")
    (s,) = read_wifi(machine.host, NOW)
    assert (s.interface, s.connected) == ("wlan0", True)  # operstate, the last resort


def test_not_connected_ignores_stale_proc_line(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    machine.answer(iw("wlan0"), "Not connected.\n")
    machine.file("/proc/net/wireless", fixture("proc_net_wireless_1"))
    (s,) = read_wifi(machine.host, NOW)
    assert (s.interface, s.connected, s.rssi_dbm) == ("wlan0", False, None)


def test_proc_and_operstate_without_tools(tmp_path: Path) -> None:
    machine = Machine(tmp_path, wireless=("wlan0", "wlan1"))
    machine.file("/proc/net/wireless", fixture("proc_net_wireless_1"))
    machine.file("/sys/class/net/wlan0/operstate", "up\n")
    machine.file("/sys/class/net/wlan1/operstate", "dormant\n")
    wlan0, wlan1 = read_wifi(machine.host, NOW)
    assert (wlan0.interface, wlan0.connected, wlan0.rssi_dbm) == ("wlan0", True, -50)
    assert (wlan1.interface, wlan1.connected, wlan1.rssi_dbm) == ("wlan1", False, -39)


def test_empty_nmcli_list_says_nothing(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    machine.answer(nmcli("wlan0"), "")
    (s,) = read_wifi(machine.host, NOW)
    assert (s.interface, s.connected, s.rssi_dbm) == ("wlan0", None, None)


def test_interfaces_from_proc_when_sysfs_has_none(tmp_path: Path) -> None:
    machine = Machine(tmp_path, wireless=())
    machine.file("/proc/net/wireless", fixture("proc_net_wireless_1"))
    readings = read_wifi(machine.host, NOW)
    assert [(s.interface, s.connected, s.rssi_dbm) for s in readings] == [
        ("wlan0", None, -50),
        ("wlan1", None, -39),
    ]


def test_no_wireless_interface_is_no_data(tmp_path: Path) -> None:
    machine = Machine(tmp_path, wireless=())
    machine.file("/proc/net/wireless", PROC_HEADER)
    with pytest.raises(NoData):
        read_wifi(machine.host, NOW)
    assert machine.calls == []


def test_no_sysfs_no_proc_is_no_data(tmp_path: Path) -> None:
    with pytest.raises(NoData):
        read_wifi(Host(root=tmp_path / "empty"), NOW)
