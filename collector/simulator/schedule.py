"""When each laptop is awake and where it is: office hours, home days, meetings, roams.

Why: outage detection counts *exposed* devices per minute, and most of a real fleet's
minute-to-minute change is people, not failures: laptops wake in the morning in each site's
time zone, sleep over lunch, move to meeting rooms (another access point), stay home some days
and are silent at night and at weekends. A detector that cannot tell "asleep" from "cut off"
would raise an alarm every evening.

A device's plan is a sorted list of :class:`Segment`\\s (awake intervals in absolute UTC
minutes, each at one place). Per weekday, in the site's local time:

* 4 % of weekdays off (holiday, sick); otherwise at home with the device's WFH share (0-80 %,
  by department, 10 % of people never), else at the office;
* awake from its usual start (``start_h``, ~N(8.4 h, 0.7 h)) + N(0, 0.3 h) for ``hours``
  (~N(8.8 h, 0.7 h)) + N(0, 0.5 h); asleep over lunch on 30 % of days (30-60 min around 12:00);
* at the office, in each full hour a meeting elsewhere with probability 0.18 (30 or 60 min at
  another access point of the site), and a short roam to a neighbouring access point
  (1-4 min) with probability 0.08;
* an evening session at home (20:00-21:30, 15-45 min) on 6 % of weekdays; a weekend session
  at home (1-3 h) on 5 % of weekend days.

3 % of devices are always on (docked, never sleeping) and sit at their desk around the clock;
``always_on=True`` makes every device so (demos, tests). A segment may start with a cold boot
(25 % of mornings), which the device reports as a ``boot`` sample.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from .fleet import Device, Site

HOME = -1
"""``Segment.where`` for a device at home (its own Wi-Fi, off the site network)."""


class Segment(NamedTuple):
    start: int
    """First awake minute (UTC epoch minutes)."""
    end: int
    """First minute asleep again (exclusive)."""
    where: int
    """Access point position at the device's site, or HOME."""
    boot: bool = False


def _abs_minute(day: date, site: Site, hour: float) -> int:
    local = datetime(day.year, day.month, day.day, tzinfo=site.tz) + timedelta(hours=hour)
    return int(local.astimezone(UTC).timestamp() // 60)


def _office_parts(
    rng: random.Random, device: Device, site: Site, start: float, end: float
) -> list[tuple[float, float, int]]:
    """(from, to, position) parts of an office period: the desk, meetings and short roams."""
    moves: list[tuple[float, float, int]] = []
    if site.positions > 1:
        for hour in range(math.ceil(start), math.floor(end)):
            if rng.random() < 0.18:
                begin = hour + rng.choice((0.0, 0.5))
                room = rng.randrange(site.positions - 1)
                room += room >= device.desk  # any position but the desk
                moves.append((begin, begin + rng.choice((0.5, 1.0)), room))
            if rng.random() < 0.08:
                begin = hour + rng.uniform(0.0, 0.9)
                step = rng.choice((-1, 1))
                near = (device.desk + step) % site.positions
                moves.append((begin, begin + rng.randint(1, 4) / 60, near))
    parts: list[tuple[float, float, int]] = []
    at = start
    for begin, finish, where in sorted(moves):
        begin, finish = max(begin, at), min(finish, end)
        if finish - begin < 1 / 60:
            continue
        if begin > at:
            parts.append((at, begin, device.desk))
        parts.append((begin, finish, where))
        at = finish
    if end > at:
        parts.append((at, end, device.desk))
    return parts


def _day(rng: random.Random, device: Device, site: Site, day: date) -> list[Segment]:
    parts: list[tuple[float, float, int, bool]] = []
    if day.weekday() >= 5:
        if rng.random() < 0.05:
            begin = rng.uniform(10.0, 17.0)
            parts.append((begin, begin + rng.uniform(1.0, 3.0), HOME, False))
    elif rng.random() >= 0.04:
        home = rng.random() < device.wfh_share
        start = device.start_h + rng.gauss(0.0, 0.3)
        end = start + device.hours + rng.gauss(0.0, 0.5)
        periods = [(start, end)]
        if rng.random() < 0.3:
            lunch = 12.0 + rng.gauss(0.0, 0.3)
            if start + 1 < lunch < end - 1:
                periods = [(start, lunch), (lunch + rng.uniform(0.5, 1.0), end)]
        boot = rng.random() < 0.25
        for begin, finish in periods:
            if home:
                parts.append((begin, finish, HOME, boot))
            else:
                for i, (a, b, where) in enumerate(_office_parts(rng, device, site, begin, finish)):
                    parts.append((a, b, where, boot and i == 0))
            boot = False
        if rng.random() < 0.06:
            begin = max(end + 0.5, 20.0 + rng.uniform(0.0, 1.5))
            parts.append((begin, begin + rng.uniform(0.25, 0.75), HOME, False))
    return [
        Segment(_abs_minute(day, site, a), _abs_minute(day, site, b), where, boot)
        for a, b, where, boot in parts
    ]


def plan(device: Device, site: Site, first: int, last: int, always_on: bool) -> list[Segment]:
    """The device's awake segments within minutes [first, last), sorted, not overlapping."""
    if always_on or device.always_on:
        return [Segment(first, last, device.desk)]
    rng = random.Random(f"{device.seed}:plan")
    day = datetime.fromtimestamp(first * 60, site.tz).date() - timedelta(days=1)
    stop = datetime.fromtimestamp(last * 60, site.tz).date() + timedelta(days=1)
    out: list[Segment] = []
    while day <= stop:
        for seg in _day(rng, device, site, day):
            start = max(seg.start, first, out[-1].end if out else first)
            end = min(seg.end, last)
            if end > start:
                out.append(seg._replace(start=start, end=end, boot=seg.boot and start == seg.start))
        day += timedelta(days=1)
    return out
