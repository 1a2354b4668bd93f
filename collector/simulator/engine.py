"""The simulation loop: minute by minute, every awake device samples, then uploads like the agent.

Why time-major (all devices, then the next minute): batches must come out in arrival order
(``sent_at``), the order a collector would have received them, and correlated noise and
outages are per minute across devices. Memory stays bounded: only each device's unsent
batches are held, and each minute's sent batches are yielded before the next is simulated.

Uploads follow the agent's uploader and spool (:mod:`dexpulse.agent.uploader`): every
``upload_every`` minutes, at its own second of the minute, a device forms a batch of the
samples waiting since its last round (``batch_id`` and ``seq`` fixed at formation, ``seq``
from 1 up per device), whether or not it can send. Then, if it is not backing off:

* no network (its access point is gone, its site's WAN is cut): the attempt fails and the
  next waits a random 0..min(300 s, 2**(failures-1) s) (full jitter);
* network again after failures: the ``/healthz`` check succeeds and sending waits a further
  random 0-60 s (the fleet does not return all at once);
* otherwise every batch it holds is sent, oldest first, 20 ms apart.

So batches formed while a device was cut off arrive later, together, with ``sent_at`` well
after their samples' ``ts``: late batches, exactly as the real spool delivers them. A device
that goes to sleep with samples waiting sends them when it next wakes. Everything is drawn
from seeded streams (fleet, plans, noise, per-device behaviour, scenarios, tickets), so the
same configuration yields the same bytes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .behaviour import DeviceSim
from .effects import Injector
from .fleet import Fleet, build_fleet
from .minute import emit
from .noise import Latent
from .scenarios import Scenario, ScenarioSpec, random_specs, resolve
from .schedule import Segment, plan
from .tickets import Ticket, file_tickets
from .timefmt import DEFAULT_START, Stamper, at_minute, minute_of
from .truth import build_truth


@dataclass(frozen=True)
class SimulationConfig:
    devices: int = 200
    sites: int = 5
    seed: int = 1
    start: datetime = DEFAULT_START
    duration: timedelta = timedelta(days=1)
    scenarios: tuple[ScenarioSpec, ...] = ()
    random_scenarios: int = 0
    upload_every: int = 1
    """Minutes between upload rounds (the agent's ``upload.interval_s`` / 60)."""
    always_on: bool = False
    """Every device awake at its desk all the time (demos, tests): no nights, no homes."""


@dataclass(slots=True)
class OutBatch:
    sent_ms: int
    device: int
    seq: int
    batch_id: str
    samples: str
    """The samples as a JSON array, exactly as formed."""
    count: int
    oldest_ms: int
    """Start of the minute of the batch's oldest sample (lateness = ``sent_ms`` minus this)."""


@dataclass
class Stats:
    batches: int = 0
    samples: int = 0
    late_batches: int = 0
    """Batches sent more than two minutes after the minute of their oldest sample."""
    max_delay_s: float = 0.0


class Simulation:
    def __init__(self, config: SimulationConfig) -> None:
        if config.devices < 1 or config.sites < 1:
            raise ValueError("a fleet needs at least one device and one site")
        self.config = config
        seed = config.seed
        self.first = minute_of(config.start)
        self.last = self.first + max(1, round(config.duration.total_seconds() / 60))
        self.fleet: Fleet = build_fleet(
            random.Random(f"{seed}:fleet"), config.devices, min(config.sites, config.devices)
        )
        specs = list(config.scenarios) + random_specs(config.random_scenarios, seed)
        self.scenarios: list[Scenario] = resolve(specs, self.fleet, seed, self.first, self.last)
        self.injector = Injector(self.scenarios, self.fleet, seed)
        self.latent = Latent(self.fleet, seed)
        self.stamper = Stamper()
        self.sims = [
            DeviceSim(d, self.fleet, self.stamper, config.upload_every) for d in self.fleet.devices
        ]
        for sim in self.sims:
            site = self.fleet.sites[sim.d.site]
            sim.segments = plan(sim.d, site, self.first, self.last, config.always_on)
        self._heads = [
            f'{{"schema_version":1,"device_id":"{d.device_id}","batch_id":"'
            for d in self.fleet.devices
        ]
        self._tails = [f',{d.envelope_tail()},"samples":' for d in self.fleet.devices]
        self.stats = Stats()
        self.tickets: list[Ticket] = []
        self.done = False

    def line(
        self, batch: OutBatch, sent_at: str | None = None, device_id: str | None = None
    ) -> str:
        """The batch as the uploader would post it (one JSON object, no newline); live mode
        gives the real ``sent_at`` of the attempt and the device id the collector issued."""
        head = self._heads[batch.device]
        if device_id is not None:
            head = f'{{"schema_version":1,"device_id":"{device_id}","batch_id":"'
        sent = sent_at if sent_at is not None else self.stamper.stamp(batch.sent_ms)
        return (
            f'{head}{batch.batch_id}","seq":{batch.seq},"sent_at":"{sent}"'
            f"{self._tails[batch.device]}{batch.samples}}}"
        )

    def batches(self) -> Iterator[OutBatch]:
        """Every batch sent during the run, in arrival order; then the truth is complete."""
        starts: dict[int, list[tuple[DeviceSim, Segment]]] = {}
        for sim in self.sims:
            for seg in sim.segments:
                starts.setdefault(seg.start, []).append((sim, seg))
        awake: dict[int, DeviceSim] = {}
        every = self.config.upload_every
        for m in range(self.first, self.last):
            self.latent.at(m)
            active = self.injector.active(m)
            woke: dict[int, Segment] = {}
            for sim, seg in starts.pop(m, ()):
                index = sim.d.index
                if index not in awake:
                    awake[index] = sim
                    woke[index] = seg
                sim.segment = seg
            sent: list[OutBatch] = []
            for index, sim in list(awake.items()):
                now_in = sim.segment
                assert now_in is not None
                if m >= now_in.end:
                    del awake[index]
                    continue
                where = now_in.where
                eff = self.injector.effects(active, sim.d, m, where) if active else None
                online = eff is None or not eff.offline
                rounds = (m - sim.round_offset) % every == 0
                if rounds and not sim.samples_first:
                    self._round(sim, m, online, sent)
                if not sim.waiting:
                    sim.oldest = m * 60_000
                shown = emit(sim, m, where, eff, self.latent, woke.get(index))
                if rounds and sim.samples_first:
                    self._round(sim, m, online, sent)
                if shown:
                    for sc in active:
                        at = shown.get(sc.id)
                        if at is not None and index not in sc.onsets:
                            sc.onsets[index] = at
            sent.sort(key=lambda b: (b.sent_ms, b.device, b.seq))
            yield from sent
        self._finish()

    def _round(self, sim: DeviceSim, m: int, online: bool, sent: list[OutBatch]) -> None:
        now = m * 60_000 + sim.upload_ms
        if sim.waiting:
            samples = "[" + ",".join(sim.waiting) + "]"
            sim.pending.append((sim.seq, sim.new_uuid(), samples, len(sim.waiting)))
            sim.formed.append(sim.oldest)
            sim.seq += 1
            sim.waiting = []
        if now < sim.not_before or not sim.pending:
            return
        if not online:
            sim.failures += 1
            cap_s = min(300.0, 2.0 ** (sim.failures - 1))
            sim.not_before = now + int(sim.rng.uniform(0.0, cap_s) * 1000)
            return
        if sim.failures:
            sim.failures = 0
            sim.not_before = now + sim.rng.randrange(60_000)
            return
        stats = self.stats
        for i, ((seq, batch_id, samples, count), oldest) in enumerate(
            zip(sim.pending, sim.formed, strict=True)
        ):
            at = now + 20 * i
            sent.append(OutBatch(at, sim.d.index, seq, batch_id, samples, count, oldest))
            stats.batches += 1
            stats.samples += count
            if at - oldest > 120_000:
                stats.late_batches += 1
                stats.max_delay_s = max(stats.max_delay_s, (at - oldest) / 1000)
        sim.pending = []
        sim.formed = []

    def _finish(self) -> None:
        zones = [self.fleet.sites[d.site].tz for d in self.fleet.devices]
        segments = [sim.segments for sim in self.sims]
        self.tickets = file_tickets(self.scenarios, segments, zones, self.config.seed)
        self.done = True

    def truth(self, ids: dict[str, str] | None = None) -> dict[str, Any]:
        """The ground truth (see ``docs/simulator.md``); ``ids`` renames devices (live mode)."""
        if not self.done:
            raise RuntimeError("the truth is known once every batch has been generated")
        return build_truth(self, ids or {})

    @property
    def start(self) -> datetime:
        return at_minute(self.first)

    @property
    def end(self) -> datetime:
        return at_minute(self.last)
