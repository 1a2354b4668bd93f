"""Collector settings, read from ``DEXPULSE_*`` environment variables or a ``.env`` file.

Declared once here; the README's configuration table lists the same fields.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .scoring import ScoringConfig


class CollectorSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DEXPULSE_", env_file=".env", env_ignore_empty=True, extra="ignore"
    )

    data_dir: Path = Field(
        default=Path("var"), description="Where the SQLite database lives when no URL is set."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host/db. "
        "Default: SQLite at <data_dir>/collector.db.",
    )
    host: str = Field(default="127.0.0.1", description="Address `collector serve` binds to.")
    port: int = Field(default=8470, ge=1, le=65535, description="Port `collector serve` binds to.")
    migrate_on_start: bool = Field(
        default=True, description="Apply database migrations when the collector starts."
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body accepted, as sent."
    )
    max_decompressed_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest ingest body after gunzip."
    )
    max_json_objects: int = Field(
        default=25_000,
        ge=100,
        description="Most JSON objects in one ingest body (bounds the memory validation takes).",
    )
    max_request_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Largest body accepted by every route other than ingest.",
    )
    clock_skew_tolerance_s: float = Field(
        default=300.0,
        ge=0,
        le=365 * 86400,
        description="A device clock off by more than this (received_at - sent_at) has its "
        "batch's timestamps corrected by the offset.",
    )
    max_future_s: float = Field(
        default=300.0,
        ge=0,
        le=365 * 86400,
        description="Samples later than arrival time plus this (after correction) are dropped.",
    )
    max_sample_age_days: float = Field(
        default=30.0, gt=0, le=3650, description="Samples older than this on arrival are dropped."
    )
    detection_enabled: bool = Field(
        default=True,
        description="Run the outage detection job (every minute; one replica at a time).",
    )
    detection_snapshot_every: int = Field(
        default=15,
        ge=1,
        le=1440,
        description="Detection runs between snapshots of the detector in the database (what "
        "another replica resumes from).",
    )
    scoring_enabled: bool = Field(
        default=True,
        description="Run the scoring job (every minute; one replica at a time).",
    )
    scoring: ScoringConfig = Field(
        default_factory=ScoringConfig,
        description="Experience score thresholds and weights as JSON (docs/scoring.md); a "
        "change applies to the hours and days computed after it.",
    )
    scoring_day_slots: int = Field(
        default=10,
        ge=1,
        le=60,
        description="A device's day score follows its hours within this many minutes (the "
        "fleet's days are spread over that many runs); 1 rescores every changed day at once, "
        "which a small fleet can afford.",
    )
    retention_enabled: bool = Field(
        default=True,
        description="Run the retention job (at startup, then hourly; one replica at a time): "
        "on PostgreSQL it creates the time partitions ahead and drops the expired ones; on "
        "SQLite it deletes expired rows in small chunks.",
    )
    retention_raw_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Days of raw samples and batches kept (whole UTC days before today; "
        "batches a day longer, so a sample never outlives its batch). Older samples that "
        "ingest still accepts (max_sample_age_days) are stored, and deleted by the next run.",
    )
    retention_hourly_days: int = Field(
        default=396,
        ge=1,
        le=36500,
        description="Days of hourly and daily scores kept (about 13 months by default; on "
        "PostgreSQL whole months of hours are dropped, so up to a month more is kept).",
    )
    partition_days_ahead: int = Field(
        default=7,
        ge=1,
        le=366,
        description="PostgreSQL: days of partitions created ahead of today, so the retention "
        "job missing runs for up to that long never sends a day's rows to the DEFAULT "
        "partition.",
    )
    console_cookie_secure: bool | None = Field(
        default=None,
        description="Mark the console's cookies Secure (HTTPS only). Default: when the "
        "request came over HTTPS (as a TLS proxy reports it in X-Forwarded-Proto).",
    )
    console_idle_minutes: int = Field(
        default=12 * 60,
        ge=5,
        le=30 * 24 * 60,
        description="A console session unused this long is signed out.",
    )
    console_session_hours: int = Field(
        default=7 * 24,
        ge=1,
        le=365 * 24,
        description="A console session ends this long after sign-in, however busy.",
    )
    console_proxy_user_header: str | None = Field(
        default=None,
        description="Behind a company SSO proxy: the request header naming the signed-in user "
        "(e.g. X-Forwarded-User). Trusted only from console_trusted_proxies.",
    )
    console_trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="Addresses whose console_proxy_user_header is believed (JSON list).",
    )
    log_level: str = Field(default="INFO", description="Python log level name.")
    log_json: bool = Field(default=False, description="Emit logs as one JSON object per line.")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'collector.db').resolve()}"
