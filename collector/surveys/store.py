"""The database edge of pulse surveys: putting surveys to devices, handing them out at
check-in, and taking answers in with the batch that carries them.

Answers arrive as ``survey_response`` samples in ordinary batches (the agent spools them like
any sample, so they survive offline periods). Ingest hands them here, in the batch's own
transaction: the device's survey is marked answered, dismissed or expired, and an answer is
stored in ``survey_answers`` with the device's groups as they are now. When the campaign is
anonymous (the campaign's flag rules, not the sample's), the answer row has no device and only
the day, and the sample is not kept among the device's samples at all.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dexpulse.schema import SampleBase, SurveyResponseSample
from dexpulse.schema.checkin import SurveyOffer

from ..db import chunks, try_job_lock, upsert
from ..models import Device, OutageRecord, SurveyAnswer, SurveyCampaign, SurveyOfferRecord
from . import plan

log = logging.getLogger(__name__)
LOCK_KEY = 0x5355_5256  # "SURV": the survey job's advisory lock
ANONYMOUS_GROUPS = ("site", "department", "model", "os")
"""All an anonymous answer keeps of its device: other tags may name a person."""


def campaign_plan(row: SurveyCampaign) -> plan.Campaign:
    return plan.Campaign(
        id=row.id,
        target=row.target,
        sample_rate=row.sample_rate,
        trigger=row.trigger,
        trigger_signals=tuple(row.trigger_signals),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        repeat_days=row.repeat_days,
        respond_within=timedelta(hours=row.respond_within_h),
    )


def device_groups(tags: dict[str, Any], model: str | None, os: str | None) -> dict[str, Any]:
    """What results may be broken down by: the device's tags, model and OS."""
    groups: dict[str, Any] = {str(k): v for k, v in tags.items() if isinstance(v, str)}
    groups["model"] = model
    groups["os"] = os
    return groups


def _anonymous(groups: dict[str, Any]) -> dict[str, Any]:
    return {k: groups.get(k) for k in ANONYMOUS_GROUPS}


def _facts(session: Session) -> dict[uuid.UUID, plan.DeviceFacts]:
    rows = session.execute(
        select(Device.id, Device.tags, Device.model, Device.os).where(Device.revoked_at.is_(None))
    )
    return {r.id: plan.DeviceFacts(r.id, r.tags or {}, r.model, r.os) for r in rows}


def put_surveys(session: Session, now: datetime) -> int:
    """Create the surveys the active campaigns owe devices as of ``now``; expire the overdue.
    Idempotent: a (device, survey) pair is created once. Returns how many were created.
    One transaction at a time does it (an advisory lock on PostgreSQL; another replica's
    run, or a campaign created meanwhile, is picked up by the next run)."""
    if not try_job_lock(session, LOCK_KEY):
        return 0
    session.execute(
        update(SurveyCampaign)
        .where(SurveyCampaign.status != "ended", SurveyCampaign.ends_at <= now)
        .values(status="ended", updated_at=now)
    )
    session.execute(
        update(SurveyOfferRecord)
        .where(SurveyOfferRecord.status == "pending", SurveyOfferRecord.expires_at <= now)
        .values(status="expired")
    )
    campaigns = session.scalars(
        select(SurveyCampaign).where(SurveyCampaign.status == "active")
    ).all()
    if not campaigns:
        return 0
    facts = _facts(session)
    planned: list[plan.PlannedOffer] = []
    for row in campaigns:
        campaign = campaign_plan(row)
        if campaign.trigger == "schedule":
            planned += plan.scheduled_offers(campaign, facts.values(), now)
            continue
        oldest = now - campaign.respond_within - plan.AFTER_OUTAGE_DELAY
        outages = session.execute(
            select(OutageRecord.id, OutageRecord.signal, OutageRecord.resolved_at,
                   OutageRecord.devices)
            .where(
                OutageRecord.status == "resolved",
                OutageRecord.resolved_at >= max(campaign.starts_at, oldest),
            )
        )  # fmt: skip
        resolved = [
            plan.ResolvedOutage(
                o.id,
                o.signal,
                o.resolved_at,
                tuple(uuid.UUID(d) for d in (o.devices or {}).get("affected", [])),
            )
            for o in outages
        ]
        planned += plan.outage_offers(campaign, resolved, facts, now)
    rows = [
        {
            "campaign_id": p.campaign_id,
            "survey_id": p.survey_id,
            "device_id": p.device_id,
            "outage_id": p.outage_id,
            "not_before": p.not_before,
            "expires_at": p.expires_at,
            "status": "pending",
            "created_at": now,
        }
        for p in planned
    ]
    existing: set[tuple[uuid.UUID, str]] = set()
    for ids in chunks({p.survey_id for p in planned}, 500):
        found = session.execute(
            select(SurveyOfferRecord.device_id, SurveyOfferRecord.survey_id).where(
                SurveyOfferRecord.survey_id.in_(ids)
            )
        )
        existing.update((device_id, survey_id) for device_id, survey_id in found)
    new = sorted(  # one order everywhere: concurrent inserts of the same keys cannot deadlock
        (r for r in rows if (r["device_id"], r["survey_id"]) not in existing),
        key=lambda r: (str(r["device_id"]), r["survey_id"]),
    )
    for part in chunks(new, 1000):  # another replica may race us: a pair is created once
        upsert(session, SurveyOfferRecord, part, ["device_id", "survey_id"])
    return len(new)


def pending_for(session: Session, device_id: uuid.UUID, now: datetime) -> list[SurveyOffer]:
    """The surveys check-in hands this device: pending, unexpired, of a running campaign."""
    rows = session.execute(
        select(SurveyOfferRecord, SurveyCampaign)
        .join(SurveyCampaign, SurveyCampaign.id == SurveyOfferRecord.campaign_id)
        .where(
            SurveyOfferRecord.device_id == device_id,
            SurveyOfferRecord.status == "pending",
            SurveyOfferRecord.expires_at > now,
            SurveyCampaign.status == "active",
        )
        .order_by(SurveyOfferRecord.not_before, SurveyOfferRecord.id)
        .limit(100)
    ).all()
    out: list[SurveyOffer] = []
    for offer, campaign in rows:
        try:
            out.append(
                SurveyOffer(
                    id=offer.survey_id,
                    campaign_id=str(campaign.id),
                    question=campaign.question,
                    answer=campaign.answer,
                    comment=campaign.comment,
                    anonymous=campaign.anonymous,
                    not_before=offer.not_before,
                    expires_at=offer.expires_at,
                )
            )
        except ValidationError:  # one bad campaign must not cost the device its check-in
            log.warning("survey campaign %d cannot be sent to devices", campaign.id)
    return out


def _open_to(offer: SurveyOfferRecord, sample: SurveyResponseSample) -> bool:
    """Whether ``sample`` settles ``offer``: a pending one, or an answer given before the
    offer expired that reached us after the job expired it (the agent was offline)."""
    if offer.status == "pending":
        return True
    return (
        offer.status == "expired" and sample.status == "answered" and sample.ts < offer.expires_at
    )


def take_responses(
    session: Session,
    device_id: uuid.UUID,
    samples: Sequence[SampleBase],
    groups: dict[str, Any],
) -> set[int]:
    """Record the batch's survey responses; the indexes of the samples that must not be
    stored as the device's samples (answers to anonymous campaigns, or marked anonymous)."""
    responses = [(i, s) for i, s in enumerate(samples) if isinstance(s, SurveyResponseSample)]
    if not responses:
        return set()
    ids = {s.survey_id for _, s in responses}
    offers = {
        o.survey_id: o
        for o in session.scalars(
            select(SurveyOfferRecord).where(
                SurveyOfferRecord.device_id == device_id, SurveyOfferRecord.survey_id.in_(ids)
            )
        )
    }
    # the campaign by the survey id, not only by this device's survey: an answer to an
    # anonymous campaign is never kept with the device, even one no survey row matches
    named = {s.survey_id: plan.campaign_of(s.survey_id) for _, s in responses}
    campaign_ids = {o.campaign_id for o in offers.values()}
    campaign_ids.update(c for c in named.values() if c is not None)
    anonymous_campaigns = (
        set(
            session.scalars(
                select(SurveyCampaign.id).where(
                    SurveyCampaign.anonymous.is_(True), SurveyCampaign.id.in_(campaign_ids)
                )
            )
        )
        if campaign_ids
        else set()
    )
    withheld: set[int] = set()
    for index, sample in responses:
        offer = offers.get(sample.survey_id)
        campaign_id = offer.campaign_id if offer is not None else named[sample.survey_id]
        anonymous = sample.anonymous or campaign_id in anonymous_campaigns
        if anonymous:
            withheld.add(index)
        if offer is None:
            continue  # not a survey of ours: an ordinary sample
        settled = not _open_to(offer, sample) or (
            session.execute(  # claimed: of two batches racing, one settles it
                update(SurveyOfferRecord)
                .where(SurveyOfferRecord.id == offer.id, SurveyOfferRecord.status == offer.status)
                .values(status=sample.status)
            ).rowcount  # type: ignore[attr-defined]
            != 1
        )
        if settled:  # already answered: a re-sent answer must not count twice in the score
            withheld.add(index)
            continue
        if sample.status != "answered":
            continue
        day = sample.ts.replace(hour=0, minute=0, second=0, microsecond=0)
        session.add(
            SurveyAnswer(
                campaign_id=offer.campaign_id,
                # anonymous: the campaign only (a round's or an outage's id narrows who)
                survey_id=f"c{offer.campaign_id}" if anonymous else sample.survey_id,
                device_id=None if anonymous else device_id,
                answered_on=day if anonymous else sample.ts,
                rating=sample.rating,
                yes_no=sample.yes_no,
                comment=sample.comment,
                groups=_anonymous(groups) if anonymous else groups,
            )
        )
    return withheld
