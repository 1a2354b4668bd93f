"""``POST /api/v1/ingest``: where agents deliver batches.

Order matters for safety: authenticate from the headers alone, then read the body within the
compressed cap, inflate within the decompressed cap, validate, check that the token's device is
the batch's device, and store the batch in one transaction.

A laptop posts a batch a minute with the same token, so the device id of a token once found
valid is remembered (:class:`DeviceTokens`) and a batch costs one transaction, not two. That
does not delay a revocation: the batch's own transaction writes only to a device that is not
revoked (:func:`..ingest.store_batch`), and a refused token is forgotten.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPBearer
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from dexpulse.schema import Batch, ErrorResponse, IngestResponse

from ..body import BodyTooLarge, InvalidEncoding, gunzip_bounded, read_bounded
from ..errors import ApiError, clean_validation_errors, summarize
from ..ingest import Pending, duplicate_of, prepare
from ..security import bearer_token, token_hash
from ..timeline import TimePolicy
from ..writer import BatchWriter
from .deps import DeviceCaller, MetricsDep, SessionsDep, SettingsDep, device_caller

router = APIRouter(prefix="/api/v1", tags=["ingest"])
bearer = HTTPBearer(auto_error=False, description="The device token issued at enrollment.")

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        400: "Malformed JSON or gzip",
        401: "Missing, unknown or revoked device token",
        403: "The token belongs to another device than the batch's device_id",
        409: "The batch_id was used by another device",
        413: "Body larger than the compressed or decompressed cap, or too many JSON objects",
        415: "Not application/json, or an encoding other than gzip",
        422: "The batch does not match the schema",
    }.items()
}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Batch"}}},
    }
}


class DeviceTokens:
    """The device id of each token hash found valid, up to ``capacity`` of them (then it
    starts afresh: a fleet larger than that only pays a lookup per batch for some devices).
    Used from the event loop thread only."""

    def __init__(self, capacity: int = 262_144) -> None:
        self.capacity = capacity
        self._ids: dict[str, uuid.UUID] = {}

    def get(self, digest: str) -> uuid.UUID | None:
        return self._ids.get(digest)

    def remember(self, digest: str, device_id: uuid.UUID) -> None:
        if len(self._ids) >= self.capacity:
            self._ids.clear()
        self._ids[digest] = device_id

    def forget(self, digest: str) -> None:
        self._ids.pop(digest, None)


async def _caller(request: Request, factory: sessionmaker[Session]) -> tuple[str, uuid.UUID]:
    """The token's hash and its device: from memory, else from the database."""
    authorization = request.headers.get("authorization")
    token = bearer_token(authorization)
    digest = token_hash(token) if token is not None else ""
    tokens: DeviceTokens = request.app.state.device_tokens
    known = tokens.get(digest) if digest else None
    if known is not None:
        return digest, known
    caller: DeviceCaller = await run_in_threadpool(device_caller, factory, authorization)
    tokens.remember(digest, caller.device_id)
    return digest, caller.device_id


async def _read_json(request: Request, max_body: int, max_inflated: int) -> bytes:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the batch as application/json")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("gzip", "identity"):
        raise ApiError(415, "unsupported_encoding", f"Content-Encoding {encoding!r}: use gzip")
    try:
        raw = await read_bounded(request.stream(), max_body, request.headers.get("content-length"))
        return gunzip_bounded(raw, max_inflated) if encoding == "gzip" else raw
    except BodyTooLarge as exc:
        raise ApiError(413, "payload_too_large", str(exc)) from None
    except InvalidEncoding as exc:
        raise ApiError(400, "invalid_body", str(exc)) from None
    except ClientDisconnect:
        raise ApiError(400, "client_disconnected", "the body was not received whole") from None


def _parse(raw: bytes, max_objects: int) -> Batch:
    # Validation builds an object per JSON object, ~1 KiB each: a 10 MiB body of tiny objects
    # could cost near a gigabyte. Counting braces first (strings may hold some, so this only
    # errs on the strict side) bounds that before any object is built.
    if raw.count(b"{") > max_objects:
        raise ApiError(
            413,
            "too_many_objects",
            f"a batch may hold at most {max_objects} JSON objects; send smaller batches",
        )
    try:
        return Batch.model_validate_json(raw)
    except ValidationError as exc:
        errors = clean_validation_errors(list(exc.errors()))
        kinds = {e["type"] for e in errors}
        if "json_invalid" in kinds:
            raise ApiError(400, "malformed_json", summarize(errors)) from None
        code = "unknown_sample_kind" if "union_tag_invalid" in kinds else "validation_error"
        raise ApiError(422, code, summarize(errors), errors) from None


def _prepare(
    device_id: uuid.UUID, raw: bytes, policy: TimePolicy, received_at: datetime, max_objects: int
) -> Pending:
    batch = _parse(raw, max_objects)
    if batch.device_id != device_id:
        raise ApiError(403, "device_mismatch", "a device may only post its own batches")
    return prepare(device_id, batch, received_at, policy)


async def _store(
    request: Request, factory: sessionmaker[Session], pending: Pending
) -> IngestResponse:
    """Hand the batch to the process's writer (:mod:`..writer`) and wait for its commit."""
    writer: BatchWriter = request.app.state.writer
    try:
        result = await asyncio.wrap_future(writer.submit(pending))
    except IntegrityError:
        # Two deliveries of one batch raced; the loser reports the winner's result.
        batch_id = pending.batch.batch_id
        with factory() as session:
            if await run_in_threadpool(duplicate_of, session, pending.device_id, batch_id):
                return IngestResponse(batch_id=batch_id, duplicate=True, accepted=0)
        raise
    if isinstance(result, ApiError):
        raise result
    return result


@router.post(
    "/ingest",
    response_model=IngestResponse,
    responses=_ERRORS,
    openapi_extra=_BODY,
    summary="Deliver a batch of samples",
    dependencies=[Depends(bearer)],  # documents the scheme; the token is checked below
)
async def ingest(
    request: Request,
    factory: SessionsDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> IngestResponse:
    """Store a batch once, whatever the number of deliveries (gzip welcome)."""
    started = time.perf_counter()
    received_at = request.app.state.clock()  # before a slow upload looks like clock skew
    policy = TimePolicy(
        settings.clock_skew_tolerance_s,
        settings.max_future_s,
        settings.max_sample_age_days * 86400,
    )
    digest = ""
    try:
        digest, device_id = await _caller(request, factory)
        raw = await _read_json(request, settings.max_body_bytes, settings.max_decompressed_bytes)
        pending = await run_in_threadpool(
            _prepare, device_id, raw, policy, received_at, settings.max_json_objects
        )
        result = await _store(request, factory, pending)
    except ApiError as exc:
        if exc.status == 401:
            request.app.state.device_tokens.forget(digest)
        metrics.batches.labels("rejected", exc.error).inc()
        raise
    finally:
        metrics.latency.observe(time.perf_counter() - started)
    metrics.batches.labels("duplicate" if result.duplicate else "accepted", "").inc()
    metrics.samples.labels("accepted").inc(result.accepted)
    for reason, count in result.dropped.items():
        metrics.samples.labels(reason).inc(count)
    return result
