"""Pulse survey campaigns: create, list, pause, resume, end (admins), and their results.

A campaign is put to devices by the survey job (:mod:`..surveys.job`) within a minute of being
created or resumed; agents learn of their surveys at their next check-in. Results never show a
group of fewer than five answers (:mod:`..surveys.results`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import AfterValidator, BaseModel, Field, model_validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dexpulse.schema.types import UtcDatetime

from ..admin import now
from ..errors import ApiError
from ..models import Device, SurveyAnswer, SurveyCampaign, SurveyOfferRecord
from ..notify.destinations import Signal
from ..surveys.results import AnswerRow, OfferRow, summarize
from ..surveys.store import device_groups, put_surveys
from .deps import AdminDep, SessionDep, ViewerDep

router = APIRouter(prefix="/api/v1/surveys", tags=["surveys"])


def _words(value: str) -> str:
    """Trimmed, not blank, no NUL: a question the tray can show and the database can store."""
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_words)]
CampaignId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class Target(BaseModel):
    model_config = {"extra": "forbid"}

    tags: dict[Name, Name] = Field(default_factory=dict, max_length=8)
    sites: list[Name] = Field(default_factory=list, max_length=200)
    models: list[Name] = Field(default_factory=list, max_length=200)


class CampaignIn(BaseModel):
    """A new campaign. ``schedule``: every targeted device once (or once per ``repeat_days``)
    between ``starts_at`` and ``ends_at``; ``outage_resolved``: the devices an outage
    affected (of ``trigger_signals``, if given), ten minutes after it resolved."""

    model_config = {"extra": "forbid"}

    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_words)]
    question: Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_words)]
    answer: Literal["rating", "yes_no"]
    comment: bool = False
    anonymous: bool = False
    target: Target = Field(default_factory=Target)
    sample_rate: float = Field(default=1.0, gt=0, le=1)
    trigger: Literal["schedule", "outage_resolved"] = "schedule"
    trigger_signals: list[Signal] = Field(default_factory=list, max_length=20)
    starts_at: UtcDatetime | None = Field(default=None, description="Default: now.")
    ends_at: UtcDatetime | None = None
    repeat_days: int | None = Field(default=None, ge=1, le=365)
    respond_within_h: int = Field(default=72, ge=1, le=24 * 30)

    @model_validator(mode="after")
    def _consistent(self) -> CampaignIn:
        if self.ends_at is not None and self.starts_at is not None:
            if self.ends_at <= self.starts_at:
                raise ValueError("ends_at must be after starts_at")
        if self.trigger != "schedule" and self.repeat_days is not None:
            raise ValueError("repeat_days applies to schedule campaigns only")
        if self.trigger != "outage_resolved" and self.trigger_signals:
            raise ValueError("trigger_signals applies to outage_resolved campaigns only")
        return self


class Campaign(CampaignIn):
    id: int
    status: Literal["active", "paused", "ended"]
    created_at: datetime
    updated_at: datetime


class CampaignList(BaseModel):
    campaigns: list[Campaign]


class Results(BaseModel):
    campaign: Campaign
    min_group_size: int
    asked: int
    overall: dict[str, Any] | None = Field(
        description="Null when fewer than min_group_size answers have come in."
    )
    group_by: str | None
    groups: list[dict[str, Any]]
    hidden_groups: int = Field(description="Groups left out: fewer than min_group_size answers.")
    comments: list[str]


def _view(row: SurveyCampaign) -> Campaign:
    return Campaign(
        id=row.id,
        name=row.name,
        question=row.question,
        answer=row.answer,
        comment=row.comment,
        anonymous=row.anonymous,
        target=Target.model_validate(row.target),
        sample_rate=row.sample_rate,
        trigger=row.trigger,
        trigger_signals=row.trigger_signals,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        repeat_days=row.repeat_days,
        respond_within_h=row.respond_within_h,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _get(session: Session, campaign_id: int) -> SurveyCampaign:
    row = session.get(SurveyCampaign, campaign_id)
    if row is None:
        raise ApiError(404, "not_found", f"no survey campaign {campaign_id}")
    return row


@router.post("", response_model=Campaign, status_code=201)
def create_campaign(session: SessionDep, _: AdminDep, body: CampaignIn) -> Campaign:
    """Create a campaign; devices are asked from its start, within a minute."""
    return new_campaign(session, body)


def new_campaign(session: Session, body: CampaignIn) -> Campaign:
    at = now()
    starts = body.starts_at or at
    if body.ends_at is not None and body.ends_at <= starts:
        raise ApiError(422, "invalid_window", "ends_at must be after starts_at (default: now)")
    row = SurveyCampaign(
        **body.model_dump(exclude={"starts_at", "target"}),
        target=body.target.model_dump(),
        starts_at=starts,
        status="active",
        created_at=at,
        updated_at=at,
    )
    session.add(row)
    session.flush()
    put_surveys(session, at)  # asked from now, not from the job's next minute
    return _view(row)


@router.get("", response_model=CampaignList)
def list_campaigns(
    session: SessionDep,
    _: ViewerDep,
    status: Annotated[list[Literal["active", "paused", "ended"]] | None, Query()] = None,
) -> CampaignList:
    return CampaignList(campaigns=campaigns(session, status))


def campaigns(session: Session, status: Sequence[str] | None = None) -> list[Campaign]:
    query = select(SurveyCampaign).order_by(SurveyCampaign.id.desc())
    if status:
        query = query.where(SurveyCampaign.status.in_(status))
    return [_view(r) for r in session.scalars(query)]


@router.get("/{campaign_id}", response_model=Campaign)
def get_campaign(session: SessionDep, _: ViewerDep, campaign_id: CampaignId) -> Campaign:
    return _view(_get(session, campaign_id))


def set_status(session: Session, campaign_id: int, status: str) -> Campaign:
    """Pause, resume (putting its surveys at once) or end a campaign."""
    changed = _set_status(session, campaign_id, status)
    if status == "active":
        session.flush()
        put_surveys(session, now())
    return changed


def _set_status(session: Session, campaign_id: int, status: str) -> Campaign:
    row = _get(session, campaign_id)
    if row.status == "ended" and status != "ended":
        raise ApiError(409, "campaign_ended", f"survey campaign {campaign_id} has ended")
    at = now()
    row.status, row.updated_at = status, at
    if status == "ended":  # nobody is asked any more; an answer given from now on is refused
        pending = (SurveyOfferRecord.campaign_id == row.id, SurveyOfferRecord.status == "pending")
        session.execute(
            update(SurveyOfferRecord)
            .where(*pending, SurveyOfferRecord.expires_at > at)
            .values(expires_at=at)
        )
        session.execute(update(SurveyOfferRecord).where(*pending).values(status="expired"))
    return _view(row)


@router.post("/{campaign_id}/pause", response_model=Campaign)
def pause_campaign(session: SessionDep, _: AdminDep, campaign_id: CampaignId) -> Campaign:
    """Stop handing the campaign's surveys out (agents drop them at their next check-in)."""
    return _set_status(session, campaign_id, "paused")


@router.post("/{campaign_id}/resume", response_model=Campaign)
def resume_campaign(session: SessionDep, _: AdminDep, campaign_id: CampaignId) -> Campaign:
    return set_status(session, campaign_id, "active")


@router.post("/{campaign_id}/end", response_model=Campaign)
def end_campaign(session: SessionDep, _: AdminDep, campaign_id: CampaignId) -> Campaign:
    """End for good: pending surveys expire; the answers stay."""
    return _set_status(session, campaign_id, "ended")


@router.get("/{campaign_id}/results", response_model=Results)
def campaign_results(
    session: SessionDep,
    _: ViewerDep,
    campaign_id: CampaignId,
    group_by: Annotated[
        str | None,
        Query(max_length=100, description="site, department, model, os or any tag name"),
    ] = None,
) -> Results:
    """Response rate and answer distribution, overall and per group (groups of fewer than
    five answers hidden). Answers are grouped as the device was when it answered; the asked
    as the device is now."""
    return results(session, campaign_id, group_by)


def results(session: Session, campaign_id: int, group_by: str | None) -> Results:
    row = _get(session, campaign_id)
    answers = [
        AnswerRow(a.rating, a.yes_no, a.comment, a.groups)
        for a in session.scalars(
            select(SurveyAnswer)
            .where(SurveyAnswer.campaign_id == row.id)
            .order_by(SurveyAnswer.id.desc())
        )
    ]
    offers = [
        OfferRow(o.status, device_groups(o.tags or {}, o.model, o.os))
        for o in session.execute(
            select(SurveyOfferRecord.status, Device.tags, Device.model, Device.os)
            .join(Device, Device.id == SurveyOfferRecord.device_id)
            .where(SurveyOfferRecord.campaign_id == row.id)
        )
    ]
    summary = summarize(row.answer, answers, offers, group_by)
    if row.anonymous:  # in no order that follows the answers' arrival
        summary["comments"] = sorted(summary["comments"])
    return Results(campaign=_view(row), **summary)
