"""Console users: argon2id hashes, the password rules, sign-in checks and the CLI."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from support import migrated

from dexpulse.agent.cli import main
from dexpulse.collector.db import transaction
from dexpulse.collector.errors import ApiError
from dexpulse.collector.models import ConsoleUser
from dexpulse.collector.security import Role
from dexpulse.collector.users import (
    authenticate,
    create_user,
    list_users,
    set_disabled,
    set_password,
)

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
GOOD = "correct horse battery staple"


def test_a_user_signs_in_with_the_password_only(db_url: str) -> None:
    with migrated(db_url) as sessions, transaction(sessions) as session:
        made = create_user(session, " Alice ", GOOD, Role.ADMIN, T0)
        assert made.name == "Alice" and made.role == "admin"
        assert made.password_hash.startswith("$argon2id$") and GOOD not in made.password_hash
        assert authenticate(session, "alice", GOOD, T0 + timedelta(minutes=1)) is made
        assert made.last_sign_in_at == T0 + timedelta(minutes=1)
        assert authenticate(session, "alice", GOOD.upper(), T0) is None
        assert authenticate(session, "bob", GOOD, T0) is None
        assert authenticate(session, "alice", "x" * 5000, T0) is None


def test_names_are_unique_without_regard_to_case(db_url: str) -> None:
    with migrated(db_url) as sessions, transaction(sessions) as session:
        create_user(session, "Alice", GOOD, Role.VIEWER, T0)
        with pytest.raises(ApiError) as twice:
            create_user(session, "ALICE", GOOD, Role.VIEWER, T0)
        assert twice.value.status == 409


@pytest.mark.parametrize(
    ("name", "password", "error"),
    [
        ("alice", "short", "weak_password"),
        ("alice-the-admin", "Alice-The-Admin", "weak_password"),  # the name itself
        ("alice", "p" * 1025, "invalid_password"),
        ("  ", GOOD, "invalid_name"),
        ("al\x00ice", GOOD, "invalid_name"),
    ],
)
def test_weak_passwords_and_bad_names_are_refused(
    db_url: str, name: str, password: str, error: str
) -> None:
    with migrated(db_url) as sessions, transaction(sessions) as session:
        with pytest.raises(ApiError) as refused:
            create_user(session, name, password, Role.VIEWER, T0)
        assert refused.value.error == error
        assert list_users(session) == []


def test_a_disabled_user_cannot_sign_in_and_a_new_password_replaces_the_old(
    db_url: str,
) -> None:
    with migrated(db_url) as sessions, transaction(sessions) as session:
        create_user(session, "alice", GOOD, Role.VIEWER, T0)
        set_disabled(session, "Alice", True, T0)
        assert authenticate(session, "alice", GOOD, T0) is None
        set_disabled(session, "alice", False, T0)
        set_password(session, "alice", "a brand new passphrase", T0 + timedelta(days=1))
        assert authenticate(session, "alice", GOOD, T0) is None
        assert authenticate(session, "alice", "a brand new passphrase", T0) is not None
        with pytest.raises(ApiError) as missing:
            set_password(session, "nobody", GOOD, T0)
        assert missing.value.status == 404


def test_the_first_admin_is_created_from_the_command_line(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEXPULSE_DATABASE_URL", db_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(GOOD + "\n"))
    assert main(["collector", "user", "create", "root@example.com", "--admin",
                 "--password-stdin"]) == 0  # fmt: skip
    assert "created admin user root@example.com" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("too short\n"))
    assert main(["collector", "user", "create", "viewer", "--password-stdin"]) == 1
    assert "at least 12 characters" in capsys.readouterr().err
    assert main(["collector", "user", "disable", "ROOT@example.com"]) == 0
    assert main(["collector", "user", "list"]) == 0
    listed = capsys.readouterr().out
    assert "root@example.com\tadmin\tdisabled\tlast sign-in never" in listed
    with migrated(db_url) as sessions, sessions() as session:
        (row,) = session.query(ConsoleUser).all()
        assert row.password_hash.startswith("$argon2id$")
