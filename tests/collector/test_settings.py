"""Collector settings: environment parsing, defaults, and the README's table kept complete."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dexpulse.collector.settings import CollectorSettings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text()
    missing = [
        name for name in CollectorSettings.model_fields if f"`DEXPULSE_{name.upper()}`" not in text
    ]
    assert missing == [], f"add these to the README's configuration table: {missing}"


def test_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEXPULSE_PORT", "9999")
    monkeypatch.setenv("DEXPULSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DEXPULSE_MIGRATE_ON_START", "false")
    settings = CollectorSettings(_env_file=None)
    assert settings.port == 9999 and settings.migrate_on_start is False
    assert settings.resolved_database_url() == f"sqlite:///{tmp_path / 'collector.db'}"
    monkeypatch.setenv("DEXPULSE_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert (
        CollectorSettings(_env_file=None).resolved_database_url() == "postgresql+psycopg://u@h/db"
    )


def test_settings_read_a_dotenv_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DEXPULSE_MAX_BODY_BYTES=2048\n")
    monkeypatch.chdir(tmp_path)
    assert CollectorSettings().max_body_bytes == 2048


def test_bad_settings_are_refused_with_the_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEXPULSE_PORT", "70000")
    with pytest.raises(ValidationError, match="port"):
        CollectorSettings(_env_file=None)
