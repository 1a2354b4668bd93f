"""Console sign-in: server-side sessions, CSRF tokens and the sign-in rate limit.

A session is a row in ``console_sessions`` keyed by the SHA-256 of a random token that only
the browser's cookie holds (HttpOnly, SameSite=Lax, Secure over HTTPS). Deleting the row signs
the browser out; disabling a user or changing their password ends all their sessions, because
a session is only valid while it is newer than the password and the user is enabled.

Every state-changing console request carries the session's CSRF token (a hidden form field or
the ``X-CSRF-Token`` header) and, when the browser sends one, an ``Origin`` of the console
itself. The sign-in form, which has no session yet, uses a double-submit cookie instead.

Failed sign-ins are counted in the database (so the limit holds across replicas): 5 failures
for one name from one address, 20 from one address or 50 for one name in 15 minutes refuse
further attempts for the rest of that window, before any password is checked.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..models import ConsoleSession, ConsoleUser, SignInAttempt
from ..security import Role, token_hash
from ..users import authenticate, key_of

WINDOW = timedelta(minutes=15)
LIMIT_NAME_ADDRESS = 5
LIMIT_ADDRESS = 20
LIMIT_NAME = 50
TOUCH_EVERY = timedelta(minutes=1)
"""last_seen_at is written at most this often per session, so reading pages stays reads."""


@dataclass(frozen=True)
class Policy:
    idle: timedelta
    lifetime: timedelta


@dataclass(frozen=True)
class Viewer:
    """Who is looking at a console page."""

    user_id: int
    name: str
    role: Role
    csrf_token: str
    token_hash: str

    @property
    def admin(self) -> bool:
        return self.role is Role.ADMIN


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def same_secret(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def start_session(
    session: Session,
    user: ConsoleUser,
    now: datetime,
    address: str | None,
    user_agent: str | None,
) -> str:
    """A new session for ``user``; returns the cookie value (shown to nobody else)."""
    token = new_secret()
    session.add(
        ConsoleSession(
            token_hash=token_hash(token),
            user_id=user.id,
            csrf_token=new_secret(),
            created_at=now,
            last_seen_at=now,
            address=(address or "")[:64] or None,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    session.flush()
    return token


def current(session: Session, token: str | None, now: datetime, policy: Policy) -> Viewer | None:
    """The viewer a session cookie belongs to, or None if it is unknown or has ended."""
    if not token or len(token) > 200:
        return None
    found = session.execute(
        select(ConsoleSession, ConsoleUser)
        .join(ConsoleUser, ConsoleUser.id == ConsoleSession.user_id)
        .where(ConsoleSession.token_hash == token_hash(token))
    ).one_or_none()
    if found is None:
        return None
    row, user = found
    ended = (
        user.disabled_at is not None
        or row.created_at < user.password_changed_at
        or now - row.last_seen_at > policy.idle
        or now - row.created_at > policy.lifetime
    )
    if ended:
        session.delete(row)
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
    return Viewer(user.id, user.name, Role(user.role), row.csrf_token, row.token_hash)


def end_session(session: Session, token_hash_value: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash_value))


def end_all_sessions(session: Session, user_id: int) -> int:
    """Sign a user out everywhere (the admin page's "sign out all" and disabling use it)."""
    result = session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def prune(session: Session, now: datetime, policy: Policy) -> None:
    """Forget ended sessions and sign-in attempts older than a day."""
    session.execute(
        delete(ConsoleSession).where(
            (ConsoleSession.last_seen_at < now - policy.idle)
            | (ConsoleSession.created_at < now - policy.lifetime)
        )
    )
    session.execute(delete(SignInAttempt).where(SignInAttempt.at < now - timedelta(days=1)))


def _failures(session: Session, now: datetime, *where: object) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(SignInAttempt)
            .where(SignInAttempt.at > now - WINDOW, SignInAttempt.ok.is_(False), *where)  # type: ignore[arg-type]
        )
        or 0
    )


def throttled(session: Session, name: str, address: str, now: datetime) -> bool:
    """Whether sign-in is refused for this name or address for now."""
    key = key_of(name)
    by_name = SignInAttempt.name_key == key
    by_address = SignInAttempt.address == address
    return (
        _failures(session, now, by_name, by_address) >= LIMIT_NAME_ADDRESS
        or _failures(session, now, by_address) >= LIMIT_ADDRESS
        or _failures(session, now, by_name) >= LIMIT_NAME
    )


def sign_in(
    session: Session, name: str, password: str, address: str, now: datetime
) -> ConsoleUser | None:
    """Check a name and password, log the attempt, and return the user if they are right."""
    user = authenticate(session, name, password, now)
    session.add(
        SignInAttempt(name_key=key_of(name)[:200], address=address[:64], at=now, ok=bool(user))
    )
    return user
