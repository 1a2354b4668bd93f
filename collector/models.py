"""Storage models (SQLAlchemy 2.0). The schema itself is created by Alembic migrations.

Samples are kept as one row each with their kind and event time as columns (indexed for
time-range queries per device and kind) and the rest of their fields as JSON (JSONB on
PostgreSQL). Credentials are stored only as SHA-256 hashes of high-entropy tokens.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .db import UtcDateTime

JsonType = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only


# Named constraints, so later migrations (batch mode on SQLite) can address them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JsonType}


class EnrollmentSecret(Base):
    __tablename__ = "enrollment_secrets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    max_uses: Mapped[int | None]
    uses: Mapped[int] = mapped_column(default=0)
    revoked_at: Mapped[datetime | None]


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hostname: Mapped[str] = mapped_column(String(256))
    os: Mapped[str] = mapped_column(String(16))
    os_version: Mapped[str | None] = mapped_column(String(256))
    os_build: Mapped[str | None] = mapped_column(String(256))
    model: Mapped[str | None] = mapped_column(String(256))
    manufacturer: Mapped[str | None] = mapped_column(String(256))
    agent_version: Mapped[str | None] = mapped_column(String(256))
    tags: Mapped[dict[str, Any]]
    enrolled_at: Mapped[datetime]
    enrollment_secret_id: Mapped[int | None] = mapped_column(ForeignKey("enrollment_secrets.id"))
    last_seen_at: Mapped[datetime | None]
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at: Mapped[datetime | None]


class IngestedBatch(Base):
    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_device_received", "device_id", "received_at"),)

    batch_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    schema_version: Mapped[int]
    sent_at: Mapped[datetime]
    received_at: Mapped[datetime]
    clock_offset_s: Mapped[float]
    sample_count: Mapped[int]
    dropped_count: Mapped[int]


class SampleRow(Base):
    __tablename__ = "samples"
    __table_args__ = (
        Index("ix_samples_device_kind_ts", "device_id", "kind", "ts"),
        Index("ix_samples_kind_ts", "kind", "ts"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"))
    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("batches.batch_id"))
    kind: Mapped[str] = mapped_column(String(32))
    ts: Mapped[datetime]
    data: Mapped[dict[str, Any]]


class AgentConfigDocument(Base):
    """The fleet's agent settings (one row): defaults and rules by tag, as IT last saved them."""

    __tablename__ = "agent_config"

    id: Mapped[int] = mapped_column(primary_key=True)
    document: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class OutageRecord(Base):
    """An outage as detection last described it (the detector forgets resolved ones; this
    table does not). ``document`` is the API's JSON object; the columns are what is filtered."""

    __tablename__ = "outages"
    __table_args__ = (Index("ix_outages_status_started", "status", "started_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    signal: Mapped[str] = mapped_column(String(32))
    cohort: Mapped[dict[str, Any]]
    started_at: Mapped[datetime]
    detected_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    affected_devices: Mapped[int]
    exposed_devices: Mapped[int]
    document: Mapped[dict[str, Any]]
    devices: Mapped[dict[str, Any]]
    """{"affected": [device ids]}: who to show on the detail page and survey afterwards."""
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    """The console user who said "we are on it"."""
    closed_by: Mapped[str | None] = mapped_column(String(200))
    """The console user who resolved it by hand (detection reopens it if it still sees it)."""


class OutageEvent(Base):
    """What happened to an outage, in order: the live stream and the notifications read it.
    One row per (outage, event, minute), so a replica catching up cannot announce twice."""

    __tablename__ = "outage_events"
    __table_args__ = (UniqueConstraint("outage_id", "event", "minute"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    outage_id: Mapped[str] = mapped_column(ForeignKey("outages.id"), index=True)
    event: Mapped[str] = mapped_column(String(16))
    minute: Mapped[datetime]
    """The event-time minute the transition happened in."""
    at: Mapped[datetime]
    """The clock time detection recorded it."""
    outage: Mapped[dict[str, Any]]
    """The outage as it was then."""


class Notification(Base):
    """The outbox: one row per event and destination, delivered by the notification job
    with retries, so a slow or dead receiver never holds detection up."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("event_id", "destination"),
        Index("ix_notifications_state_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outage_events.id"))
    destination: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    """pending | sent | failed"""
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(1000))
    sent_at: Mapped[datetime | None]


class DetectionState(Base):
    """The detection job's progress (one row): which sample rows it has read, the clock of
    its last run, who holds the lease, and a snapshot of the detector to resume from."""

    __tablename__ = "detection_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    cursor: Mapped[int] = mapped_column(BigInteger)
    clock: Mapped[datetime | None]
    holder: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    snapshot: Mapped[bytes | None] = mapped_column(LargeBinary)
    snapshot_version: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class JobSlot(Base):
    """The last slot (the minute or hour its schedule fired for) each scheduled job ran for,
    by which process, and how many slots it has run in all. Every replica's scheduler fires
    for every slot; the first to claim it runs it, the others find it taken and skip."""

    __tablename__ = "job_slots"

    job: Mapped[str] = mapped_column(String(32), primary_key=True)
    slot: Mapped[datetime]
    runner: Mapped[str] = mapped_column(String(200))
    """``host:pid`` of the process that ran the slot."""
    runs: Mapped[int] = mapped_column(BigInteger)


class ScoringState(Base):
    """The scoring job's progress (one row): which sample rows it has tallied (an id cursor
    with the ids read above a hole, as the detection job's; see ``outages.reader``)."""

    __tablename__ = "scoring_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    cursor: Mapped[int] = mapped_column(BigInteger)
    above: Mapped[list[int]] = mapped_column(JsonType)
    gap_since: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class ScoreHour(Base):
    """One device-hour's experience score (UTC clock hour). ``tally`` is what its samples add
    up to so far (the job folds new samples into it); ``aggregates`` the sums its score, its
    breakdown (``score_aggregates([aggregates])``) and its day are made from; ``fingerprint``
    the scoring configuration they were made with."""

    __tablename__ = "score_hours"
    __table_args__ = (Index("ix_score_hours_hour", "hour"),)

    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float)
    tally: Mapped[dict[str, Any]]
    aggregates: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class ScoreDay(Base):
    """One device-day's score (UTC day, from its hours: ``PeriodScore.to_json``)."""

    __tablename__ = "score_days"
    __table_args__ = (Index("ix_score_days_day", "day"),)

    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float)
    document: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class ScoreDayStale(Base):
    """A device-day with an hour scored since the day was: rescored (and the mark removed)
    within a few runs of the scoring job; ``since`` is when the first such hour was."""

    __tablename__ = "score_days_stale"

    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    since: Mapped[datetime]


class SurveyCampaign(Base):
    """A pulse survey as IT set it up: the question, who is asked, when and how often.
    ``target`` is ``{"tags": {key: value}, "sites": [...], "models": [...]}`` (all optional;
    a device must match every part given); ``trigger`` is ``schedule`` (every targeted device,
    once per round of ``repeat_days`` if set) or ``outage_resolved`` (the devices an outage
    affected, once it is resolved)."""

    __tablename__ = "survey_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(String(500))
    answer: Mapped[str] = mapped_column(String(16))
    comment: Mapped[bool]
    anonymous: Mapped[bool]
    target: Mapped[dict[str, Any]]
    sample_rate: Mapped[float] = mapped_column(Float)
    trigger: Mapped[str] = mapped_column(String(32))
    trigger_signals: Mapped[list[str]] = mapped_column(JsonType)
    """For ``outage_resolved``: only outages of these signals (empty: any)."""
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    repeat_days: Mapped[int | None]
    respond_within_h: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    """active | paused | ended"""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SurveyOfferRecord(Base):
    """One survey put to one device: what check-in hands the agent while ``pending``, and
    what the response rate is counted on. ``survey_id`` is the same for every device asked
    in the same round (so an anonymous answer does not name its device)."""

    __tablename__ = "survey_offers"
    __table_args__ = (
        UniqueConstraint("device_id", "survey_id"),
        Index("ix_survey_offers_campaign_status", "campaign_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("survey_campaigns.id"))
    survey_id: Mapped[str] = mapped_column(String(100))
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id"))
    outage_id: Mapped[str | None] = mapped_column(String(64))
    not_before: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    """pending | answered | dismissed | expired"""
    created_at: Mapped[datetime]


class SurveyAnswer(Base):
    """One answer. ``device_id`` is empty and ``answered_on`` only the day for anonymous
    campaigns; ``groups`` holds the device's site, department, model and OS at answer time,
    so results can be broken down without a device link."""

    __tablename__ = "survey_answers"
    __table_args__ = (Index("ix_survey_answers_campaign", "campaign_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("survey_campaigns.id"))
    survey_id: Mapped[str] = mapped_column(String(100))
    device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id"))
    answered_on: Mapped[datetime]
    rating: Mapped[int | None]
    yes_no: Mapped[bool | None]
    comment: Mapped[str | None] = mapped_column(String(4096))
    groups: Mapped[dict[str, Any]]


class ConsoleUser(Base):
    """A person who signs in to the console. ``password_hash`` is argon2id (pwdlib);
    ``name`` is stored as typed but unique without regard to case."""

    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    """``name`` case-folded: Alice and alice are one user."""
    password_hash: Mapped[str] = mapped_column(String(500))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]
    last_sign_in_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so a
    copy of the database cannot be replayed, and deleting the row signs the browser out."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_user", "user_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    """Sent back in every form and console POST; a cross-site page cannot read it."""
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class SignInAttempt(Base):
    """Every console sign-in attempt: the rate limit counts recent failures per name and per
    address from here (so it holds across replicas), and an admin can audit it."""

    __tablename__ = "console_sign_ins"
    __table_args__ = (
        Index("ix_console_sign_ins_name_at", "name_key", "at"),
        Index("ix_console_sign_ins_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name_key: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    ok: Mapped[bool]


class ScoreRollup(Base):
    """One UTC day of one group's device-day scores as sums (``scores.rollups``): what the
    console's fleet page reads instead of every device's day."""

    __tablename__ = "score_rollups"

    day: Mapped[date] = mapped_column(primary_key=True)
    dimension: Mapped[str] = mapped_column(String(64), primary_key=True)
    """fleet, model, os, os_build, app or a device tag (site, department...)."""
    value: Mapped[str] = mapped_column(String(256), primary_key=True)
    devices: Mapped[int]
    score_sum: Mapped[float] = mapped_column(Float)
    at_target: Mapped[int]
    losses: Mapped[dict[str, Any]]
    """cause -> points lost in all by the group's devices that day."""
    components: Mapped[dict[str, Any]]
    """component -> [sum of the device-days' component scores, device-days with it]."""
    histogram: Mapped[dict[str, Any]]
    """Tenth of a point (``floor(score * 10)``, as text) -> device-days scored in it."""
    updated_at: Mapped[datetime]
