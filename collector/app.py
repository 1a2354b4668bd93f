"""The collector's FastAPI application factory.

``create_app()`` builds an app from settings (environment by default); it migrates the database
on start when ``migrate_on_start`` is set. Run it with ``dexpulse collector serve`` or any ASGI
server: ``uvicorn --factory dexpulse.collector.app:create_app``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from dexpulse.schema import Batch

from . import migrations
from .api import checkin, devices, enroll, health, ingest, secrets, speedtest
from .db import make_engine, make_sessionmaker
from .errors import install_error_handlers
from .limits import BodyLimit
from .metrics import Metrics
from .settings import CollectorSettings


def create_app(settings: CollectorSettings | None = None) -> FastAPI:
    settings = settings or CollectorSettings()
    engine = make_engine(settings.resolved_database_url())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await run_in_threadpool(migrations.upgrade, engine)
        yield
        engine.dispose()

    app = FastAPI(
        title="dexpulse collector",
        version=version("dexpulse"),
        summary="Receives endpoint telemetry, scores experience and flags outages.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.metrics = Metrics(app.state.sessions)
    install_error_handlers(app)
    app.add_middleware(
        BodyLimit,
        limit=settings.max_request_bytes,
        exempt=frozenset({"/api/v1/ingest", speedtest.UPLOAD_PATH}),  # both cap themselves
    )
    for module in (health, enroll, ingest, checkin, devices, secrets, speedtest):
        app.include_router(module.router)
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
