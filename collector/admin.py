"""Administrative actions shared by the CLI and the admin API: credentials and devices.

Each function works in the caller's session and returns plain rows; a new secret's plaintext
is returned once and never stored.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .errors import ApiError
from .models import ApiKey, Device, EnrollmentSecret
from .security import API_KEY_PREFIX, ENROLLMENT_SECRET_PREFIX, Role, new_token, token_hash


def now() -> datetime:
    return datetime.now(UTC)


def create_enrollment_secret(
    session: Session, name: str, expires_in_days: float | None = None, max_uses: int | None = None
) -> tuple[EnrollmentSecret, str]:
    plaintext = new_token(ENROLLMENT_SECRET_PREFIX)
    created = now()
    row = EnrollmentSecret(
        name=name,
        secret_hash=token_hash(plaintext),
        created_at=created,
        expires_at=created + timedelta(days=expires_in_days) if expires_in_days else None,
        max_uses=max_uses,
        uses=0,
    )
    session.add(row)
    session.flush()
    return row, plaintext


def list_enrollment_secrets(session: Session) -> list[EnrollmentSecret]:
    return list(session.scalars(select(EnrollmentSecret).order_by(EnrollmentSecret.id)))


def revoke_enrollment_secret(session: Session, secret_id: int) -> EnrollmentSecret:
    row = session.get(EnrollmentSecret, secret_id)
    if row is None:
        raise ApiError(404, "not_found", f"no enrollment secret with id {secret_id}")
    row.revoked_at = row.revoked_at or now()
    return row


def create_api_key(session: Session, name: str, role: Role) -> tuple[ApiKey, str]:
    plaintext = new_token(API_KEY_PREFIX)
    row = ApiKey(name=name, key_hash=token_hash(plaintext), role=role.value, created_at=now())
    session.add(row)
    session.flush()
    return row, plaintext


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_api_key(session: Session, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise ApiError(404, "not_found", f"no API key with id {key_id}")
    row.revoked_at = row.revoked_at or now()
    return row


def revoke_device(session: Session, device_id: uuid.UUID) -> Device:
    """Revoke a device's token: its uploads are refused until it enrolls again."""
    row = session.get(Device, device_id)
    if row is None:
        raise ApiError(404, "not_found", f"no device with id {device_id}")
    row.revoked_at = row.revoked_at or now()
    return row


def consume_enrollment_secret(session: Session, plaintext: str) -> EnrollmentSecret:
    """Count one use of a valid secret, atomically; 401 for any unusable secret."""
    at = now()
    row = session.scalar(
        select(EnrollmentSecret).where(EnrollmentSecret.secret_hash == token_hash(plaintext))
    )
    usable = (
        row is not None
        and row.revoked_at is None
        and (row.expires_at is None or row.expires_at > at)
    )
    if usable and row is not None:
        cap = EnrollmentSecret.max_uses
        taken = session.execute(
            update(EnrollmentSecret)
            .where(EnrollmentSecret.id == row.id)
            .where(cap.is_(None) | (EnrollmentSecret.uses < cap))
            .values(uses=EnrollmentSecret.uses + 1)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return row
    raise ApiError(
        401,
        "invalid_enrollment_secret",
        "the enrollment secret is unknown, revoked, expired "
        "or used up; ask your IT admin for a current one",
    )
