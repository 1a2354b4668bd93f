"""Log output: plain text for people, one JSON object per line for log pipelines."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from dexpulse.collector.logs import configure


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_logs_are_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure("info", as_json=True)
    logging.getLogger("dexpulse.test").info("batch %s stored", "b-1", extra={"device": "d-1"})
    logging.getLogger("dexpulse.test").debug("not shown at info")
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["msg"] == "batch b-1 stored" and entry["level"] == "INFO"
    assert entry["device"] == "d-1" and entry["logger"] == "dexpulse.test"
    assert entry["ts"].endswith("+00:00")


def test_uvicorn_config_defers_to_the_root_logger() -> None:
    config = configure("warning", as_json=False)
    assert config["disable_existing_loggers"] is False
    assert logging.getLogger().level == logging.WARNING
