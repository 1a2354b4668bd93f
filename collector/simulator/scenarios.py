"""Outage scenarios: what can be injected, how it is written on the command line, and where and
when a scenario lands when the command line leaves it to the seed.

Why injected outages: the detector's figures (recall, delay, localisation) are only meaningful
against a known truth. Each scenario has a type, a target cohort (the true cause), a start, a
duration, an intensity (the share of the cohort's devices affected) and an optional ramp
(the affected share grows linearly from 0 to the intensity over the ramp; for
``wifi_degradation`` the share is fixed and the *severity* ramps, default ramp half the
duration). Scenarios may overlap. The effect of each type on a device is in :mod:`.effects`.

Syntax: ``TYPE[:key=value,...]`` with keys ``at`` (offset from the start such as ``30m``, or
an ISO time), ``duration``, ``intensity``, ``ramp``, ``target`` and per-type options:

========================  ======================  ===========================================
type                      target                  options (defaults)
========================  ======================  ===========================================
ap_failure                BSSID                   roam=0.5 (share who find another AP)
site_wan_degradation      site                    latency=6 (x), fail=0.25, cut=false
site_dns_failure          site                    fail=0.9
saas_outage               probe target            fail=0.95, mode=http_error|timeout
bad_app_version           app@version             rate=0.2 (/min), symptom=crash|hang
bad_driver                driver@version          peripheral=<model name>, rate=0.2 (/min)
os_build_regression       OS build                process=<name of the CPU hog>
wifi_degradation          BSSID or site           severity=20 (dB), disconnects=0.15 (/min)
========================  ======================  ===========================================

Left to the seed: the target is drawn among cohorts big enough to matter (a BSSID with at least
5 devices at their desk, a site, app version or OS build with at least 10 devices, a driver
version on one peripheral model with at least 5), and the start on a weekday between 09:00
and 16:00 in the target site's time zone (the first site's for fleet-wide cohorts); the
duration is lognormal with a median of 40 min (15-120 min), the intensity uniform in 0.4-1.0
(1.0 for a WAN cut).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .catalog import CORP_SSID
from .fleet import Fleet
from .timefmt import minute_of, parse_duration, parse_utc

KINDS = (
    "ap_failure",
    "site_wan_degradation",
    "site_dns_failure",
    "saas_outage",
    "bad_app_version",
    "bad_driver",
    "os_build_regression",
    "wifi_degradation",
)
DEFAULT_INTENSITY = {
    "ap_failure": 0.9,
    "site_wan_degradation": 0.8,
    "site_dns_failure": 0.9,
    "saas_outage": 0.7,
    "bad_app_version": 0.6,
    "bad_driver": 0.6,
    "os_build_regression": 0.5,
    "wifi_degradation": 0.7,
}
OPTIONS = {
    "ap_failure": {"roam"},
    "site_wan_degradation": {"latency", "fail", "cut"},
    "site_dns_failure": {"fail"},
    "saas_outage": {"fail", "mode"},
    "bad_app_version": {"rate", "symptom"},
    "bad_driver": {"peripheral", "rate"},
    "os_build_regression": {"process"},
    "wifi_degradation": {"severity", "disconnects"},
}
COMMON = {"at", "duration", "intensity", "ramp", "target"}
CHOICES = {
    "cut": ("true", "false", "1", "0", "yes", "no", "on", "off"),
    "mode": ("http_error", "timeout"),
    "symptom": ("crash", "hang"),
}


class ScenarioError(ValueError):
    """A scenario that cannot be parsed or placed; the message says why."""


@dataclass(frozen=True)
class ScenarioSpec:
    kind: str
    at: timedelta | datetime | None = None
    duration: timedelta | None = None
    intensity: float | None = None
    ramp: timedelta | None = None
    target: str | None = None
    options: dict[str, str] = field(default_factory=dict)


def parse_spec(text: str) -> ScenarioSpec:
    kind, _, rest = text.strip().partition(":")
    if kind not in KINDS:
        raise ScenarioError(f"unknown scenario type {kind!r}; one of {', '.join(KINDS)}")
    values: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or key not in COMMON | OPTIONS[kind]:
            raise ScenarioError(f"{kind}: unknown or valueless option {item!r}")
        values[key] = value.strip()
    try:
        at: timedelta | datetime | None = None
        if "at" in values:
            text_at = values.pop("at")
            at = parse_utc(text_at) if "T" in text_at or "-" in text_at else parse_duration(text_at)
        duration = parse_duration(values.pop("duration")) if "duration" in values else None
        ramp = parse_duration(values.pop("ramp")) if "ramp" in values else None
        intensity = float(values.pop("intensity")) if "intensity" in values else None
    except ValueError as exc:
        raise ScenarioError(f"{kind}: {exc}") from None
    for key in ("roam", "latency", "fail", "rate", "severity", "disconnects"):
        if key in values:
            try:
                number = float(values[key])
            except ValueError:
                raise ScenarioError(f"{kind}: {key} must be a number") from None
            if number < 0 or (key in ("roam", "fail", "rate") and number > 1):
                raise ScenarioError(f"{kind}: {key}={values[key]} is out of range")
    for key, allowed in CHOICES.items():
        if key in values and values[key] not in allowed:
            raise ScenarioError(f"{kind}: {key} is one of {', '.join(allowed)}")
    if intensity is not None and not 0 < intensity <= 1:
        raise ScenarioError(f"{kind}: intensity must be in (0, 1]")
    if duration is not None and duration < timedelta(minutes=1):
        raise ScenarioError(f"{kind}: duration must be at least 1 minute")
    target = values.pop("target", None)
    return ScenarioSpec(kind, at, duration, intensity, ramp, target, values)


@dataclass
class Scenario:
    """A placed scenario: absolute minutes, a resolved target, its truth so far."""

    id: str
    kind: str
    start: int
    end: int
    intensity: float
    ramp: int
    target: str
    cohort: dict[str, str]
    signal: str
    options: dict[str, str]
    u: list[float]
    """Per device, a uniform draw: affected while ``u < share(minute)``."""
    exposed: set[int] = field(default_factory=set)
    onsets: dict[int, int] = field(default_factory=dict)
    """Affected device index -> epoch ms of its first symptom."""

    def ramp_fraction(self, minute: int) -> float:
        return 1.0 if self.ramp <= 0 else min(1.0, (minute - self.start + 1) / self.ramp)

    def share(self, minute: int) -> float:
        if self.kind == "wifi_degradation":
            return self.intensity
        return self.intensity * self.ramp_fraction(minute)

    def option(self, name: str, default: float) -> float:
        try:
            return float(self.options.get(name, default))
        except ValueError:
            raise ScenarioError(f"{self.kind}: {name} must be a number") from None

    def flag(self, name: str) -> bool:
        return self.options.get(name, "false").lower() in ("1", "true", "yes", "on")


def _choose_target(kind: str, fleet: Fleet, rng: random.Random) -> str:
    devices = fleet.devices
    if kind in ("ap_failure", "wifi_degradation"):
        if kind == "wifi_degradation" and rng.random() < 0.5:
            return _big(Counter(d.site_name for d in devices), 10, rng)
        desks = Counter(fleet.bssid_at(d, d.desk).bssid for d in devices if d.ssid == CORP_SSID)
        return _big(desks, 5, rng)
    if kind in ("site_wan_degradation", "site_dns_failure"):
        return _big(Counter(d.site_name for d in devices), 10, rng)
    if kind == "saas_outage":
        return rng.choice(("login.example.com", "intranet.example.com"))
    if kind == "bad_app_version":
        return _big(Counter(a.key for d in devices for a in d.apps), 10, rng)
    if kind == "bad_driver":
        models = Counter(  # a peripheral with no driver of its own has no driver to break
            p.key for d in devices for p in d.peripherals if p.info.versions and p.info.driver
        )
        return _big(models, 5, rng)
    return _big(Counter(d.os_build for d in devices), 10, rng)


def _big(counts: Counter[str], floor: int, rng: random.Random) -> str:
    if not counts:
        raise ScenarioError("the fleet has no cohort of this kind; add devices")
    eligible = sorted(k for k, n in counts.items() if n >= floor)
    return rng.choice(eligible) if eligible else counts.most_common(1)[0][0]


def _place(
    rng: random.Random, fleet: Fleet, site_name: str | None, length: int, first: int, last: int
) -> int:
    """A start minute on a weekday, 09:00-16:00 at the site, so that it fits the run."""
    site = fleet.site_named(site_name) if site_name else fleet.sites[0]
    latest = last - length - 1
    if latest <= first:
        raise ScenarioError("the run is too short for this scenario's duration")
    candidates = [
        m
        for m in range(first + 5, latest, 5)
        if (local := datetime.fromtimestamp(m * 60, site.tz)).weekday() < 5 and 9 <= local.hour < 16
    ]
    return rng.choice(candidates) if candidates else rng.randrange(first + 1, latest)


def _cohort(kind: str, target: str, fleet: Fleet, spec: ScenarioSpec) -> tuple[dict[str, str], str]:
    """The truth's cohort and signal for a target, after checking the target exists."""
    devices = fleet.devices
    if kind in ("ap_failure", "wifi_degradation") and target in fleet.by_bssid:
        return {"bssid": target}, "wifi"
    if kind in ("site_wan_degradation", "site_dns_failure", "wifi_degradation"):
        if target not in {s.name for s in fleet.sites}:
            raise ScenarioError(f"{kind}: no site or BSSID {target!r} in this fleet")
        return {"site": target}, ("wifi" if kind == "wifi_degradation" else "network_probe")
    if kind == "ap_failure":
        raise ScenarioError(f"ap_failure: no BSSID {target!r} in this fleet")
    if kind == "saas_outage":
        from .catalog import PROBES

        if target not in {p.target for p in PROBES}:
            raise ScenarioError(f"saas_outage: no probe target {target!r}")
        return {"probe_target": target}, "network_probe"
    if kind == "bad_app_version":
        if target not in {a.key for d in devices for a in d.apps}:
            raise ScenarioError(f"bad_app_version: no device runs {target!r} (app@version)")
        name, _, version = target.rpartition("@")
        symptom = spec.options.get("symptom", "crash")
        return {"app_name": name, "app_version": version}, f"app_{symptom}"
    if kind == "bad_driver":
        model, _, driver = target.rpartition("|")
        name, _, version = driver.rpartition("@")
        found = Counter(
            p.info.name
            for d in devices
            for p in d.peripherals
            if p.info.driver == name and p.driver_version == version
        )
        if not found:
            raise ScenarioError(
                f"bad_driver: no peripheral uses driver {driver!r} (driver@version)"
            )
        model = model or spec.options.get("peripheral") or found.most_common(1)[0][0]
        if model not in found:
            raise ScenarioError(f"bad_driver: no {model!r} uses driver {driver!r}")
        cohort = {"driver": name, "driver_version": version, "peripheral_model": model}
        return cohort, "peripheral_failure"
    if target not in {d.os_build for d in devices}:
        raise ScenarioError(f"os_build_regression: no device runs OS build {target!r}")
    return {"os_build": target}, "system"


def _site_of(cohort: dict[str, str], fleet: Fleet) -> str | None:
    if "bssid" in cohort:
        return fleet.sites[fleet.by_bssid[cohort["bssid"]].site].name
    return cohort.get("site")


def resolve(
    specs: list[ScenarioSpec], fleet: Fleet, seed: int, first: int, last: int
) -> list[Scenario]:
    """Place every spec in minutes [first, last): targets, times and per-device draws."""
    out = []
    for number, spec in enumerate(specs, 1):
        rng = random.Random(f"{seed}:scenario:{number}")
        target = spec.target or _choose_target(spec.kind, fleet, rng)
        cohort, signal = _cohort(spec.kind, target, fleet, spec)
        if spec.duration is not None:
            length = max(1, round(spec.duration.total_seconds() / 60))
        else:
            length = round(min(120.0, max(15.0, rng.lognormvariate(math.log(40.0), 0.5))))
        if isinstance(spec.at, datetime):
            start = minute_of(spec.at)
        elif isinstance(spec.at, timedelta):
            start = first + round(spec.at.total_seconds() / 60)
        else:
            start = _place(rng, fleet, _site_of(cohort, fleet), length, first, last)
        if not first <= start < last:
            raise ScenarioError(f"{spec.kind}: starts outside the run ({spec.at})")
        cut = spec.kind == "site_wan_degradation" and spec.options.get("cut", "") in (
            "1",
            "true",
            "yes",
            "on",
        )
        if spec.intensity is not None:
            intensity = spec.intensity
        elif spec.target is None and spec.at is None:
            intensity = 1.0 if cut else round(rng.uniform(0.4, 1.0), 2)
        else:
            intensity = 1.0 if cut else DEFAULT_INTENSITY[spec.kind]
        if spec.ramp is not None:
            ramp = round(spec.ramp.total_seconds() / 60)
        else:
            ramp = length // 2 if spec.kind == "wifi_degradation" else 0
        draws = random.Random(f"{seed}:affected:{number}")
        out.append(
            Scenario(
                id=f"{number:02d}-{spec.kind}",
                kind=spec.kind,
                start=start,
                end=start + length,
                intensity=intensity,
                ramp=ramp,
                target=target,
                cohort=cohort,
                signal=signal,
                options=dict(spec.options),
                u=[draws.random() for _ in fleet.devices],
            )
        )
    return out


def random_specs(count: int, seed: int) -> list[ScenarioSpec]:
    """``count`` scenarios of random types, everything else left to :func:`resolve`."""
    rng = random.Random(f"{seed}:random-scenarios")
    out = []
    for _ in range(count):
        kind = rng.choice(KINDS)
        cut = kind == "site_wan_degradation" and rng.random() < 0.3
        out.append(ScenarioSpec(kind, options={"cut": "true"} if cut else {}))
    return out
