"""Fixtures for the outage tests that only mean something on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from support import TABLES


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """The session's PostgreSQL database, emptied: for what only PostgreSQL does (concurrent
    writers, advisory locks, row locks)."""
    engine = create_engine(pg_database)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()
    return pg_database
