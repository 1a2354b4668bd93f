"""The ground truth file: what was injected, whom it touched, and when the first user called.

Why a separate file: the batches are what a collector sees; the truth is what the benchmark
scores the detector against (recall, delay from the true onset, lead over the first ticket,
localisation), so it must never leak into the batches. Shape::

    {"seed", "start", "end", "devices",
     "sites": [{"name", "time_zone", "devices", "ssids", "access_points", "bssids"}],
     "outages": [{"id", "type", "signal", "cohort", "start", "end", "intensity",
                  "ramp_minutes", "options", "exposed_devices", "affected_devices",
                  "first_affected_at", "first_ticket_at", "tickets"}],
     "tickets": [{"device_id", "at", "outage_id"}],
     "stats": {"batches", "samples", "late_batches", "max_batch_delay_s"}}

``cohort`` is the true cause as dimension -> value; ``exposed_devices`` counts the devices
that were in the cohort and awake at some minute of the outage; ``affected_devices`` lists
those that showed a symptom, earliest first (``first_affected_at`` is the first of them);
``first_ticket_at`` is null when nobody filed one. Times are UTC, ``...Z``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .timefmt import iso_ms

if TYPE_CHECKING:
    from .engine import Simulation


def build_truth(sim: Simulation, ids: dict[str, str]) -> dict[str, Any]:
    fleet = sim.fleet

    def device_id(index: int) -> str:
        own = fleet.devices[index].device_id
        return ids.get(own, own)

    first_ticket: dict[str, int] = {}
    count: dict[str, int] = {}
    for ticket in sim.tickets:
        first_ticket.setdefault(ticket.outage_id, ticket.at_ms)
        count[ticket.outage_id] = count.get(ticket.outage_id, 0) + 1
    outages = []
    for sc in sorted(sim.scenarios, key=lambda s: (s.start, s.id)):
        affected = sorted(sc.onsets.items(), key=lambda item: (item[1], item[0]))
        outages.append(
            {
                "id": sc.id,
                "type": sc.kind,
                "signal": sc.signal,
                "cohort": dict(sc.cohort),
                "start": iso_ms(sc.start * 60_000),
                "end": iso_ms(sc.end * 60_000),
                "intensity": sc.intensity,
                "ramp_minutes": sc.ramp,
                "options": dict(sc.options),
                "exposed_devices": len(sc.exposed),
                "affected_devices": [device_id(i) for i, _ in affected],
                "first_affected_at": iso_ms(affected[0][1]) if affected else None,
                "first_ticket_at": iso_ms(first_ticket[sc.id]) if sc.id in first_ticket else None,
                "tickets": count.get(sc.id, 0),
            }
        )
    devices_at = [0] * len(fleet.sites)
    for d in fleet.devices:
        devices_at[d.site] += 1
    sites = [
        {
            "name": s.name,
            "time_zone": s.info.tz,
            "devices": devices_at[s.index],
            "ssids": list(s.ssids),
            "access_points": s.positions,
            "bssids": [ap.bssid for ssid in s.ssids for ap in s.bssids[ssid]],
        }
        for s in fleet.sites
    ]
    return {
        "seed": sim.config.seed,
        "start": iso_ms(sim.first * 60_000),
        "end": iso_ms(sim.last * 60_000),
        "devices": len(fleet.devices),
        "sites": sites,
        "outages": outages,
        "tickets": [
            {"device_id": device_id(t.device), "at": iso_ms(t.at_ms), "outage_id": t.outage_id}
            for t in sim.tickets
        ],
        "stats": {
            "batches": sim.stats.batches,
            "samples": sim.stats.samples,
            "late_batches": sim.stats.late_batches,
            "max_batch_delay_s": sim.stats.max_delay_s,
        },
    }
