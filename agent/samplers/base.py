"""The sampler framework: a registry, a context of injectable edges, and failure isolation.

A sampler turns the machine's state into samples; it raises :class:`NoData` when the machine
has nothing to say (no Wi-Fi card, no battery), which is normal. Anything else it raises is a
failure: the :class:`Supervisor` retries it with exponential backoff and, after
``max_failures`` in a row, disables it and says so in an ``agent_health`` sample. A failing
sampler never stops the others.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from dexpulse.schema import AgentHealthSample, SampleBase

from ..config import AgentConfig, SamplerSettings
from ..platform import Host
from ..state import StateStore

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    """What samplers may touch. One instance is shared; the service replaces ``config`` when
    the collector pushes new settings, so samplers read ``ctx.config`` on every run."""

    host: Host
    config: AgentConfig
    state: StateStore
    clock: Callable[[], datetime] = utc_now


class Sampler(ABC):
    name: ClassVar[str]
    """The key under ``[samplers]`` in the config."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @abstractmethod
    def collect(self) -> list[SampleBase]:
        """Samples for this run; raise NoData when the machine has none to give."""


REGISTRY: dict[str, type[Sampler]] = {}


def register(cls: type[Sampler]) -> type[Sampler]:
    if cls.name in REGISTRY:
        raise ValueError(f"sampler {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls


def load_all() -> dict[str, type[Sampler]]:
    """Import every sampler module in this package; the registry."""
    from .. import samplers

    for module in pkgutil.iter_modules(samplers.__path__):
        if module.name != "base":
            importlib.import_module(f"{samplers.__name__}.{module.name}")
    return REGISTRY


class Supervisor:
    """Runs one sampler with failure isolation, backoff and disabling."""

    def __init__(
        self,
        sampler: Sampler,
        settings: SamplerSettings,
        *,
        max_failures: int = 5,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.sampler = sampler
        self.settings = settings
        self.max_failures = max_failures
        self.clock = clock
        self.failures = 0
        self.disabled = False
        self.retry_at: datetime | None = None
        self.last_error: str | None = None
        self.last_run: datetime | None = None

    @property
    def name(self) -> str:
        return self.sampler.name

    def run(self) -> list[SampleBase]:
        now = self.clock()
        if self.disabled or (self.retry_at is not None and now < self.retry_at):
            return []
        from ..platform import NoData

        self.last_run = now
        try:
            samples = self.sampler.collect()
        except NoData as why:
            log.debug("%s: no data (%s)", self.name, why)
            return self._recovered(now)
        except Exception as exc:  # isolation is the point: no failure escapes
            return self._failed(now, exc)
        return self._recovered(now) + samples

    def _recovered(self, now: datetime) -> list[SampleBase]:
        if not self.failures:
            return []
        self.failures, self.retry_at, self.last_error = 0, None, None
        return [AgentHealthSample(ts=now, component=self.name, status="ok", message="recovered")]

    def _failed(self, now: datetime, exc: Exception) -> list[SampleBase]:
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:4000]
        log.warning(
            "sampler %s failed (%d in a row): %s",
            self.name,
            self.failures,
            self.last_error,
            exc_info=self.failures == 1,
        )
        if self.failures >= self.max_failures:
            self.disabled = True
            return [
                AgentHealthSample(
                    ts=now,
                    component=self.name,
                    status="disabled",
                    message=f"disabled after {self.failures} failures in a row: {self.last_error}",
                )
            ]
        backoff = self.settings.interval_s * 2 ** (self.failures - 1)
        self.retry_at = now + timedelta(seconds=backoff)
        if self.failures > 1:
            return []
        return [
            AgentHealthSample(ts=now, component=self.name, status="error", message=self.last_error)
        ]
