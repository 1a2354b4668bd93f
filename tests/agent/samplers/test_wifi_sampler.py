"""The wifi sampler: readings, roam/connect/disconnect detection across polls and restarts,
and the privacy of SSIDs and BSSIDs (on the wire and on disk)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dexpulse.agent.config import AgentConfig, PrivacyConfig
from dexpulse.agent.platform import CommandResult, Host, NoData
from dexpulse.agent.samplers.base import REGISTRY, Context
from dexpulse.agent.samplers.wifi import WifiSampler, hash_identifier
from dexpulse.agent.state import StateStore
from dexpulse.schema import SampleBase, WifiEventSample, WifiSample

START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
IW = ("iw", "dev", "wlan0", "link")
AP1, AP2, AP3 = "fe:dc:ba:98:76:01", "fe:dc:ba:98:76:02", "aa:bb:cc:00:11:22"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 60) -> None:
        self.now += timedelta(seconds=seconds)


class CountingStore(StateStore):
    saves = 0

    def save(self, name: str, data: dict[str, Any]) -> None:
        self.saves += 1
        super().save(name, data)


class Laptop:
    """One wireless interface whose ``iw dev wlan0 link`` answer the test changes."""

    def __init__(self, tmp_path: Path, privacy: PrivacyConfig | None = None) -> None:
        self.tmp_path = tmp_path
        self.root = tmp_path / "root"
        (self.root / "sys/class/net/wlan0/wireless").mkdir(parents=True)
        self.iw: str | None = None
        self.clock = Clock()
        self.state = CountingStore(tmp_path / "state" / "state")
        self.config = AgentConfig(state_dir=tmp_path / "state", privacy=privacy or PrivacyConfig())
        self.sampler = self.restart()

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult:
        if tuple(argv) == IW and self.iw is not None:
            return CommandResult(0, self.iw)
        raise NoData(f"{argv[0]} is not installed")

    def restart(self) -> WifiSampler:
        host = Host(root=self.root, run=self.run)
        self.sampler = WifiSampler(Context(host, self.config, self.state, self.clock))
        return self.sampler

    def link(self, bssid: str, ssid: str = "Corp", signal: int = -58) -> None:
        self.iw = (
            f"Connected to {bssid} (on wlan0)\n\tSSID: {ssid}\n\tfreq: 5180\n"
            f"\tsignal: {signal} dBm\n"
            "\ttx bitrate: 866.7 MBit/s VHT-MCS 9 80MHz short GI VHT-NSS 2\n"
        )

    def down(self) -> None:
        self.iw = "Not connected.\n"

    def poll(self, seconds: float = 60) -> tuple[list[WifiSample], list[WifiEventSample]]:
        self.clock.tick(seconds)
        samples: list[SampleBase] = self.sampler.collect()
        readings = [s for s in samples if isinstance(s, WifiSample)]
        events = [s for s in samples if isinstance(s, WifiEventSample)]
        assert len(readings) + len(events) == len(samples)
        for sample in samples:  # what is emitted is valid on the wire
            type(sample).model_validate_json(sample.model_dump_json())
        return readings, events

    def state_text(self) -> str:
        return (self.tmp_path / "state" / "state" / "wifi.json").read_text(encoding="utf-8")


def kinds(events: list[WifiEventSample]) -> list[str]:
    return [e.event for e in events]


def test_registered_with_a_60s_default() -> None:
    assert REGISTRY["wifi"] is WifiSampler
    assert AgentConfig().samplers.wifi.interval_s == 60


def test_reading_and_no_event_on_the_first_poll(tmp_path: Path) -> None:
    laptop = Laptop(tmp_path)
    laptop.link(AP1, signal=-63)
    (reading,), events = laptop.poll()
    assert events == []  # starting up is not connecting
    assert (reading.interface, reading.connected, reading.ssid, reading.bssid) == (
        "wlan0",
        True,
        "Corp",
        AP1,
    )
    assert (reading.rssi_dbm, reading.channel, reading.band_ghz) == (-63, 36, 5.0)
    assert (reading.tx_rate_mbps, reading.radio_type) == (866.7, "802.11ac")
    assert reading.ts == laptop.clock.now


def test_roam_disconnect_and_connect(tmp_path: Path) -> None:
    laptop = Laptop(tmp_path)
    laptop.link(AP1)
    laptop.poll()
    laptop.link(AP2)
    _, events = laptop.poll()
    (roam,) = events
    assert (roam.event, roam.interface, roam.ssid, roam.bssid, roam.previous_bssid) == (
        "roamed",
        "wlan0",
        "Corp",
        AP2,
        AP1,
    )
    assert roam.ts == laptop.clock.now
    assert laptop.poll()[1] == []  # still on AP2: nothing new

    laptop.down()
    (reading,), events = laptop.poll()
    assert reading.connected is False
    (gone,) = events
    assert (gone.event, gone.ssid, gone.bssid, gone.previous_bssid) == (
        "disconnected",
        "Corp",
        AP2,
        None,
    )
    assert laptop.poll()[1] == []  # still down: no second disconnect

    laptop.link(AP1)
    _, events = laptop.poll()
    (back,) = events
    assert (back.event, back.ssid, back.bssid) == ("connected", "Corp", AP1)


def test_another_network_is_a_disconnect_and_a_connect(tmp_path: Path) -> None:
    laptop = Laptop(tmp_path)
    laptop.link(AP1, ssid="Corp")
    laptop.poll()
    laptop.link(AP3, ssid="Guest")
    _, events = laptop.poll()
    assert [(e.event, e.ssid, e.bssid) for e in events] == [
        ("disconnected", "Corp", AP1),
        ("connected", "Guest", AP3),
    ]


def test_changes_are_seen_across_a_restart(tmp_path: Path) -> None:
    laptop = Laptop(tmp_path)
    laptop.link(AP1)
    laptop.poll()
    laptop.restart()
    laptop.link(AP2)
    _, events = laptop.poll(90)  # a restart's downtime
    assert [(e.event, e.bssid, e.previous_bssid) for e in events] == [("roamed", AP2, AP1)]
    laptop.restart()
    laptop.down()
    _, events = laptop.poll()
    assert [(e.event, e.bssid) for e in events] == [("disconnected", AP2)]


def test_no_events_after_a_long_gap(tmp_path: Path) -> None:
    laptop = Laptop(tmp_path)
    laptop.link(AP1)
    laptop.poll()
    laptop.down()
    assert laptop.poll(301)[1] == []  # suspended for five minutes: unknown meanwhile
    laptop.link(AP2)
    assert laptop.poll(400)[1] == []
    laptop.restart()
    laptop.down()
    assert laptop.poll(3600)[1] == []  # off for an hour, restarted
    laptop.link(AP1)
    assert kinds(laptop.poll()[1]) == ["connected"]  # normal cadence again


def test_clock_going_back_gives_no_events(tmp_path: Path) -> None:
    laptop = Laptop(tmp_path)
    laptop.link(AP1)
    laptop.poll()
    laptop.link(AP2)
    assert laptop.poll(-120)[1] == []


def test_state_is_written_only_on_change_or_to_stay_fresh(tmp_path: Path) -> None:
    laptop = Laptop(tmp_path)
    laptop.link(AP1)
    laptop.poll()
    assert laptop.state.saves == 1
    laptop.link(AP1, signal=-70)  # a new signal is not a new state
    laptop.poll()
    laptop.poll()
    assert laptop.state.saves == 1
    laptop.poll(120)  # 240 s since the write: refreshed (half the 300 s window)
    assert laptop.state.saves == 2
    laptop.link(AP2)
    laptop.poll()
    assert laptop.state.saves == 3


def test_hashed_identifiers_on_the_wire_and_on_disk(tmp_path: Path) -> None:
    privacy = PrivacyConfig(ssid="hashed", bssid="hashed", hash_key="k")
    laptop = Laptop(tmp_path, privacy)
    laptop.link(AP1, ssid="SSID-1")
    (reading,), _ = laptop.poll()
    # HMAC-SHA256(b"k", b"SSID-1"), first 16 hex digits: a fixed vector
    assert reading.ssid == "h:0b747ea160b82b3d"
    expected = hmac.new(b"k", AP1.encode(), hashlib.sha256).hexdigest()[:16]
    assert reading.bssid == "h:" + expected == hash_identifier(AP1, b"k")
    laptop.link(AP2, ssid="SSID-1")
    _, (roam,) = laptop.poll()
    assert (roam.event, roam.ssid) == ("roamed", "h:0b747ea160b82b3d")
    assert (roam.bssid, roam.previous_bssid) == (
        hash_identifier(AP2, b"k"),
        hash_identifier(AP1, b"k"),
    )
    text = laptop.state_text()
    assert "SSID-1" not in text and "fe:dc" not in text
    assert hash_identifier(AP2, b"k") in text
    laptop.restart()  # the stored hashes still detect a roam
    laptop.link(AP1, ssid="SSID-1")
    _, (roam,) = laptop.poll()
    assert (roam.event, roam.previous_bssid) == ("roamed", hash_identifier(AP2, b"k"))


def test_same_key_same_hash_on_every_device(tmp_path: Path) -> None:
    privacy = PrivacyConfig(ssid="hashed", bssid="clear", hash_key="fleet")
    one = Laptop(tmp_path / "one", privacy)
    two = Laptop(tmp_path / "two", privacy)
    for laptop in (one, two):
        laptop.link(AP1, ssid="Corp")
    ((a,), _), ((b,), _) = one.poll(), two.poll()
    assert a.ssid == b.ssid == hash_identifier("Corp", b"fleet")
    assert a.bssid == b.bssid == AP1


def test_omitted_identifiers_never_reach_the_disk(tmp_path: Path) -> None:
    privacy = PrivacyConfig(ssid="omitted", bssid="omitted")
    laptop = Laptop(tmp_path, privacy)
    laptop.link(AP1, ssid="Corp")
    (reading,), _ = laptop.poll()
    assert (reading.connected, reading.ssid, reading.bssid, reading.rssi_dbm) == (
        True,
        None,
        None,
        -58,
    )
    laptop.link(AP2, ssid="Corp")
    _, (roam,) = laptop.poll()  # compared in memory, in the clear
    assert (roam.event, roam.ssid, roam.bssid, roam.previous_bssid) == ("roamed", None, None, None)
    text = laptop.state_text()
    assert "Corp" not in text and "fe:dc" not in text
    laptop.restart()
    laptop.link(AP1, ssid="Corp")
    assert laptop.poll()[1] == []  # nothing stored to compare a roam with after a restart
    laptop.restart()
    laptop.down()
    assert kinds(laptop.poll()[1]) == ["disconnected"]  # connection state is still kept


def test_hashed_without_key_omits_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="dexpulse.agent.samplers.wifi")
    laptop = Laptop(tmp_path, PrivacyConfig(ssid="hashed", bssid="clear"))
    laptop.link(AP1, ssid="Corp")
    (reading,), _ = laptop.poll()
    laptop.poll()
    assert (reading.ssid, reading.bssid) == (None, AP1)
    assert "Corp" not in laptop.state_text()
    warnings = [r for r in caplog.records if "hash_key" in r.getMessage()]
    assert len(warnings) == 1
    assert "privacy.ssid" in warnings[0].getMessage()


def test_changed_privacy_settings_void_stored_identifiers(tmp_path: Path) -> None:
    laptop = Laptop(tmp_path)  # clear
    laptop.link(AP1)
    laptop.poll()
    laptop.config = AgentConfig(
        state_dir=tmp_path / "state",
        privacy=PrivacyConfig(ssid="hashed", bssid="hashed", hash_key="k"),
    )
    laptop.restart()
    assert laptop.poll()[1] == []  # the clear AP1 on disk is not compared with a hash
    laptop.down()
    (gone,) = laptop.poll()[1]
    assert (gone.event, gone.bssid) == ("disconnected", hash_identifier(AP1, b"k"))


def test_removed_interface_is_a_disconnect_then_no_data(tmp_path: Path) -> None:
    laptop = Laptop(tmp_path)
    laptop.link(AP1)
    laptop.poll()
    (laptop.root / "sys/class/net/wlan0/wireless").rmdir()
    readings, (gone,) = laptop.poll()
    assert readings == []
    assert (gone.event, gone.interface, gone.bssid, gone.reason) == (
        "disconnected",
        "wlan0",
        AP1,
        "interface removed",
    )
    with pytest.raises(NoData):
        laptop.poll()


def test_no_wireless_interface_is_no_data(tmp_path: Path) -> None:
    laptop = Laptop(tmp_path)
    (laptop.root / "sys/class/net/wlan0/wireless").rmdir()
    with pytest.raises(NoData):
        laptop.poll()


def test_unknown_state_is_not_emitted_and_keeps_the_last_known(tmp_path: Path) -> None:
    laptop = Laptop(tmp_path)
    laptop.link(AP1)
    laptop.poll()
    laptop.iw = None  # iw gone, no nmcli, no /proc line, no operstate: nothing known
    assert laptop.poll() == ([], [])
    laptop.link(AP2)
    assert kinds(laptop.poll()[1]) == ["roamed"]


def test_corrupt_state_is_ignored(tmp_path: Path) -> None:
    laptop = Laptop(tmp_path)
    laptop.state.save(
        "wifi",
        {
            "v": 1,
            "ts": "not a time",
            "privacy": "x",
            "interfaces": {"wlan0": {"connected": "yes"}, "wlan1": []},
        },
    )
    laptop.link(AP1)
    assert laptop.poll()[1] == []
    laptop.state.save("wifi", {"v": 1, "ts": START.isoformat(), "interfaces": ["wlan0"]})
    laptop.restart()
    assert laptop.poll()[1] == []
