"""Who is asked which survey, and when: pure functions over plain data.

A campaign targets devices by tags, sites and models, and asks a deterministic sample of
them (the same devices whichever replica or run decides, so a re-run never asks anyone twice
nor changes its mind). A ``schedule`` campaign asks each targeted device once per round
(``repeat_days``, or once for the campaign's life); an ``outage_resolved`` campaign asks the
devices an outage affected, once it has resolved. The survey id a device answers with names
the campaign and the round or outage, never the device, so an anonymous answer stays so.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

AFTER_OUTAGE_DELAY = timedelta(minutes=10)
"""Asked this long after the outage resolved: long enough to notice it works again."""


@dataclass(frozen=True)
class Campaign:
    id: int
    target: Mapping[str, Any]
    sample_rate: float
    trigger: str
    trigger_signals: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime | None
    repeat_days: int | None
    respond_within: timedelta


@dataclass(frozen=True)
class DeviceFacts:
    id: uuid.UUID
    tags: Mapping[str, Any]
    model: str | None
    os: str | None


@dataclass(frozen=True)
class ResolvedOutage:
    id: str
    signal: str
    resolved_at: datetime
    affected: tuple[uuid.UUID, ...]


@dataclass(frozen=True)
class PlannedOffer:
    campaign_id: int
    survey_id: str
    device_id: uuid.UUID
    outage_id: str | None
    not_before: datetime
    expires_at: datetime


def targets(target: Mapping[str, Any], device: DeviceFacts) -> bool:
    """Whether ``device`` is in the campaign's audience: every given part must match."""
    tags = device.tags
    for key, value in (target.get("tags") or {}).items():
        if tags.get(key) != value:
            return False
    sites = target.get("sites") or []
    if sites and tags.get("site") not in sites:
        return False
    models = target.get("models") or []
    return not models or device.model in models


def sampled(campaign_id: int, device_id: uuid.UUID, rate: float) -> bool:
    """A stable coin toss per (campaign, device): the same answer on every run and replica."""
    if rate >= 1.0:
        return True
    digest = hashlib.sha256(f"{campaign_id}:{device_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def current_round(campaign: Campaign, now: datetime) -> tuple[int, datetime] | None:
    """The schedule round open at ``now`` (number, start), or None outside the window."""
    if now < campaign.starts_at or (campaign.ends_at is not None and now >= campaign.ends_at):
        return None
    if not campaign.repeat_days:
        return 1, campaign.starts_at
    period = timedelta(days=campaign.repeat_days)
    number = (now - campaign.starts_at) // period
    return number + 1, campaign.starts_at + number * period


def _until(campaign: Campaign, start: datetime) -> datetime:
    end = start + campaign.respond_within
    return min(end, campaign.ends_at) if campaign.ends_at is not None else end


def scheduled_offers(
    campaign: Campaign, devices: Iterable[DeviceFacts], now: datetime
) -> list[PlannedOffer]:
    """This round's survey for every targeted, sampled device (the store skips those that
    already have it). A device enrolled, or newly targeted, mid-round is asked from now and
    has the whole response window from then (within the round and the campaign)."""
    found = current_round(campaign, now)
    if found is None or campaign.trigger != "schedule":
        return []
    number, start = found
    not_before = max(start, now)
    expires = _until(campaign, not_before)
    if campaign.repeat_days:
        expires = min(expires, start + timedelta(days=campaign.repeat_days))
    if expires <= now:
        return []
    survey_id = f"c{campaign.id}-r{number}"
    return [
        PlannedOffer(campaign.id, survey_id, d.id, None, not_before, expires)
        for d in devices
        if targets(campaign.target, d) and sampled(campaign.id, d.id, campaign.sample_rate)
    ]


def outage_offers(
    campaign: Campaign,
    outages: Iterable[ResolvedOutage],
    devices: Mapping[uuid.UUID, DeviceFacts],
    now: datetime,
) -> list[PlannedOffer]:
    """A survey for every targeted, sampled device each resolved outage affected, asked
    a little after the resolution and open for the campaign's response window."""
    if campaign.trigger != "outage_resolved" or now < campaign.starts_at:
        return []
    out: list[PlannedOffer] = []
    for outage in outages:
        if campaign.trigger_signals and outage.signal not in campaign.trigger_signals:
            continue
        if outage.resolved_at < campaign.starts_at:
            continue
        if campaign.ends_at is not None and outage.resolved_at >= campaign.ends_at:
            continue
        not_before = outage.resolved_at + AFTER_OUTAGE_DELAY
        expires = _until(campaign, not_before)
        if expires <= now or expires <= not_before:  # closed, or would open after the end
            continue
        survey_id = f"c{campaign.id}-o{outage.id}"
        for device_id in outage.affected:
            device = devices.get(device_id)
            if device is None or not targets(campaign.target, device):
                continue
            if sampled(campaign.id, device_id, campaign.sample_rate):
                out.append(
                    PlannedOffer(campaign.id, survey_id, device_id, outage.id, not_before, expires)
                )
    return out


_SURVEY_ID = re.compile(r"c([0-9]{1,9})-[a-z]")


def campaign_of(survey_id: str) -> int | None:
    """The campaign a survey id belongs to (``c<campaign>-...``), None if it is not one
    (any text a device sends: only ASCII digits, and few enough for an integer column)."""
    found = _SURVEY_ID.match(survey_id)
    return int(found.group(1)) if found else None
