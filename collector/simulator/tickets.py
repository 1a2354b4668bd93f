"""Simulated helpdesk tickets: the yardstick "did we know before the users told us?".

Why a model and not a fixed delay: the first ticket of an outage comes from the quickest of
many users, so its time depends on how many are hit, how much it hurts and when it happens.

Model, per outage and per affected device (its user):

* the user files one ticket with probability ``P_TICKET[type]``: 30-35 % when they are cut
  off (an access point gone, the site's WAN cut), 25 % for DNS failures and a failing dock, 20 %
  for crashing apps and a SaaS outage (people check the status page or retry), 12-15 % for
  hangs and slow WANs, 10 % for a slow laptop or a weak Wi-Fi (people live with it);
* after a delay from *their own* onset (the first symptom on their device, never the outage's
  start) that is lognormal with a median of ``DELAY_MEDIAN_MIN`` (20 min) and sigma 0.6
  (p10 ~9 min, p90 ~43 min: trying again, restarting, asking a colleague first);
* only within office hours (a weekday, 07:00-19:00 at their site) while their laptop is awake
  (they are working); a delay that lands outside, or beyond 4 hours, means no ticket.

Draws come from a stream per outage, so adding an outage does not change another's tickets.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from datetime import tzinfo as TzInfo

from .scenarios import Scenario
from .schedule import Segment

P_TICKET = {
    "ap_failure": 0.30,
    "site_wan_degradation": 0.15,
    "site_wan_cut": 0.35,
    "site_dns_failure": 0.25,
    "saas_outage": 0.20,
    "app_crash": 0.20,
    "app_hang": 0.12,
    "bad_driver": 0.25,
    "os_build_regression": 0.10,
    "wifi_degradation": 0.10,
}
DELAY_MEDIAN_MIN = 20.0
DELAY_SIGMA = 0.6
MAX_DELAY_MIN = 240.0
OFFICE_HOURS = (7, 19)


@dataclass(frozen=True)
class Ticket:
    device: int
    at_ms: int
    outage_id: str


def probability(sc: Scenario) -> float:
    if sc.kind == "site_wan_degradation" and sc.flag("cut"):
        return P_TICKET["site_wan_cut"]
    if sc.kind == "bad_app_version":
        return P_TICKET[sc.signal]
    return P_TICKET[sc.kind]


def _awake(segments: list[Segment], ms: int) -> bool:
    minute = ms // 60_000
    i = bisect_right([s.start for s in segments], minute) - 1
    return i >= 0 and segments[i].start <= minute < segments[i].end


def _office_hours(ms: int, tz: TzInfo) -> bool:
    local = datetime.fromtimestamp(ms / 1000, tz)
    return local.weekday() < 5 and OFFICE_HOURS[0] <= local.hour < OFFICE_HOURS[1]


def file_tickets(
    scenarios: list[Scenario],
    segments: list[list[Segment]],
    zones: list[TzInfo],
    seed: int,
) -> list[Ticket]:
    """The tickets of every outage, in time order; ``zones[i]`` is device i's site zone."""
    out: list[Ticket] = []
    for sc in scenarios:
        rng = random.Random(f"{seed}:tickets:{sc.id}")
        chance = probability(sc)
        for device, onset in sorted(sc.onsets.items()):
            filed = rng.random() < chance
            delay = rng.lognormvariate(math.log(DELAY_MEDIAN_MIN), DELAY_SIGMA)
            if not filed or delay > MAX_DELAY_MIN:
                continue
            at = onset + max(60_000, int(delay * 60_000))
            if _awake(segments[device], at) and _office_hours(at, zones[device]):
                out.append(Ticket(device, at, sc.id))
    out.sort(key=lambda t: (t.at_ms, t.device, t.outage_id))
    return out
