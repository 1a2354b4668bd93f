"""The ``boot`` sampler: how long this boot took, reported once per boot.

Why: a slow boot is what users feel first on Monday morning, and a boot that got slower after
an update or a driver change is a fleet-level signal. A sample (UEFI laptop; the figures are
those of the systemd-analyze fixture, systemd PR 7738)::

    {"kind": "boot", "ts": "2026-11-27T07:58:12Z", "boot_duration_s": 16.55,
     "firmware_s": 7.797, "loader_s": 1.172, "kernel_s": 0.877, "initrd_s": 0.861,
     "userspace_s": 5.841}

``ts`` is when the machine booted, not when the agent noticed, so a report sent twice carries
the same ``ts`` and the same figures and is recognisable as a repeat.

Each run (hourly by default) reads the boot id; a boot already reported costs one small file
read. For a new boot the OS backend is asked for the figures; "not finished yet" (boot jobs
still running, e.g. a slow network mount) gives nothing and the next run asks again.

The boot id is written to the state store one run *after* the sample was emitted, by which
time the service has spooled it: a crash between emitting and spooling, or a diagnostic
``dexpulse agent once`` (which runs samplers without spooling), then repeats the report
rather than losing it. The price is one recognisable repeat if the agent restarts within an
interval of reporting.
"""

from __future__ import annotations

from dexpulse.schema import SampleBase

from .. import platform
from .base import Context, Sampler, register

STATE = "boot"


@register
class BootSampler(Sampler):
    name = "boot"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._emitted: str | None = None
        """Boot id this instance reported and has not yet written to the state store."""

    def _remembered(self) -> str | None:
        state = self.ctx.state.load(STATE)
        if self._emitted is not None:
            if state.get("boot_id") != self._emitted:
                self.ctx.state.save(STATE, {"boot_id": self._emitted})
            remembered, self._emitted = self._emitted, None
            return remembered
        value = state.get("boot_id")
        return value if isinstance(value, str) else None

    def collect(self) -> list[SampleBase]:
        backend = platform.area("boot")
        host = self.ctx.host
        current: str = backend.boot_id(host)
        if current == self._remembered():
            return []
        booted = backend.boot_time(host) or self.ctx.clock()
        sample = backend.boot_sample(host, booted)
        if sample is None:
            return []  # boot not finished yet: ask again next run
        self._emitted = current
        return [sample]
