"""The IT console's speed target, measured: "with 10,000 devices and 30 days of data the outage
feed and fleet page answer in under 200 ms at p95".

    .venv/bin/python bench/console.py [--database-url URL] [--devices 10000] [--days 30]
                                      [--requests 200] [--seconds-per-url 120] [--seed 1]
                                      [--only api|console] [--keep DIR]

1. **Data**: :func:`console_data.populate` (``bench/console_data.py``: devices, a stored
   score per device-day, outages with their events, a month of raw samples for 50 devices)
   into a fresh SQLite file in a temporary directory. With ``--database-url`` (a PostgreSQL
   URL such as ``postgresql+psycopg://postgres@127.0.0.1:5432/test``) the URL names the
   *server*: the data goes into a database of its own, ``--bench-database`` (default
   ``dexpulse_bench``), dropped and created again on that server, and dropped at the end
   unless ``--keep`` is given; the URL's own database (shared with the test suite) is only
   connected to, never written.
2. **Credentials**: an admin API key (``admin.create_api_key``) for the API, and a console
   admin user (``users.create_user``) for the console's pages.
3. **The collector as in production**: ``dexpulse collector serve`` in a subprocess
   (``harness.serve``), with ``DEXPULSE_DATABASE_URL``, a free ``DEXPULSE_PORT``,
   detection and scoring jobs off (they would compete with the requests for the CPU and
   rewrite the data), ``DEXPULSE_MIGRATE_ON_START=true``; its log goes to ``server.log`` in
   the work directory. The benchmark waits for ``/healthz``.
4. **Timing**: per URL, a few warm-up requests, then ``--requests`` sequential GETs with one
   keep-alive httpx client (at most ``--seconds-per-url`` seconds per URL, but at least 10
   requests); the table shows p50, p95 and max in milliseconds, the response size, and
   whether p95 is under 200 ms. The API is called with the admin key (``Authorization:
   Bearer``); the console's HTML pages, when this checkout has a console (``GET
   /console/sign-in`` answers 200), with the cookie of a :func:`console_session`.
   ``--only`` times one of the two.

The exit status is 0 whatever the timings, 1 if any request got another status than 200 (or
the console's sign-in failed). The load average is printed before and after: the figures are
only as good as the machine was quiet.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from console_data import Populated, populate
from harness import serve, work_directory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from dexpulse.collector.admin import create_api_key
from dexpulse.collector.db import make_engine, make_sessionmaker
from dexpulse.collector.security import Role
from dexpulse.collector.users import create_user

TARGET_MS = 200.0
WARM_UP = 5
MIN_REQUESTS = 10
SLOW_S = 1.0
"""A URL whose first warm-up request takes longer than this is warmed up once only."""
CONSOLE_USER = "bench-admin"
CONSOLE_PASSWORD = "console-bench-passphrase-1"
CSRF_INPUT = re.compile(r"<input\b[^>]*\bname=[\"']csrf[\"'][^>]*>", re.IGNORECASE)
VALUE = re.compile(r"\bvalue=[\"']([^\"']*)[\"']", re.IGNORECASE)


@dataclass
class Timing:
    name: str
    url: str
    ms: list[float] = field(default_factory=list)
    size: int = 0
    """Bytes of the last response body."""
    errors: list[str] = field(default_factory=list)

    def quantile(self, q: int) -> float:
        """The q-th percentile (inclusive method, so p95 of 200 lies between the 190th and
        191st fastest)."""
        if len(self.ms) < 2:
            return self.ms[0] if self.ms else float("nan")
        return statistics.quantiles(self.ms, n=100, method="inclusive")[q - 1]

    @property
    def passed(self) -> bool:
        return bool(self.ms) and not self.errors and self.quantile(95) < TARGET_MS


# -- the database -------------------------------------------------------------------------------


@contextmanager
def bench_database(server_url: str, name: str, keep: bool = False) -> Iterator[str]:
    """A fresh PostgreSQL database ``name`` on the server of ``server_url`` (dropped first if
    it exists, and dropped again afterwards unless ``keep``), and its URL. The database
    ``server_url`` names is connected to, never changed."""
    server = make_url(server_url)
    if server.get_backend_name() != "postgresql":
        raise SystemExit("--database-url must be a PostgreSQL URL (SQLite is the default)")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise SystemExit(f"--bench-database {name!r}: use lower-case letters, digits and _")
    if name == server.database:
        raise SystemExit(f"--bench-database {name!r} is the URL's own database; pick another")
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    drop = text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    try:
        with admin.connect() as conn:
            conn.execute(drop)
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(drop)
        admin.dispose()


def credentials(database_url: str, now: datetime) -> str:
    """An admin API key (its plaintext) and the console admin user, stored in the database."""
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            _, key = create_api_key(session, "console benchmark", Role.ADMIN)
            create_user(session, CONSOLE_USER, CONSOLE_PASSWORD, Role.ADMIN, now)
        return key
    finally:
        engine.dispose()


# -- the server -------------------------------------------------------------------------------


@contextmanager
def collector(database_url: str, workdir: Path) -> Iterator[str]:
    """``dexpulse collector serve`` as in production, on a free port, the jobs off (they
    would compete with the requests and rewrite the data); its base URL."""
    jobs_off = {"DEXPULSE_DETECTION_ENABLED": "false", "DEXPULSE_SCORING_ENABLED": "false",
                "DEXPULSE_MIGRATE_ON_START": "true"}  # fmt: skip
    with serve(database_url, workdir, env=jobs_off, timeout=120) as server:
        yield server.url


def console_session(client: httpx.Client, base_url: str, name: str, password: str) -> None:
    """Sign ``client`` in to the console as ``name``: the sign-in form's CSRF token, then the
    form posted; the session cookie stays in the client. RuntimeError when refused."""
    form = client.get(f"{base_url}/console/sign-in")
    if form.status_code != 200:
        raise RuntimeError(f"GET /console/sign-in answered {form.status_code}")
    field_ = CSRF_INPUT.search(form.text)
    token = VALUE.search(field_.group(0)) if field_ else None
    if token is None:
        raise RuntimeError("no hidden csrf input on the sign-in page")
    answer = client.post(
        f"{base_url}/console/sign-in",
        data={"name": name, "password": password, "csrf": token.group(1)},
        follow_redirects=False,
    )
    if answer.status_code != 303:
        raise RuntimeError(f"signing in answered {answer.status_code}, not 303")


def has_console(client: httpx.Client, base_url: str) -> bool:
    return client.get(f"{base_url}/console/sign-in").status_code == 200


# -- timing -----------------------------------------------------------------------------------


def measure(
    client: httpx.Client, base_url: str, name: str, url: str, requests: int, budget_s: float
) -> Timing:
    """``requests`` sequential GETs of ``url`` after a warm-up (fewer if ``budget_s`` runs
    out, but at least :data:`MIN_REQUESTS`)."""
    timing = Timing(name, url)
    try:
        for _ in range(WARM_UP):
            t0 = time.perf_counter()
            answer = client.get(base_url + url)
            if answer.status_code != 200:
                timing.errors.append(f"{answer.status_code} {answer.text[:200]}")
                return timing
            if time.perf_counter() - t0 > SLOW_S:
                break
        started = time.monotonic()
        for i in range(requests):
            if i >= MIN_REQUESTS and time.monotonic() - started > budget_s:
                break
            t0 = time.perf_counter()
            answer = client.get(base_url + url)
            timing.ms.append((time.perf_counter() - t0) * 1000)
            timing.size = len(answer.content)
            if answer.status_code != 200:
                timing.errors.append(f"{answer.status_code} {answer.text[:200]}")
                break
    except httpx.HTTPError as exc:  # the server dropped the connection (see server.log)
        timing.errors.append(f"{type(exc).__name__}: {exc}")
    return timing


def api_urls(data: Populated) -> list[tuple[str, str]]:
    since = (data.now - timedelta(hours=24)).isoformat().replace("+00:00", "Z")
    month = (data.now.date() - timedelta(days=29)).isoformat()
    urls = [
        ("outage feed", "/api/v1/outages?limit=50"),
        ("fleet score", "/api/v1/scores/fleet"),
        ("scores by site", "/api/v1/scores/groups?by=site"),
        ("scores by app", "/api/v1/scores/groups?by=app"),
        ("XLA report", "/api/v1/scores/xla"),
        ("fleet score, 30 days", f"/api/v1/scores/fleet?since={month}"),
        ("XLA by site, 30 days", f"/api/v1/scores/xla?by=site&since={month}"),
    ]
    if data.open_outages:
        urls.insert(1, ("open outage (largest)", f"/api/v1/outages/{data.open_outages[0]}"))
        if len(data.open_outages) > 1:
            urls.insert(2, ("open outage (smallest)", f"/api/v1/outages/{data.open_outages[-1]}"))
    device = _device(data)
    if data.sample_devices:
        urls.append(("device samples, 24 h", f"/api/v1/devices/{device}/samples?since={since}"))
    urls.append(("device score", f"/api/v1/scores/devices/{device}"))
    return urls


def console_urls(data: Populated) -> list[tuple[str, str]]:
    urls = [("console feed", "/console/"), ("console fleet", "/console/fleet")]
    if data.open_outages:
        urls.append(("console outage (largest)", f"/console/outages/{data.open_outages[0]}"))
    urls.append(("console device", f"/console/devices/{_device(data)}"))
    return urls


def _device(data: Populated) -> uuid.UUID:
    """A device with samples when there are any (its page has the most to show)."""
    return data.sample_devices[0] if data.sample_devices else data.devices[0]


def run(
    client: httpx.Client,
    base_url: str,
    urls: Sequence[tuple[str, str]],
    requests: int,
    budget_s: float,
) -> list[Timing]:
    out = []
    for name, url in urls:
        timing = measure(client, base_url, name, url, requests, budget_s)
        print(f"  {name}: {len(timing.ms)} requests, p95 {timing.quantile(95):.0f} ms", flush=True)
        out.append(timing)
    return out


def table(title: str, timings: Sequence[Timing]) -> str:
    rows = [("URL", "n", "p50 ms", "p95 ms", "max ms", "KiB", f"p95 < {TARGET_MS:.0f} ms")]
    for t in timings:
        verdict = "ERROR" if t.errors else ("yes" if t.passed else "NO")
        rows.append((
            t.url if len(t.url) <= 70 else t.url[:67] + "...", str(len(t.ms)),
            f"{t.quantile(50):.1f}", f"{t.quantile(95):.1f}",
            f"{max(t.ms, default=float('nan')):.1f}", f"{t.size / 1024:.1f}", verdict,
        ))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [title]
    for k, row in enumerate(rows):
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs]
        lines.append("  ".join(cells))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


# -- the command ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL server (default: a SQLite file)")
    parser.add_argument("--bench-database", default="dexpulse_bench",
                        help="database created on that server (dropped first)")  # fmt: skip
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--requests", type=int, default=200, help="timed GETs per URL")
    parser.add_argument("--seconds-per-url", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=("api", "console"), help="time these URLs only")
    parser.add_argument(
        "--keep", type=Path, help="keep the server log (and the SQLite file or the PostgreSQL "
        "database) in this directory",
    )  # fmt: skip
    args = parser.parse_args(argv)

    with work_directory(args.keep, "dexpulse-console-bench-") as workdir:
        return _bench(args, workdir)


def _bench(args: argparse.Namespace, workdir: Path) -> int:
    with _database(args, workdir) as database_url:
        shown = make_url(database_url).render_as_string(hide_password=True)
        print(f"data: {args.devices} devices, {args.days} days into {shown}", flush=True)
        data = populate(database_url, args.devices, args.days, args.seed)
        key = credentials(database_url, datetime.now(UTC))
        failed = False
        print(f"serving; {load()}", flush=True)
        with collector(database_url, workdir) as base:
            headers = {"Authorization": f"Bearer {key}"}
            api: list[Timing] = []
            if args.only != "console":
                with httpx.Client(headers=headers, timeout=120) as client:
                    api = run(client, base, api_urls(data), args.requests, args.seconds_per_url)
            pages: list[Timing] = []
            console_note = "console: this checkout has none (GET /console/sign-in is not 200)"
            if args.only == "api":
                console_note = ""
            with httpx.Client(timeout=120) as client:
                try:
                    if args.only != "api" and has_console(client, base):
                        console_session(client, base, CONSOLE_USER, CONSOLE_PASSWORD)
                        console_note = ""
                        urls = console_urls(data)
                        pages = run(client, base, urls, args.requests, args.seconds_per_url)
                except (RuntimeError, httpx.HTTPError) as exc:
                    console_note = f"console: sign-in failed: {exc}"
                    failed = True
        print(f"done; {load()}")
        print()
        engine = make_url(database_url).get_backend_name()
        size = f"({args.devices} devices, {args.days} days)"
        if api:
            print(table(f"API on {engine} {size}", api))
            print()
        if pages:
            print(table(f"Console pages on {engine} {size}", pages))
        if console_note:
            print(console_note)
        for t in (*api, *pages):
            for error in t.errors:
                print(f"ERROR {t.url}: {error}")
                failed = True
        if args.keep:
            print(f"kept: the server log in {workdir}, the data in {shown}")
        return 1 if failed else 0


@contextmanager
def _database(args: argparse.Namespace, workdir: Path) -> Iterator[str]:
    if args.database_url:
        with bench_database(args.database_url, args.bench_database, bool(args.keep)) as url:
            yield url
    else:
        path = workdir / "collector.db"
        for stale in workdir.glob("collector.db*"):  # --keep DIR used before
            stale.unlink()
        yield str(URL.create("sqlite", database=str(path)))


if __name__ == "__main__":
    sys.exit(main())
