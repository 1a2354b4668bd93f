"""Baseline behaviour: office hours, nights, weekends, homes, roams, inventories, noise."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from statistics import mean
from zoneinfo import ZoneInfo

from simrun import Run, ms, simulate

from dexpulse.collector.simulator import catalog
from dexpulse.collector.simulator.fleet import build_fleet


def local_hour(run: Run, site: str, ts: str) -> float:
    zone = next(s["time_zone"] for s in run.truth["sites"] if s["name"] == site)
    local = datetime.fromisoformat(ts).astimezone(ZoneInfo(zone))
    return local.hour + local.minute / 60


def test_laptops_sleep_at_night(quiet_run: Run) -> None:
    always_on = {d.device_id for d in quiet_run.sim.fleet.devices if d.always_on}
    by_hour: Counter[int] = Counter()
    for b, s in quiet_run.samples("system"):
        if b["device_id"] not in always_on:
            by_hour[int(local_hour(quiet_run, b["tags"]["site"], s["ts"]))] += 1
    night = sum(by_hour[h] for h in range(0, 5))
    day = sum(by_hour[h] for h in range(9, 17))
    assert night == 0 and day > 0
    assert sum(by_hour[h] for h in (22, 23)) < 0.01 * day
    # The morning ramps up: fewer laptops awake at 07:00 than at 10:00.
    assert by_hour[7] < 0.5 * by_hour[10]


def test_a_few_laptops_never_sleep() -> None:
    fleet = build_fleet(random.Random(3), 3000, 6)
    share = sum(d.always_on for d in fleet.devices) / 3000
    assert 0.02 < share < 0.04
    run = simulate(devices=6, sites=2, seed=2, always_on=True, duration=timedelta(days=1),
                   start=datetime(2026, 11, 28, tzinfo=UTC))  # fmt: skip
    minutes = Counter(b["device_id"] for b, _ in run.samples("system"))
    assert len(minutes) == 6
    for count in minutes.values():  # every minute, but the last one or two not yet uploaded
        assert 24 * 60 - 2 <= count <= 24 * 60


def test_weekends_are_nearly_silent() -> None:
    run = simulate(
        devices=120, sites=3, seed=8, start=datetime(2026, 11, 28, tzinfo=UTC),
        duration=timedelta(days=2),
    )  # fmt: skip
    seen = {b["device_id"] for b in run.batches}
    always_on = {d.device_id for d in run.sim.fleet.devices if d.always_on}
    assert len(seen - always_on) < 0.2 * 120
    home = [s for b, s in run.samples("wifi") if b["device_id"] not in always_on]
    assert all(s["ssid"] not in (catalog.CORP_SSID, catalog.GUEST_SSID) for s in home)


def test_people_roam_between_access_points_of_their_site(quiet_run: Run) -> None:
    site_bssids = {s["name"]: set(s["bssids"]) for s in quiet_run.truth["sites"]}
    roams = [(b, s) for b, s in quiet_run.samples("wifi_event") if s["event"] == "roamed"]
    assert len(roams) > 100  # meetings and short roams, over a day and a half
    for b, s in roams:
        ours = site_bssids[b["tags"]["site"]]
        assert s["bssid"] in ours and s["previous_bssid"] in ours
        assert s["bssid"] != s["previous_bssid"]
        assert s["ssid"] == quiet_run.sim.fleet.devices[quiet_run.index_of(b["device_id"])].ssid
    # A roam shows in the polls: the Wi-Fi sample after it names the new access point.
    roamers = {b["device_id"] for b, _ in roams}
    per_device = defaultdict(set)
    for b, s in quiet_run.samples("wifi"):
        if b["device_id"] in roamers and s.get("bssid") in site_bssids[b["tags"]["site"]]:
            per_device[b["device_id"]].add(s["bssid"])
    assert mean(len(v) for v in per_device.values()) >= 2


def test_some_days_are_spent_at_home_with_the_site_tag_unchanged(quiet_run: Run) -> None:
    office = set().union(*(set(s["bssids"]) for s in quiet_run.truth["sites"]))
    homes: dict[str, set[str]] = defaultdict(set)
    at_office: set[str] = set()
    for b, s in quiet_run.samples("wifi"):
        if s.get("bssid") in office:
            at_office.add(b["device_id"])
        elif s["connected"]:
            homes[b["device_id"]].add(s["bssid"])
            assert s["security"] == "WPA2-Personal"
            assert b["tags"]["site"] in {x["name"] for x in quiet_run.truth["sites"]}
    assert len(homes) > 0.2 * len(quiet_run.sim.fleet.devices)
    assert all(len(bssids) == 1 for bssids in homes.values())  # one home router each
    assert len(at_office & set(homes)) > 0  # office one day, home the other


def test_inventory_at_first_wake_and_daily(quiet_run: Run) -> None:
    reasons: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for b, s in quiet_run.samples("inventory"):
        reasons[b["device_id"]].append((s["ts"], s["reason"]))
    for items in reasons.values():
        items.sort()
        assert items[0][1] == "start" and all(r == "daily" for _, r in items[1:])
        gaps = [ms(b) - ms(a) for (a, _), (b, _) in zip(items, items[1:], strict=False)]
        assert all(g >= 23.5 * 3600_000 for g in gaps)
    assert sum(len(v) > 1 for v in reasons.values()) > 0.5 * len(reasons)
    # The inventory lists what the device runs: every crash's app version is in it.
    listed = {
        b["device_id"]: {(a["name"], a["version"]) for a in s["apps"]}
        for b, s in quiet_run.samples("inventory")
    }
    for b, s in quiet_run.samples("app_crash"):
        assert (s["app_name"], s["app_version"]) in listed[b["device_id"]]


def dispersion(counts: list[tuple[int, int]]) -> float:
    """Observed variance of per-cell counts over the binomial variance with a pooled rate."""
    p = sum(x for x, _ in counts) / sum(n for _, n in counts)
    observed = sum((x - n * p) ** 2 for x, n in counts)
    expected = sum(n * p * (1 - p) for _, n in counts)
    return observed / expected


def test_baseline_failures_are_overdispersed_across_shared_cohorts(quiet_run: Run) -> None:
    """Devices at one site fail together more often than independent coin flips would: the
    per-(site, 5 min) counts of devices with a failed probe vary more than binomial counts."""
    exposed: dict[tuple[str, int], set[str]] = defaultdict(set)
    failing: dict[tuple[str, int], set[str]] = defaultdict(set)
    office = {bssid for s in quiet_run.truth["sites"] for bssid in s["bssids"]}
    for b, s in quiet_run.samples():
        cell = (b["tags"]["site"], ms(s["ts"]) // (5 * 60_000))
        if s["kind"] == "wifi" and s.get("bssid") in office:
            exposed[cell].add(b["device_id"])
        elif s["kind"] == "network_probe" and s["status"] != "ok":
            failing[cell].add(b["device_id"])
    counts = [(len(failing[c] & exposed[c]), len(exposed[c])) for c in exposed]
    counts = [(x, n) for x, n in counts if n >= 10]
    assert len(counts) > 300
    assert dispersion(counts) > 1.3
    # The same failures shuffled over the same device-windows: binomial (~1 +- 0.06).
    rng = random.Random(1)
    flat = [1] * sum(x for x, _ in counts) + [0] * sum(n - x for x, n in counts)
    rng.shuffle(flat)
    shuffled, at = [], 0
    for _, n in counts:
        shuffled.append((sum(flat[at : at + n]), n))
        at += n
    assert dispersion(shuffled) < 1.2
