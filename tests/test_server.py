"""The collector as users run it: a real server process, reached over HTTP on loopback."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from harness import MiB, Server, free_port, gzip_bomb, serve, stop, wait_healthy
from support import make_batch

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[Server]:
    with serve(db_url, tmp_path) as running:
        yield running


def test_make_run_serves_and_its_agent_reports(tmp_path: Path) -> None:
    """`make run`: /healthz within 30 s, then this machine's own samples in the collector."""
    port = free_port()
    env = {**os.environ, "DEXPULSE_PORT": str(port)}
    env.pop("DEXPULSE_DATABASE_URL", None)
    data_dir = tmp_path / "data"
    url = f"http://127.0.0.1:{port}"
    with (tmp_path / "make-run.log").open("wb") as log:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"DATA_DIR={data_dir}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_healthy(url, proc, timeout=30)
            assert (data_dir / "collector.db").is_file()  # SQLite under the data directory
            admin = Server(url, proc, {**env, "DEXPULSE_DATA_DIR": str(data_dir)})
            key = {
                "Authorization": "Bearer "
                + admin.cli("collector", "api-key", "create", "--role", "viewer")
            }
            kinds: set[str] = set()
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and "system" not in kinds:
                time.sleep(2)
                devices = httpx.get(f"{url}/api/v1/devices", headers=key).json()["devices"]
                for device in devices:
                    page = httpx.get(
                        f"{url}/api/v1/devices/{device['id']}/samples", headers=key
                    ).json()
                    kinds |= {s["kind"] for s in page["samples"]}
            assert "system" in kinds, (tmp_path / "make-run.log").read_text()[-3000:]
            assert devices[0]["tags"] == {"site": "local"}
        finally:
            stop(proc)
    assert f"{url}/" in (tmp_path / "make-run.log").read_text()


def test_enroll_and_ingest_over_http(server: Server) -> None:
    device_id, headers = server.enroll("wire-test", "macos")
    key = server.cli("collector", "api-key", "create", "--role", "viewer")
    batch = make_batch(device_id)
    body = gzip.compress(json.dumps(batch).encode())
    first = httpx.post(f"{server.url}/api/v1/ingest", content=body, headers=headers)
    again = httpx.post(f"{server.url}/api/v1/ingest", content=body, headers=headers)
    assert (first.json()["accepted"], again.json()["duplicate"]) == (1, True)
    samples = httpx.get(
        f"{server.url}/api/v1/devices/{device_id}/samples",
        headers={"Authorization": f"Bearer {key}"},
    ).json()["samples"]
    assert [s["kind"] for s in samples] == ["wifi"]
    assert "dexpulse_ingest_batches_total" in httpx.get(f"{server.url}/metrics").text


def test_gzip_bomb_is_refused_without_growing_the_server(server: Server) -> None:
    device_id, headers = server.enroll("bomber")
    # Warm up the request path so the baseline includes what any request costs.
    warm = gzip.compress(json.dumps(make_batch(device_id)).encode())
    assert httpx.post(f"{server.url}/api/v1/ingest", content=warm, headers=headers).is_success
    bomb = gzip_bomb(1000)
    assert len(bomb) < MiB  # about a gigabyte of zeros inside
    big = gzip_bomb(4000)  # about 4 MiB on the wire
    before = server.status_kib("VmHWM")
    for _ in range(3):
        refused = httpx.post(
            f"{server.url}/api/v1/ingest", content=bomb, headers=headers, timeout=10
        )
        assert refused.status_code == 413
        assert refused.json()["error"] == "payload_too_large"
    oversize = httpx.post(f"{server.url}/api/v1/ingest", content=big, headers=headers, timeout=10)
    assert oversize.status_code == 413
    grown_mib = (server.status_kib("VmHWM") - before) / 1024
    assert grown_mib < 50, f"peak RSS grew by {grown_mib:.1f} MiB"
    assert server.proc.poll() is None
