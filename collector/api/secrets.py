"""Admin API for enrollment secrets (the CLI offers the same)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from ..admin import create_enrollment_secret, list_enrollment_secrets, revoke_enrollment_secret
from .deps import AdminDep, SessionDep
from .views import EnrollmentSecretCreate, EnrollmentSecretView, NewEnrollmentSecret

router = APIRouter(prefix="/api/v1/enrollment-secrets", tags=["admin"])


@router.get("", response_model=list[EnrollmentSecretView])
def list_secrets(session: SessionDep, _: AdminDep) -> list[EnrollmentSecretView]:
    """All enrollment secrets, without their values."""
    return [EnrollmentSecretView.model_validate(r) for r in list_enrollment_secrets(session)]


@router.post("", status_code=201, response_model=NewEnrollmentSecret)
def create_secret(
    session: SessionDep, _: AdminDep, body: EnrollmentSecretCreate
) -> NewEnrollmentSecret:
    """Create a secret for agents to enroll with; its value is shown only in this answer."""
    row, plaintext = create_enrollment_secret(
        session, body.name, body.expires_in_days, body.max_uses
    )
    view = EnrollmentSecretView.model_validate(row)
    return NewEnrollmentSecret(**view.model_dump(), secret=plaintext)


@router.post("/{secret_id}/revoke", response_model=EnrollmentSecretView)
def revoke_secret(
    session: SessionDep, _: AdminDep, secret_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> EnrollmentSecretView:
    """Revoke a secret: enrolled devices keep working, new enrollments with it fail."""
    return EnrollmentSecretView.model_validate(revoke_enrollment_secret(session, secret_id))
