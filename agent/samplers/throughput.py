"""The ``throughput`` sampler: download and upload speed between this device and the collector.

Probes tell whether the network answers quickly; this tells whether it carries much. It runs
against the collector's own speedtest-style endpoints (``/speedtest/latency.txt``,
``random{N}x{N}.jpg``, ``upload.php``), so it needs no internet and measures the path that
matters to the company, through the same proxy and CA bundle as the uploads. The client is
``dexpulse.agent.probes.run_speed_test`` (why not speedtest-cli: see there). A real sample::

    {"kind": "throughput", "ts": "2026-11-27T13:00:00Z", "target": "dex.example.com",
     "download_mbps": 187.4, "upload_mbps": 41.9, "latency_ms": 6.21, "jitter_ms": 1.37,
     "duration_s": 11.2}

Costs are bounded: one thread, one connection, at most ``download_bytes`` and
``upload_bytes`` (25 MB each) and ``direction_time_s`` (10 s) per direction, every 4 hours by
default, and only on AC power (psutil reports no battery, or the charger plugged in; an
unknown plug state counts as battery). The time of the last test is kept in StateStore, so
restarting the agent does not start another test before the interval has passed. A test that
fails still gives a sample, with ``error`` and whatever was measured before the failure.
Testing against public speedtest.net servers is not implemented.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

import psutil

from dexpulse.schema import SampleBase, ThroughputSample

from ..enroll import EnrollError, load_credentials
from ..platform import NoData
from ..probes import SpeedLimits, run_speed_test
from ..transport import UrllibTransport
from .base import Context, Sampler, register

log = logging.getLogger(__name__)

RECENT_FRACTION = 0.9
"""A test younger than this fraction of the interval is recent enough to skip one."""


def _battery() -> Any:
    sensors = getattr(psutil, "sensors_battery", None)
    return sensors() if sensors is not None else None


def _user_agent() -> str:
    try:
        return f"dexpulse-agent/{version('dexpulse')}"
    except PackageNotFoundError:
        return "dexpulse-agent"


@register
class ThroughputSampler(Sampler):
    name = "throughput"

    def __init__(
        self,
        ctx: Context,
        *,
        battery: Callable[[], Any] = _battery,
        limits: SpeedLimits | None = None,
    ) -> None:
        super().__init__(ctx)
        self.battery = battery
        self.limits = limits or SpeedLimits()

    def on_ac_power(self) -> bool:
        try:
            battery = self.battery()
        except (OSError, RuntimeError) as exc:  # a broken sensor: assume the worst
            log.debug("throughput: battery unreadable (%s)", exc)
            return False
        return battery is None or battery.power_plugged is True

    def collector_url(self) -> str:
        try:
            credentials = load_credentials(self.ctx.config.state_dir)
        except EnrollError:
            credentials = None
        url = credentials.collector_url if credentials else self.ctx.config.collector_url
        if not url:
            raise NoData("no collector to test against")
        return url

    def transport(self) -> UrllibTransport:
        """Like the uploader's: TLS verified (ca_bundle if set), proxies from the environment."""
        return UrllibTransport(self.ctx.config.ca_bundle, _user_agent())

    def _ran_recently(self, now: datetime) -> bool:
        last = self.ctx.state.load(self.name).get("last_test")
        try:
            when = datetime.fromisoformat(last) if isinstance(last, str) else None
        except ValueError:
            when = None
        if when is None or when.tzinfo is None or when > now:  # never, or the clock went back
            return False
        age = (now - when).total_seconds()
        return age < RECENT_FRACTION * self.ctx.config.samplers.throughput.interval_s

    def collect(self) -> list[SampleBase]:
        url = self.collector_url()
        if not self.on_ac_power():
            raise NoData("on battery power")
        now = self.ctx.clock()
        if self._ran_recently(now):
            raise NoData("tested recently")
        self.ctx.state.save(self.name, {"last_test": now.isoformat()})  # before: never twice
        result = run_speed_test(self.transport(), url, self.limits)
        return [
            ThroughputSample(
                ts=now,
                target=(urlsplit(url).hostname or url)[:256],
                download_mbps=result.download_mbps,
                upload_mbps=result.upload_mbps,
                latency_ms=result.latency_ms,
                jitter_ms=result.jitter_ms,
                duration_s=result.duration_s,
                error=result.error,
            )
        ]
