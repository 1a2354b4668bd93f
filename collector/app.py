"""The collector's FastAPI application factory.

``create_app()`` builds an app from settings (environment by default); it migrates the database
on start when ``migrate_on_start`` is set. Run it with ``dexpulse collector serve`` or any ASGI
server: ``uvicorn --factory dexpulse.collector.app:create_app``.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from dexpulse.schema import Batch

from . import migrations
from .api import (
    checkin,
    devices,
    enroll,
    health,
    ingest,
    outages,
    scores,
    secrets,
    speedtest,
    surveys,
)
from .console import pages as console
from .console import web as console_web
from .db import make_engine, make_sessionmaker
from .errors import install_error_handlers
from .jobs import Jobs, utc_now
from .limits import BodyLimit
from .metrics import Metrics
from .notify import NotifySettings
from .outages.delivery import Deliverer
from .outages.job import DetectionJob
from .retention import RetentionJob, RetentionPolicy
from .scores.job import ScoringJob
from .settings import CollectorSettings
from .surveys.job import SurveyJob
from .writer import BatchWriter


def create_app(
    settings: CollectorSettings | None = None,
    *,
    notify: NotifySettings | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    """``clock`` is what ingest stamps arrivals with and the jobs run by (tests move it)."""
    settings = settings or CollectorSettings()
    notify = notify or NotifySettings()
    engine = make_engine(settings.resolved_database_url())
    sessions = make_sessionmaker(engine)
    deliverer = Deliverer(
        sessions, notify.notify_destinations, clock, console_url=notify.console_url
    )
    detection = DetectionJob(
        sessions,
        snapshot_every=settings.detection_snapshot_every,
        on_event=deliverer.enqueue,
    )
    scoring = (
        ScoringJob(sessions, settings.scoring, settings.scoring_day_slots)
        if settings.scoring_enabled
        else None
    )
    retention = (
        RetentionJob(engine, RetentionPolicy.from_settings(settings))
        if settings.retention_enabled
        else None
    )
    metrics = Metrics(sessions)
    jobs = Jobs(
        detection if settings.detection_enabled else None,
        deliverer,
        clock,
        scoring,
        SurveyJob(sessions),
        retention,
        metrics,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await run_in_threadpool(migrations.upgrade, engine)
        await run_in_threadpool(jobs.prepare)
        # What is alive now (modules, routes, schemas) lives as long as the app: keep it out of
        # the cycle collector's full passes, which otherwise walk it all and stall a request
        # for tens of ms every few requests. Given back at shutdown, so nothing stays frozen.
        gc.freeze()
        jobs.start()
        yield
        await run_in_threadpool(jobs.stop)
        await run_in_threadpool(app.state.writer.close)
        gc.unfreeze()
        deliverer.close()
        engine.dispose()

    app = FastAPI(
        title="dexpulse collector",
        version=version("dexpulse"),
        summary="Receives endpoint telemetry, scores experience and flags outages.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.clock = clock
    app.state.detection = detection
    app.state.jobs = jobs
    app.state.deliverer = deliverer
    app.state.metrics = metrics
    app.state.device_tokens = ingest.DeviceTokens()
    app.state.writer = BatchWriter(sessions)
    app.state.html_errors = console_web.error_page
    install_error_handlers(app)
    app.add_middleware(
        BodyLimit,
        limit=settings.max_request_bytes,
        exempt=frozenset({"/api/v1/ingest", speedtest.UPLOAD_PATH}),  # both cap themselves
    )
    app.add_middleware(console_web.SecurityHeaders)
    routers = (health, enroll, ingest, checkin, devices, outages, scores, secrets, speedtest)
    for module in (*routers, surveys, console):
        app.include_router(module.router)
    app.include_router(console.root)
    app.mount("/console/static", console.static, name="console-static")
    _document_batch_schema(app)
    return app


def _document_batch_schema(app: FastAPI) -> None:
    """Put the wire contract's Batch schema into OpenAPI (ingest reads its body by hand)."""
    base_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = base_openapi()
        batch = Batch.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(batch.pop("$defs", {}))
        schemas["Batch"] = batch
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
