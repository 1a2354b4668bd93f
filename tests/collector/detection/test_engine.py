"""The detection core on small hand-made fleets: every scenario type detected within minutes
and blamed on the right cohort; a quiet fleet stays quiet; one crash-looping laptop is not an
outage; late data lands in its own minute; the lifecycle closes and reopens outages."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
from fleet import Device, Fleet, Injection, make_fleet, minute_of, outages, run

from dexpulse.collector.detection.engine import Detector, to_minute
from dexpulse.collector.detection.units import Unit

WARM = 120  # minutes of quiet history before anything is injected
ONSET = WARM + 10


@pytest.fixture(scope="module")
def warmed() -> tuple[Fleet, Detector]:
    fleet = make_fleet()
    return fleet, run(fleet, WARM)


def carry_on(fleet: Fleet, detector: Detector, until: int) -> Detector:
    for m in range(WARM, until):
        detector.add(minute_of(m), fleet.units(m))
        detector.advance(minute_of(m + 1))
    return detector


def scenario(
    warmed: tuple[Fleet, Detector], injection: Injection, until: int = ONSET + 45
) -> list[dict[str, object]]:
    base_fleet, base = warmed
    fleet = copy.deepcopy(base_fleet)
    fleet.injections.append(injection)
    return outages(carry_on(fleet, copy.deepcopy(base), until))


def dims(unit: Unit) -> dict[str, str]:
    return dict(unit.dims)


Who = Callable[[Device, Unit], bool]
CASES: list[tuple[str, str, Who, float, dict[str, str]]] = [
    ("access point dies", "wifi", lambda d, u: d.bssid == "64:d1:54:01:00:02", 0.9,
     {"bssid": "64:d1:54:01:00:02"}),
    ("site WAN degraded", "network_probe", lambda d, u: d.site == "site-2", 0.8,
     {"site": "site-2"}),
    ("SaaS endpoint down everywhere", "network_probe",
     lambda d, u: dims(u)["probe_target"] == "login.example.com", 0.9,
     {"probe_target": "login.example.com"}),
    ("bad app version", "app_crash",
     lambda d, u: dims(u)["app_name"] == "Teams.exe" and dims(u)["app_version"] == "24.2.0", 0.5,
     {"app_name": "Teams.exe", "app_version": "24.2.0"}),
    ("bad dock driver", "peripheral_failure", lambda d, u: d.peripheral[0] == "dock-a", 0.5,
     {"driver": "rtux64w10", "driver_version": "10.61"}),
    ("bad version of a display adapter's own driver (its other version works)",
     "peripheral_failure", lambda d, u: d.peripheral[2] == "11.6", 0.6,
     {"driver": "dlidusb", "driver_version": "11.6"}),
    ("OS build regression", "system", lambda d, u: d.os_build == "26100.2314", 0.6,
     {"os_build": "26100.2314"}),
    ("partial Wi-Fi degradation at a site", "wifi", lambda d, u: d.site == "site-0", 0.3,
     {"site": "site-0"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "signal", "who", "share", "cohort"), CASES, ids=[c[0] for c in CASES]
)
def test_each_scenario_is_detected_fast_and_localized(
    warmed: tuple[Fleet, Detector],
    name: str,
    signal: str,
    who: Who,
    share: float,
    cohort: dict[str, str],
) -> None:
    found = scenario(warmed, Injection(signal, ONSET, ONSET + 20, who, share))
    assert len(found) == 1, found
    [outage] = found
    assert (outage["signal"], outage["cohort"]) == (signal, cohort)
    onset = minute_of(ONSET).isoformat()
    assert outage["started_at"] == onset  # the onset, not the alarm time
    delay = to_minute_iso(str(outage["detected_at"])) - ONSET
    assert delay <= 5, f"{name}: detected {delay} min after onset"
    assert outage["status"] == "recovering" or outage["status"] == "resolved"
    assert isinstance(outage["affected_devices"], int) and outage["affected_devices"] >= 3


def to_minute_iso(text: str) -> int:
    from datetime import datetime

    return to_minute(datetime.fromisoformat(text)) - to_minute(minute_of(0))


def test_a_quiet_fleet_stays_quiet_for_a_working_day(warmed: tuple[Fleet, Detector]) -> None:
    fleet, base = warmed
    detector = carry_on(copy.deepcopy(fleet), copy.deepcopy(base), WARM + 8 * 60)
    assert outages(detector) == []


def test_one_crash_looping_laptop_is_not_an_outage(warmed: tuple[Fleet, Detector]) -> None:
    looping = warmed[0].devices[7].id
    found = scenario(
        warmed, Injection("app_crash", ONSET, ONSET + 30, lambda d, u: d.id == looping, 1.0)
    )
    assert found == []


def test_outages_resolve_and_reopen_within_half_an_hour(warmed: tuple[Fleet, Detector]) -> None:
    fleet, base = copy.deepcopy(warmed[0]), copy.deepcopy(warmed[1])
    ap = lambda d, u: d.bssid == "64:d1:54:00:00:01"  # noqa: E731
    fleet.injections.append(Injection("wifi", ONSET, ONSET + 10, ap, 1.0))
    detector = carry_on(fleet, base, ONSET + 40)
    [first] = outages(detector)
    assert first["status"] == "resolved"
    assert first["resolved_at"] == minute_of(ONSET + 10).isoformat()  # the first quiet minute
    fleet.injections.append(Injection("wifi", ONSET + 45, ONSET + 55, ap, 1.0))
    for m in range(ONSET + 40, ONSET + 50):
        detector.add(minute_of(m), fleet.units(m))
        detector.advance(minute_of(m + 1))
    [again] = outages(detector)  # reopened, not a second outage
    assert again["id"] == first["id"] and again["status"] in ("open", "ongoing")
    assert again["resolved_at"] is None


def test_a_late_batch_lands_in_its_own_minute() -> None:
    detector = Detector()
    t0 = minute_of(0)
    on_time = [Unit(f"d{i}", "wifi", (("site", "a"),), False) for i in range(10)]
    detector.add(t0, on_time)
    detector.advance(minute_of(1))
    late = [Unit("d10", "wifi", (("site", "a"),), True)]
    assert detector.add(t0, late) == 1  # arrives a minute later, for minute 0
    counts = detector.buffer.at(to_minute(t0))[("wifi", (("site", "a"),))]
    assert (len(counts.failing), len(counts.exposed)) == (1, 11)
    detector.advance(minute_of(200))  # minute 0 has left the buffer
    assert detector.add(t0, late) == 0 and detector.buffer.dropped == 1


def test_replaying_the_same_units_gives_the_same_outages(warmed: tuple[Fleet, Detector]) -> None:
    injection = Injection("wifi", ONSET, ONSET + 20, lambda d, u: d.site == "site-1", 0.9)
    assert scenario(warmed, injection) == scenario(warmed, injection)


def test_devices_that_stop_reporting_together_are_an_outage() -> None:
    """A site whose WAN is cut cannot upload: its devices fall silent in the same minute while
    the rest of the fleet reports on; they are back (late batches) when it recovers."""
    detector = Detector()
    place = {
        f"d{s}{i}": (("site", f"site-{s}"), ("ssid", "corp")) for s in range(3) for i in range(20)
    }
    cut_from, cut_to = 90, 110
    for m in range(150):
        now = minute_of(m)
        for device, dims in place.items():
            if dims[0][1] == "site-1" and cut_from <= m < cut_to:
                continue  # nothing gets out
            detector.arrived(device, dims, now)
        detector.advance(minute_of(m + 1))
    [outage] = outages(detector)
    assert (outage["signal"], outage["cohort"]) == ("silence", {"site": "site-1"})
    assert to_minute_iso(str(outage["detected_at"])) - cut_from <= 5
    assert outage["affected_devices"] == 20
    assert outage["status"] == "resolved"  # the devices came back


def test_a_small_dead_access_point_is_found_when_its_site_is_no_outage() -> None:
    """Four laptops at one access point fall silent together while three others at the same
    site leave. The site is the broadest explanation of the seven, but seven of sixty is no
    site outage; the access point alarmed on its own and is reported."""
    detector = Detector()
    place: dict[str, tuple[tuple[str, str], ...]] = {}
    for s in range(3):
        for i in range(60 if s == 1 else 20):
            ap = "ap-dead" if s == 1 and i < 4 else f"ap-{s}-{i % 4}"
            place[f"d{s}-{i}"] = (("site", f"site-{s}"), ("ssid", "corp"), ("bssid", ap))
    leaving = {"d1-10", "d1-20", "d1-30"}
    cut = 90
    for m in range(110):
        now = minute_of(m)
        for device, dims in place.items():
            if m >= cut and (dims[2][1] == "ap-dead" or device in leaving):
                continue
            detector.arrived(device, dims, now)
        detector.advance(minute_of(m + 1))
    [outage] = outages(detector)
    assert (outage["signal"], outage["cohort"]) == ("silence", {"bssid": "ap-dead"})
    assert outage["affected_devices"] == 4
    assert to_minute_iso(str(outage["detected_at"])) - cut <= 5
