"""Wire-format batches to detection units: exposure from the device's context, failures from
its samples."""

from __future__ import annotations

from datetime import UTC, datetime

from dexpulse.collector.detection.features import Featurizer
from dexpulse.collector.detection.units import Unit

T = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DEVICE = "3f2c5b1e-0000-4000-8000-000000000001"


def batch(*samples: dict[str, object], site: str = "brussels-hq") -> dict[str, object]:
    return {
        "device_id": DEVICE,
        "agent": {"version": "0.1.0", "os": "windows", "model": "Latitude 7440",
                  "os_build": "22631.4460"},
        "tags": {"site": site},
        "samples": list(samples),
    }  # fmt: skip


def at(second: int) -> str:
    return datetime(2026, 11, 30, 9, 0, second, tzinfo=UTC).isoformat()


INVENTORY = {
    "kind": "inventory", "ts": at(0), "reason": "start",
    "apps": [{"name": "Teams.exe", "version": "24.2.0", "running": True},
             {"name": "chrome.exe", "version": "131.0", "running": True}],
    "peripherals": [{"device_class": "usb", "name": "Dock", "vendor_id": "17ef",
                     "product_id": "a387", "driver": "rtux64w10", "driver_version": "10.61"}],
}  # fmt: skip


def by_signal(units: list[Unit]) -> dict[str, list[Unit]]:
    out: dict[str, list[Unit]] = {}
    for unit in units:
        out.setdefault(unit.signal, []).append(unit)
    return out


def test_a_minute_of_a_healthy_laptop() -> None:
    units = Featurizer().units(batch(
        INVENTORY,
        {"kind": "system", "ts": at(1), "cpu_percent": 12.0},
        {"kind": "wifi", "ts": at(2), "connected": True, "ssid": "corp",
         "bssid": "64:d1:54:68:93:ae", "rssi_dbm": -55.0},
        {"kind": "network_probe", "ts": at(3), "target": "login.example.com", "status": "ok"},
    ))  # fmt: skip
    [(minute, found)] = units.items()
    assert minute == T
    signals = by_signal(found)
    assert not any(u.failing for u in found)
    [wifi] = signals["wifi"]
    assert dict(wifi.dims) == {"site": "brussels-hq", "ssid": "corp", "bssid": "64:d1:54:68:93:ae",
                               "model": "Latitude 7440", "os_build": "22631.4460"}  # fmt: skip
    assert {dict(u.dims)["app_name"] for u in signals["app_crash"]} == {"Teams.exe", "chrome.exe"}
    [dock] = signals["peripheral_failure"]
    assert dict(dock.dims)["peripheral"] == "17ef:a387"
    assert dict(signals["network_probe"][0].dims)["probe_target"] == "login.example.com"


def test_failures_mark_the_exposure_they_belong_to() -> None:
    featurizer = Featurizer()
    featurizer.units(batch(INVENTORY))
    units = featurizer.units(batch(
        {"kind": "system", "ts": at(10), "cpu_percent": 97.0},
        {"kind": "app_crash", "ts": at(11), "app_name": "Teams.exe", "app_version": "24.2.0"},
        {"kind": "peripheral_failure", "ts": at(12), "device_class": "usb",
         "vendor_id": "17ef", "product_id": "a387", "error": "problem code 43"},
        {"kind": "network_probe", "ts": at(13), "target": "login.example.com",
         "status": "dns_error"},
    ))  # fmt: skip
    signals = by_signal(units[T])
    assert [u.failing for u in signals["system"]] == [True]
    crashes = {dict(u.dims)["app_name"]: u.failing for u in signals["app_crash"]}
    assert crashes == {"Teams.exe": True, "chrome.exe": False}
    assert [u.failing for u in signals["peripheral_failure"]] == [True]
    assert [u.failing for u in signals["network_probe"]] == [True]


def test_a_disconnected_laptop_counts_at_its_last_access_point() -> None:
    featurizer = Featurizer()
    featurizer.units(batch({"kind": "wifi", "ts": at(0), "connected": True, "ssid": "corp",
                            "bssid": "64:d1:54:68:93:ae", "rssi_dbm": -60.0}))  # fmt: skip
    later = featurizer.units(batch(
        {"kind": "wifi", "ts": "2026-11-30T09:05:00+00:00", "connected": False},
        {"kind": "wifi_event", "ts": "2026-11-30T09:05:10+00:00", "event": "disconnected"},
    ))  # fmt: skip
    [units] = later.values()
    assert all(u.failing and dict(u.dims)["bssid"] == "64:d1:54:68:93:ae" for u in units)


def test_units_land_in_the_minute_of_their_sample_not_of_the_batch() -> None:
    units = Featurizer().units(batch(
        {"kind": "system", "ts": "2026-11-30T08:40:30+00:00", "cpu_percent": 5.0},
        {"kind": "system", "ts": "2026-11-30T09:00:30+00:00", "cpu_percent": 5.0},
    ))  # fmt: skip
    assert [m.isoformat() for m in units] == ["2026-11-30T08:40:00+00:00",
                                              "2026-11-30T09:00:00+00:00"]  # fmt: skip


def test_quiet_minutes_expose_what_the_latest_inventory_lists() -> None:
    featurizer = Featurizer()
    system = {"kind": "system", "ts": at(30), "cpu_percent": 5.0}

    def apps(units: dict[datetime, list[Unit]]) -> set[str]:
        [found] = units.values()
        return {dict(u.dims)["app_name"] for u in found if u.signal == "app_crash"}

    assert apps(featurizer.units(batch(INVENTORY, system))) == {"Teams.exe", "chrome.exe"}
    assert apps(featurizer.units(batch(system))) == {"Teams.exe", "chrome.exe"}
    update = {**INVENTORY, "apps": [{"name": "Teams.exe", "version": "24.3.0"}]}
    assert apps(featurizer.units(batch(update, system))) == {"Teams.exe"}
    [units] = featurizer.units(batch(system, site="antwerp")).values()
    assert {dict(u.dims)["site"] for u in units if u.signal == "app_crash"} == {"antwerp"}
