"""The scoring configuration: every threshold, weight and penalty, with the defaults of
``docs/scoring.md``.

It is a field of the collector's settings (``DEXPULSE_SCORING``, a JSON object), so it is a
pydantic model that accepts a nested dict with any subset of keys: ``{"thresholds":
{"rssi_dbm": {"poor": -80}}}`` changes one bound and keeps every other default. Unknown keys are
refused rather than ignored, because a misspelt threshold that silently keeps its default is
worse than a collector that says which key it does not know.

Validation says what is wrong in the operator's terms (which bound, which direction), since the
person reading the error is editing an environment variable, not Python.

:meth:`ScoringConfig.fingerprint` is stored with every computed score so that a score can be
traced to the configuration (and method version) that produced it. :attr:`ScoringConfig.rules`
is the same configuration flattened into tuples and dicts once, so that scoring a device-hour
does not walk pydantic models 240 times.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .catalogue import HIGHER_IS_BETTER, MEASURES, METRICS, NETWORK, PERFORMANCE, describe

METHOD_VERSION = 1
"""Bumped when the arithmetic changes, so that fingerprints change with it."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Band(_Section):
    """The two boundaries of one measure. Between them a sample is fair.

    For a measure where lower is better, a value at or below ``good`` is good and a value above
    ``poor`` is poor; where higher is better, at or above ``good`` is good and below ``poor`` is
    poor. ``good == poor`` is allowed and leaves no fair band.
    """

    good: float
    poor: float


def _band(good: float, poor: float, what: str) -> Any:
    return Field(default=Band(good=good, poor=poor), description=what)


class Thresholds(_Section):
    """Good and poor boundaries per measure (see ``docs/scoring.md`` for the reasons)."""

    cpu_percent: Band = _band(70, 90, "CPU busy over the minute, % (lower is better).")
    cpu_queue_length: Band = _band(4, 10, "Threads waiting for a CPU (lower is better).")
    memory_pressure_percent: Band = _band(
        5, 20, "Share of the minute tasks stalled on memory, % (lower is better)."
    )
    memory_available_percent: Band = _band(
        15, 5, "Memory available without swapping, % (higher is better)."
    )
    disk_free_percent: Band = _band(20, 10, "Free space on the system volume, % (higher).")
    disk_free_gb: Band = _band(50, 20, "Free space on the system volume, GB (higher).")
    boot_duration_s: Band = _band(45, 120, "Power-on to usable desktop, s (lower).")
    logon_duration_s: Band = _band(30, 90, "Credentials to usable desktop, s (lower).")
    battery_health_percent: Band = _band(80, 60, "Full charge vs design capacity, % (higher).")
    rssi_dbm: Band = _band(-67, -75, "Wi-Fi received signal strength, dBm (higher).")
    dns_ms: Band = _band(100, 300, "DNS resolution time, ms (lower).")
    connect_tls_ms: Band = _band(200, 600, "TCP connect plus TLS handshake, ms (lower).")
    ttfb_ms: Band = _band(500, 2000, "HTTP time to first byte, ms (lower).")
    gateway_ms: Band = _band(20, 100, "TCP answer time of the default gateway, ms (lower).")

    @model_validator(mode="before")
    @classmethod
    def _keep_default_bounds(cls, data: Any) -> Any:
        """Let an operator override one bound: a missing ``good`` or ``poor`` keeps the default."""
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name, value in data.items():
            field = cls.model_fields.get(name)
            if field is not None and isinstance(value, dict) and isinstance(field.default, Band):
                merged[name] = {**field.default.model_dump(), **value}
        return merged

    @model_validator(mode="after")
    def _poor_beyond_good(self) -> Thresholds:
        problems = []
        for name in MEASURES:
            band: Band = getattr(self, name)
            if name in HIGHER_IS_BETTER and band.poor > band.good:
                problems.append(
                    f"{name}: higher is better, so poor ({band.poor:g}) must be at or below "
                    f"good ({band.good:g})"
                )
            elif name not in HIGHER_IS_BETTER and band.poor < band.good:
                problems.append(
                    f"{name}: lower is better, so poor ({band.poor:g}) must be at or above "
                    f"good ({band.good:g})"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _weight(value: float, what: str) -> Any:
    return Field(default=value, ge=0, description=what)


class _Weights(_Section):
    """Relative weights: only their ratios matter, and they are renormalised over whatever has
    data, so they need not add up to anything. All zero would leave nothing to score."""

    @model_validator(mode="after")
    def _not_all_zero(self) -> _Weights:
        if not any(getattr(self, name) > 0 for name in type(self).model_fields):
            raise ValueError("at least one weight must be above 0")
        return self


class ComponentWeights(_Weights):
    performance: float = _weight(35, "Device performance: CPU, memory, disk, boot, battery.")
    reliability: float = _weight(30, "Reliability: crashes, hangs, peripheral and Wi-Fi failures.")
    network: float = _weight(35, "Network and Wi-Fi: signal, probe failures, DNS, HTTP timings.")


class PerformanceWeights(_Weights):
    cpu: float = _weight(25, "CPU saturation (load or run queue).")
    memory: float = _weight(25, "Memory pressure (stalls or low available memory).")
    disk_space: float = _weight(15, "Free space on the system volume.")
    boot_time: float = _weight(15, "Boot duration.")
    logon_time: float = _weight(10, "Sign-in duration.")
    battery_health: float = _weight(10, "Battery capacity against design.")


class NetworkWeights(_Weights):
    wifi_signal: float = _weight(30, "Wi-Fi signal strength while connected.")
    probe_failures: float = _weight(25, "Share of network probes that failed.")
    dns_time: float = _weight(15, "DNS resolution time.")
    http_ttfb: float = _weight(15, "HTTP time to first byte.")
    gateway_latency: float = _weight(10, "Answer time of the default gateway.")
    connect_time: float = _weight(5, "TCP connect plus TLS handshake time.")


def _points(value: float, what: str) -> Any:
    return Field(default=value, ge=0, le=100, description=what)


class EventPoints(_Section):
    """Reliability points the first event of a kind costs in its hour (later ones cost less,
    see ``event_decay``). 0 stops counting that kind."""

    app_crash: float = _points(20, "An application crash.")
    app_hang: float = _points(10, "An application that stopped responding.")
    peripheral_failure: float = _points(10, "A USB, Bluetooth, dock or printer failure.")
    wifi_disconnect: float = _points(
        0, "A Wi-Fi disconnect. Free by default: Windows logs one for a sleep or a user's choice."
    )
    wifi_auth_failure: float = _points(10, "A Wi-Fi authentication failure.")


class ScoringConfig(_Section):
    """Everything the experience score depends on. Every field has a default."""

    thresholds: Thresholds = Field(default_factory=Thresholds)
    component_weights: ComponentWeights = Field(default_factory=ComponentWeights)
    performance_weights: PerformanceWeights = Field(default_factory=PerformanceWeights)
    network_weights: NetworkWeights = Field(default_factory=NetworkWeights)
    event_points: EventPoints = Field(default_factory=EventPoints)
    event_decay: float = Field(
        default=0.5,
        ge=0,
        lt=1,
        description="Each further event of the same kind in the same hour costs this fraction "
        "of the previous one, so n events cost points x (1 - decay^n) / (1 - decay), at most "
        "points / (1 - decay).",
    )
    fair_credit: float = Field(
        default=0.5, ge=0, le=1, description="Credit of a fair sample (good is 1, poor is 0)."
    )
    sentiment_weight: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Share of the score taken by survey answers, in periods that have any.",
    )
    survey_yes_no: bool = Field(
        default=False,
        description="Count yes/no answers as sentiment (yes = 100, no = 0). Off by default: "
        "the wire does not say whether 'yes' is the happy answer.",
    )
    unreachable_probes: Literal["ignore", "failure", "failure_if_online"] = Field(
        default="failure_if_online",
        description="How probes with status 'unreachable' (no route at all) count: never; "
        "always as failures; or as failures only in an hour in which some probe succeeded, "
        "so a Wi-Fi drop counts while a laptop offline on purpose for the hour does not.",
    )
    min_group_size: int = Field(
        default=5, ge=1, description="Groups with fewer scored devices are not shown."
    )
    xla_target: float = Field(
        default=80.0,
        ge=0,
        le=100,
        description="Target score of the XLA report (share of devices at or above it).",
    )

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with ``update``, validated again (pydantic's own copy would skip validation
        and carry over :attr:`rules` computed for the old values)."""
        if update:
            fields = {name: getattr(self, name) for name in type(self).model_fields}
            return self.model_validate({**fields, **update})
        return super().model_copy(deep=deep)

    def fingerprint(self) -> str:
        """12 hex digits identifying this configuration and the scoring method version.

        Equal configurations give equal fingerprints whatever the key order or which defaults
        were spelt out, because the hash covers the full normalised dump.
        """
        return self.rules.fingerprint

    @cached_property
    def rules(self) -> Rules:
        """This configuration flattened for the hot loop, computed once per instance."""
        dump = self.model_dump(mode="json")
        canonical = json.dumps(
            {"method": METHOD_VERSION, "config": dump}, sort_keys=True, separators=(",", ":")
        )
        thresholds = self.thresholds.model_dump()
        bands = {m: (float(thresholds[m]["good"]), float(thresholds[m]["poor"])) for m in MEASURES}
        by_component = {
            PERFORMANCE: self.performance_weights.model_dump(),
            NETWORK: self.network_weights.model_dump(),
        }
        metric_weights = {
            comp: {m: float(weights[m]) for m in METRICS if METRICS[m].component == comp}
            for comp, weights in by_component.items()
        }
        return Rules(
            bands=bands,
            metric_weights=metric_weights,
            component_weights=dict(self.component_weights.model_dump()),
            event_points=dict(self.event_points.model_dump()),
            event_decay=self.event_decay,
            fair_credit=self.fair_credit,
            sentiment_weight=self.sentiment_weight,
            survey_yes_no=self.survey_yes_no,
            unreachable=self.unreachable_probes,
            fingerprint=hashlib.sha256(canonical.encode()).hexdigest()[:12],
            wording=describe(bands),
        )


@dataclass(frozen=True, slots=True)
class Rules:
    """A :class:`ScoringConfig` as plain values (see :attr:`ScoringConfig.rules`)."""

    bands: dict[str, tuple[float, float]]
    """measure -> (good, poor)."""
    metric_weights: dict[str, dict[str, float]]
    """component -> metric -> weight, for the sample-based components."""
    component_weights: dict[str, float]
    event_points: dict[str, float]
    event_decay: float
    fair_credit: float
    sentiment_weight: float
    survey_yes_no: bool
    unreachable: str
    fingerprint: str
    wording: dict[str, tuple[str, str]]
    """metric -> (what poor means, what fair means), for detail lines."""
