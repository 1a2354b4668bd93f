"""Agent configuration, declared once as pydantic models.

The agent reads a TOML file (``--config``, ``$DEXPULSE_AGENT_CONFIG``, or the platform default);
every setting has a default, so a file with just ``collector_url`` and ``enrollment_secret`` is
a working agent. ``dexpulse agent config --sample`` prints a commented sample generated from
these models, so the sample and the code cannot disagree.
"""

from __future__ import annotations

import os
import sys
import tomllib
from datetime import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from dexpulse.schema.envelope import Tags

MiB = 1024 * 1024
IdentifierMode = Literal["clear", "hashed", "omitted"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class SamplerSettings(Section):
    enabled: bool = Field(default=True, description="Run this sampler.")
    interval_s: float = Field(default=60.0, ge=1, description="Seconds between runs.")


def _every(seconds: float, what: str) -> Any:
    return Field(default_factory=lambda: SamplerSettings(interval_s=seconds), description=what)


class SamplersConfig(Section):
    system: SamplerSettings = _every(60, "CPU, memory, swap, disk, load, uptime.")
    wifi: SamplerSettings = _every(
        60, "Wi-Fi link quality; roams and disconnects between polls become wifi_event."
    )
    network_probe: SamplerSettings = _every(60, "DNS, TCP, TLS and HTTP timings per target.")
    throughput: SamplerSettings = _every(
        4 * 3600, "Download/upload speed against the collector, on AC power only."
    )
    app_crash: SamplerSettings = _every(60, "New application crash reports.")
    app_hang: SamplerSettings = _every(60, "Applications that stopped responding (Windows).")
    peripheral_failure: SamplerSettings = _every(60, "USB, Bluetooth and printer failures.")
    boot: SamplerSettings = _every(3600, "Boot duration, reported once per boot.")
    battery: SamplerSettings = _every(86400, "Battery charge and health.")
    inventory: SamplerSettings = _every(
        3600, "Apps and peripherals; sent at start, when they change, and daily."
    )


class ProbeTarget(Section):
    name: str = Field(description="Name reported as the probe's target.", min_length=1)
    url: str = Field(description="http:// or https:// URL; DNS, TCP, TLS and HTTP are timed.")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("probe URLs must start with http:// or https://")
        return value


class PrivacyConfig(Section):
    ssid: IdentifierMode = Field(
        default="clear", description="Report Wi-Fi network names clear, hashed or not at all."
    )
    bssid: IdentifierMode = Field(
        default="clear", description="Report access point addresses clear, hashed or not at all."
    )
    hash_key: SecretStr | None = Field(
        default=None,
        description="Organisation secret keying the HMAC of hashed identifiers "
        "(the same on every device, so one access point hashes alike fleet-wide).",
    )


class SpoolConfig(Section):
    max_bytes: int = Field(default=50 * MiB, ge=MiB, description="Spool size bound in bytes.")
    max_age_days: float = Field(default=7.0, gt=0, description="Spool age bound in days.")


class UploadConfig(Section):
    interval_s: float = Field(default=60.0, ge=1, description="Seconds between upload rounds.")
    max_batch_bytes: int = Field(
        default=MiB, ge=16 * 1024, le=MiB, description="Largest batch (JSON, before gzip)."
    )
    backoff_min_s: float = Field(default=1.0, gt=0, description="First retry delay bound.")
    backoff_max_s: float = Field(default=300.0, gt=0, description="Largest retry delay bound.")
    recovery_spread_s: float = Field(
        default=60.0,
        ge=0,
        description="After an outage, wait a random 0..this many seconds before sending, "
        "so a fleet does not reconnect at once.",
    )
    timeout_s: float = Field(default=30.0, gt=0, description="HTTP timeout per request.")


class SurveysConfig(Section):
    enabled: bool = Field(
        default=True, description="Serve pulse surveys to the tray over the local API."
    )
    min_interval_h: float = Field(
        default=24.0, ge=1, description="At most one survey prompt per this many hours."
    )
    snooze_h: float = Field(
        default=12.0, ge=12, description="'Remind me later' waits this long (12 h at least)."
    )
    quiet_start: time = Field(
        default=time(18, 0), description="Local time quiet hours start (no prompts)."
    )
    quiet_end: time = Field(default=time(9, 0), description="Local time quiet hours end.")
    weekend_quiet: bool = Field(default=True, description="No prompts on Saturday and Sunday.")
    max_shows: int = Field(
        default=3, ge=1, le=10, description="Prompts without an answer before a survey is dropped."
    )


class AgentConfig(Section):
    collector_url: str | None = Field(
        default=None, description="Base URL of the collector, e.g. https://dex.example.com."
    )
    enrollment_secret: SecretStr | None = Field(
        default=None,
        description="Secret to enroll with (unattended installs; also used to re-enroll when "
        "the collector no longer accepts the device token).",
    )
    ca_bundle: Path | None = Field(
        default=None, description="CA certificates to verify the collector with (PEM file)."
    )
    state_dir: Path = Field(
        default_factory=lambda: default_state_dir(),
        description="Where the spool, credentials and sampler state live.",
    )
    tags: Tags = Field(
        default_factory=dict, description="Labels sent with every batch (site, department)."
    )
    samplers: SamplersConfig = Field(default_factory=SamplersConfig)
    probes: list[ProbeTarget] = Field(
        default_factory=list,
        description="Endpoints to probe besides the collector itself (which is always probed).",
    )
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    spool: SpoolConfig = Field(default_factory=SpoolConfig)
    upload: UploadConfig = Field(default_factory=UploadConfig)
    surveys: SurveysConfig = Field(default_factory=SurveysConfig)


class ConfigError(ValueError):
    """The configuration file cannot be used; the message says where and why."""


def service_state_dir() -> Path:
    """Where the agent installed as a service (root or SYSTEM) keeps its state."""
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "dexpulse"
    if sys.platform == "darwin":
        return Path("/Library/Application Support/dexpulse")
    return Path("/var/lib/dexpulse")


def default_state_dir() -> Path:
    """systemd's ``StateDirectory=`` (``$STATE_DIRECTORY``) for the packaged service, else the
    service's place when root or SYSTEM, else the user's own (a developer's agent)."""
    if systemd := os.environ.get("STATE_DIRECTORY"):
        return Path(systemd.split(":", 1)[0])
    if sys.platform == "win32" or os.geteuid() == 0:
        return service_state_dir()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "dexpulse"


def default_config_path() -> Path:
    if env := os.environ.get("DEXPULSE_AGENT_CONFIG"):
        return Path(env)
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "dexpulse" / "agent.toml"
    if sys.platform == "darwin":
        return Path("/Library/Application Support/dexpulse/agent.toml")
    return Path("/etc/dexpulse/agent.toml")


def load(path: Path | None = None) -> AgentConfig:
    """The configuration in ``path`` (or the default path); defaults if that file is absent."""
    path = path or default_config_path()
    if not path.exists():
        return AgentConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        return AgentConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
