"""Shared fixtures: every collector test runs on SQLite and on a real PostgreSQL; GUI tests get
a private X server (Xvfb) and a Tk root on it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from support import TABLES, Collector, postgres_server_url, scratch_postgres_database
from xvfb import Xvfb, unavailable, xvfb_server

from dexpulse.collector import migrations
from dexpulse.collector.app import create_app
from dexpulse.collector.settings import CollectorSettings


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One migrated scratch database for the session; tests empty it before use."""
    with scratch_postgres_database(postgres_server_url()) as url:
        engine = create_engine(url)
        migrations.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'collector.db'}"
    url: str = request.getfixturevalue("pg_database")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> CollectorSettings:
    # the scheduled jobs run on the wall clock: tests that want one run it themselves
    return CollectorSettings(
        database_url=db_url,
        data_dir=tmp_path,
        detection_enabled=False,
        scoring_enabled=False,
        _env_file=None,
    )


@pytest.fixture
def collector(settings: CollectorSettings) -> Iterator[Collector]:
    with TestClient(create_app(settings)) as client:
        yield Collector(client)


@pytest.fixture(scope="session")
def xvfb_session() -> Iterator[Xvfb]:
    with xvfb_server() as server:
        yield server


@pytest.fixture
def xvfb(xvfb_session: Xvfb, monkeypatch: pytest.MonkeyPatch) -> Xvfb:
    """The session's Xvfb, with ``DISPLAY`` pointing at it for this test only."""
    monkeypatch.setenv("DISPLAY", xvfb_session.display)
    return xvfb_session


@pytest.fixture
def tk_root(xvfb: Xvfb) -> Iterator[Any]:
    """A withdrawn Tk root on the Xvfb display, destroyed after the test."""
    try:
        import tkinter
    except ImportError:
        unavailable("Python's Tk (tkinter) is not installed")
    root = tkinter.Tk(screenName=os.environ["DISPLAY"])
    root.withdraw()
    try:
        yield root
    finally:
        root.destroy()
