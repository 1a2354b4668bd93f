"""How cheaply the collector refuses hostile bodies, next to the cost of a normal batch.

Starts ``dexpulse collector serve`` (SQLite in a temp dir unless --database-url), enrolls a
device, then times sequential requests on loopback:

* a normal batch: 30 samples, gzip;
* a gzip bomb: about 1 GiB of zeros in under 1 MiB, refused at the decompressed cap (413);
* an oversize body: about 4 MiB compressed, refused at the wire cap (413);
* the widest batch the object cap admits (about 25,000 tiny JSON objects), accepted;

and reports the server's resident memory before and its peak after. Target (issue 2): a
bomb is answered 413 in well under a second, and the process grows by less than 50 MiB.

    .venv/bin/python bench/gzip_bomb.py [--database-url URL] [--rounds N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from harness import MiB, gzip_bomb, serve


def widest_batch(device_id: str, seq: int) -> bytes:
    """The most JSON objects the collector's default cap lets through: many tiny apps."""
    now = datetime.now(UTC).isoformat()
    apps = [{"name": f"a{i}", "version": "1", "running": True} for i in range(4990)]
    samples = [{"kind": "inventory", "ts": now, "apps": apps} for _ in range(5)]
    return envelope(device_id, seq, now, samples)


def envelope(device_id: str, seq: int, now: str, samples: list[dict[str, object]]) -> bytes:
    body = {
        "device_id": device_id,
        "batch_id": str(uuid.uuid4()),
        "seq": seq,
        "sent_at": now,
        "agent": {"version": "bench", "os": "linux"},
        "tags": {"site": "bench"},
        "samples": samples,
    }
    return gzip.compress(json.dumps(body).encode())


def batch(device_id: str, seq: int) -> bytes:
    now = datetime.now(UTC).isoformat()
    samples = [
        {
            "kind": "wifi",
            "ts": now,
            "ssid": "corp",
            "bssid": "64:d1:54:00:00:01",
            "rssi_dbm": -60 - i % 20,
            "channel": 36,
            "rx_rate_mbps": 866.7,
        }
        for i in range(30)
    ]
    return envelope(device_id, seq, now, samples)


def timed(
    client: httpx.Client, url: str, body: bytes, headers: dict[str, str], expect: int
) -> float:
    start = time.perf_counter()
    response = client.post(url, content=body, headers=headers)
    elapsed = time.perf_counter() - start
    if response.status_code != expect:
        raise RuntimeError(f"expected {expect}, got {response.status_code}: {response.text}")
    return elapsed * 1000


def summary(name: str, ms: list[float]) -> str:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{name:<34} n={len(ms):<4} median {statistics.median(ms):8.2f} ms   p95 {p95:8.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--rounds", type=int, default=20, help="bombs and oversize bodies each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        with serve(url, Path(tmp)) as server, httpx.Client(timeout=30) as client:
            device_id, headers = server.enroll("bench")
            ingest = f"{server.url}/api/v1/ingest"
            normal = [timed(client, ingest, batch(device_id, i), headers, 200) for i in range(200)]
            rss_before = server.status_kib("VmRSS") / 1024
            hwm_before = server.status_kib("VmHWM") / 1024
            the_bomb, oversize = gzip_bomb(1024), gzip_bomb(4096)
            bombs = [timed(client, ingest, the_bomb, headers, 413) for _ in range(args.rounds)]
            big = [timed(client, ingest, oversize, headers, 413) for _ in range(args.rounds)]
            hwm_after = server.status_kib("VmHWM") / 1024
            widest = [
                timed(client, ingest, widest_batch(device_id, 1000 + i), headers, 200)
                for i in range(3)
            ]
            hwm_widest = server.status_kib("VmHWM") / 1024

    print(f"database: {url.split(':')[0]}")
    print(summary("normal batch (30 samples, gzip)", normal))
    print(summary(f"gzip bomb ({len(the_bomb) / MiB:.2f} MiB -> 1 GiB)", bombs))
    print(summary(f"oversize body ({len(oversize) / MiB:.2f} MiB)", big))
    print(
        f"server RSS before bombs {rss_before:.1f} MiB, peak before {hwm_before:.1f} MiB, "
        f"peak after {hwm_after:.1f} MiB: grew {hwm_after - hwm_before:.1f} MiB (target < 50)"
    )
    print(summary("widest accepted batch (25k objects)", widest))
    print(f"peak RSS after the widest batches {hwm_widest:.1f} MiB")
    print(
        f"bomb median / normal batch median: "
        f"{statistics.median(bombs) / statistics.median(normal):.1f}x"
    )


if __name__ == "__main__":
    main()
