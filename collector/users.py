"""Console users: people who sign in to the IT console with a name and a password.

Passwords are hashed with argon2id through pwdlib (its recommended parameters); a hash made
with older parameters is replaced at the next successful sign-in. Checking a name that does
not exist still runs one hash verification, so the time a sign-in takes does not tell
whether the name is known. Names are unique without regard to case.
"""

from __future__ import annotations

from datetime import datetime

from pwdlib import PasswordHash
from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import ApiError
from .models import ConsoleUser
from .security import Role

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
"""Long passphrases are welcome; a megabyte 'password' is a way to burn CPU."""

_hasher = PasswordHash.recommended()
_DUMMY = _hasher.hash("dexpulse: a password no one has")


def key_of(name: str) -> str:
    return name.strip().casefold()


def check_password(name: str, password: str) -> None:
    """Refuse a password that is too short, too long or the user's own name."""
    if len(password) < MIN_PASSWORD:
        raise ApiError(
            422, "weak_password", f"the password must have at least {MIN_PASSWORD} characters"
        )
    if len(password) > MAX_PASSWORD:
        raise ApiError(422, "invalid_password", f"the password may have {MAX_PASSWORD} at most")
    if password.strip().casefold() == key_of(name):
        raise ApiError(422, "weak_password", "the password must not be the user name")


def create_user(
    session: Session, name: str, password: str, role: Role, now: datetime
) -> ConsoleUser:
    clean = name.strip()
    if not clean or len(clean) > 200 or any(ord(c) < 32 for c in clean):
        raise ApiError(422, "invalid_name", "a user name has 1 to 200 printable characters")
    check_password(clean, password)
    if session.scalar(select(ConsoleUser.id).where(ConsoleUser.name_key == key_of(clean))):
        raise ApiError(409, "user_exists", f"a user named {clean!r} exists already")
    row = ConsoleUser(
        name=clean,
        name_key=key_of(clean),
        password_hash=_hasher.hash(password),
        role=role.value,
        created_at=now,
        password_changed_at=now,
    )
    session.add(row)
    session.flush()
    return row


def find_user(session: Session, name: str) -> ConsoleUser:
    row = session.scalar(select(ConsoleUser).where(ConsoleUser.name_key == key_of(name)))
    if row is None:
        raise ApiError(404, "not_found", f"no user named {name.strip()!r}")
    return row


def authenticate(session: Session, name: str, password: str, now: datetime) -> ConsoleUser | None:
    """The enabled user with this name and password, or None (whatever was wrong)."""
    if len(password) > MAX_PASSWORD:
        return None
    row = session.scalar(select(ConsoleUser).where(ConsoleUser.name_key == key_of(name)))
    if row is None:
        _hasher.verify(password, _DUMMY)  # as long as a real check
        return None
    valid, upgraded = _hasher.verify_and_update(password, row.password_hash)
    if not valid or row.disabled_at is not None:
        return None
    if upgraded is not None:
        row.password_hash = upgraded
    row.last_sign_in_at = now
    return row


def set_password(session: Session, name: str, password: str, now: datetime) -> ConsoleUser:
    row = find_user(session, name)
    check_password(row.name, password)
    row.password_hash, row.password_changed_at = _hasher.hash(password), now
    return row


def set_disabled(session: Session, name: str, disabled: bool, now: datetime) -> ConsoleUser:
    row = find_user(session, name)
    row.disabled_at = (row.disabled_at or now) if disabled else None
    return row


def list_users(session: Session) -> list[ConsoleUser]:
    return list(session.scalars(select(ConsoleUser).order_by(ConsoleUser.id)))
