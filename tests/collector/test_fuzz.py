"""Property-based fuzzing of the whole API from its own OpenAPI document: no input gives a 5xx.

Schemathesis generates requests for every operation, valid ones (positive) and ones that break
the schema (negative). They carry real credentials, and half the generated batches and
enrollments have their device id and secret replaced by valid ones, so fuzzing reaches
validation and storage instead of stopping at authentication.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from support import Collector

from dexpulse.collector.security import Role

EXAMPLES = 40


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_causes_a_server_error(collector: Collector, mode: GenerationMode) -> None:
    device = collector.enroll()
    admin = collector.api_key(Role.ADMIN)
    secret = collector.enrollment_secret()
    schema = schemathesis.openapi.from_asgi("/openapi.json", collector.client.app)
    # The live stream never ends by design (its bad inputs are tested in test_outages_api.py).
    operations = [
        op
        for op in (result.ok() for result in schema.get_all_operations())
        if op.path != "/api/v1/outages/stream"
    ]
    assert {op.path for op in operations} >= {"/api/v1/ingest", "/api/v1/enroll"}
    calls: dict[str, int] = {}

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            if (
                case.path_parameters
                and "device_id" in case.path_parameters
                and (hash(repr(case.query)) % 2 == 0)
            ):  # reach the queries behind the device lookup, not only the 404
                case.path_parameters["device_id"] = device.device_id
            body = case.body
            if isinstance(body, dict) and hash(repr(body)) % 2 == 0:
                if "device_id" in body:
                    body["device_id"] = device.device_id
                if "enrollment_secret" in body:
                    body["enrollment_secret"] = secret
            token = device.headers if case.path == "/api/v1/ingest" else admin
            response = case.call(headers=token)
            where = f"{case.method} {case.formatted_path}"
            calls[where] = calls.get(where, 0) + 1
            assert response.status_code < 500, (where, response.text[:500])
            if response.status_code >= 400:
                assert {"error", "detail"} <= set(response.json()), (where, response.text)

        try:
            fuzz()
        except Unsatisfiable:
            # An operation with no parameters and no body has nothing to make invalid.
            assert mode is GenerationMode.NEGATIVE
            assert not operation.body and not operation.query, operation.path
    assert calls.get("POST /api/v1/ingest", 0) >= EXAMPLES // 2
    assert calls.get("POST /api/v1/enroll", 0) >= EXAMPLES // 2
