"""The collector snapshots its featurizer and detector with pickle between job runs: a copy
restored from a snapshot must go on exactly as the original would have, and the caches the
two keep for speed stay out of the snapshot."""

from __future__ import annotations

import pickle

from fleet import Fleet, Injection, make_fleet, minute_of, outages

from dexpulse.collector.detection.engine import Detector
from dexpulse.collector.detection.features import Featurizer

WARM = 120
ONSET = WARM + 5


def feed(detector: Detector, fleet: Fleet, start: int, end: int, cut: str | None = None) -> None:
    """Minutes ``start`` to ``end`` of ``fleet``; the devices of site ``cut`` stop uploading
    from ``ONSET`` on (the silence signal)."""
    for m in range(start, end):
        detector.add(minute_of(m), fleet.units(m))
        for device in fleet.devices:
            if device.site != cut or m < ONSET:
                place = (("site", device.site), ("ssid", device.ssid), ("bssid", device.bssid))
                detector.arrived(device.id, place, minute_of(m))
        detector.advance(minute_of(m + 1))


def test_a_restored_detector_finds_the_same_outages_as_the_original() -> None:
    fleet = make_fleet()
    original = Detector()
    feed(original, fleet, 0, WARM)
    restored = pickle.loads(pickle.dumps(original, protocol=pickle.HIGHEST_PROTOCOL))
    assert not restored.buffer.index.links  # a cache, rebuilt on demand, not state

    dead_ap = Injection("wifi", ONSET, ONSET + 15, lambda d, u: d.bssid == "64:d1:54:00:00:02")
    fleet.injections.append(dead_ap)
    for detector in (original, restored):
        feed(detector, fleet, WARM, ONSET + 40, cut="site-2")
    found = outages(restored)
    assert {o["signal"] for o in found} == {"wifi", "silence"}
    assert found == outages(original)
    assert pickle.dumps(restored.outages) == pickle.dumps(original.outages)


DEVICE = "3f2c5b1e-0000-4000-8000-000000000001"


def test_a_snapshot_from_before_the_caches_resumes() -> None:
    fleet = make_fleet()
    detector, featurizer = Detector(), Featurizer()
    feed(detector, fleet, 0, 5)
    del detector.buffer.index, featurizer.known, featurizer.quiet  # as the older code had it
    restored, restored_featurizer = pickle.loads(pickle.dumps((detector, featurizer)))
    feed(restored, fleet, 5, 10)
    assert restored_featurizer.units(batch({"kind": "system", "ts": "2026-11-30T09:00:00+00:00"}))


def batch(*samples: dict[str, object]) -> dict[str, object]:
    return {
        "device_id": DEVICE,
        "agent": {"model": "Latitude 7440", "os_build": "22631.4460"},
        "tags": {"site": "brussels-hq"},
        "samples": list(samples),
    }


def test_a_restored_featurizer_remembers_each_device() -> None:
    inventory: dict[str, object] = {
        "kind": "inventory", "ts": "2026-11-30T09:00:00+00:00",
        "apps": [{"name": "Teams.exe", "version": "24.2.0"}],
        "peripherals": [{"vendor_id": "17ef", "product_id": "a387", "driver": "rtux64w10",
                         "driver_version": "10.61"}],
    }  # fmt: skip
    wifi: dict[str, object] = {
        "kind": "wifi", "ts": "2026-11-30T09:00:01+00:00", "connected": True, "ssid": "corp",
        "bssid": "64:d1:54:68:93:ae", "rssi_dbm": -55.0,
    }  # fmt: skip
    original = Featurizer()
    original.units(batch(inventory, wifi, {"kind": "system", "ts": "2026-11-30T09:00:02+00:00"}))
    restored = pickle.loads(pickle.dumps(original))
    assert not restored.known and not restored.quiet

    later = batch(
        {"kind": "system", "ts": "2026-11-30T09:01:00+00:00", "cpu_percent": 12.0},
        {"kind": "app_crash", "ts": "2026-11-30T09:02:00+00:00", "app_name": "Teams.exe",
         "app_version": "24.2.0"},
        {"kind": "system", "ts": "2026-11-30T09:03:00+00:00", "cpu_percent": 12.0},
    )  # fmt: skip
    units = restored.units(later)
    assert units == original.units(later)
    # awake: system, Teams exposed to crashes and hangs, the dock; in between, the crash alone
    assert [len(u) for u in units.values()] == [4, 1, 4]
    assert restored.place(DEVICE) == original.place(DEVICE)
