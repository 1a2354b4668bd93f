"""``dexpulse collector ...`` commands: serve, migrate, and credentials for agents and IT.

Only argparse is imported at module level, so ``dexpulse --help`` stays fast on a laptop that
has no collector dependencies; each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from .settings import CollectorSettings


def _settings() -> CollectorSettings:
    from .settings import CollectorSettings

    return CollectorSettings()


@contextmanager
def _sessions() -> Iterator[sessionmaker[Session]]:
    """Sessions on the configured database (migrated first), closed when the command ends."""
    from . import migrations
    from .db import make_engine, make_sessionmaker

    settings = _settings()
    engine = make_engine(settings.resolved_database_url())
    try:
        if settings.migrate_on_start:
            migrations.upgrade(engine)
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


def _days(text: str) -> float:
    value = float(text)
    if not 0 < value <= 3650:
        raise argparse.ArgumentTypeError("give a number of days between 0 and 3650")
    return value


def _uses(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 1_000_000_000:
        raise argparse.ArgumentTypeError("give a whole number from 1 to 1000000000")
    return value


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from . import logs, migrations
    from .db import make_engine

    settings = _settings()
    host, port = args.host or settings.host, args.port or settings.port
    log_config = logs.configure(settings.log_level, settings.log_json)
    if settings.migrate_on_start:
        engine = make_engine(settings.resolved_database_url())
        migrations.upgrade(engine)
        engine.dispose()
        os.environ["DEXPULSE_MIGRATE_ON_START"] = "false"  # workers find it done
    shown = f"[{host}]" if ":" in host else host
    print(f"dexpulse collector listening on http://{shown}:{port}/ (API docs at /docs)", flush=True)
    uvicorn.run(
        "dexpulse.collector.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=args.workers,
        log_config=log_config,
        proxy_headers=True,
    )
    return 0


def cmd_migrate(_: argparse.Namespace) -> int:
    from . import migrations
    from .db import make_engine

    engine = make_engine(_settings().resolved_database_url())
    try:
        migrations.upgrade(engine)
        print(f"database at revision {migrations.current_revision(engine)}", file=sys.stderr)
    finally:
        engine.dispose()
    return 0


def cmd_secret_create(args: argparse.Namespace) -> int:
    from .admin import create_enrollment_secret
    from .db import transaction

    with _sessions() as factory, transaction(factory) as session:
        row, plaintext = create_enrollment_secret(
            session, args.name, args.expires_days, args.max_uses
        )
        print(f"created enrollment secret {row.id} ({row.name})", file=sys.stderr)
    print(plaintext)
    return 0


def cmd_secret_list(_: argparse.Namespace) -> int:
    from .admin import list_enrollment_secrets

    with _sessions() as factory, factory() as session:
        for r in list_enrollment_secrets(session):
            state = "revoked" if r.revoked_at else "active"
            cap = f"/{r.max_uses}" if r.max_uses else ""
            expires = r.expires_at.isoformat() if r.expires_at else "never"
            print(f"{r.id}\t{r.name}\t{state}\tuses {r.uses}{cap}\texpires {expires}")
    return 0


def cmd_secret_revoke(args: argparse.Namespace) -> int:
    from .admin import revoke_enrollment_secret
    from .db import transaction

    with _sessions() as factory, transaction(factory) as session:
        revoke_enrollment_secret(session, args.id)
    print(f"revoked enrollment secret {args.id}", file=sys.stderr)
    return 0


def cmd_key_create(args: argparse.Namespace) -> int:
    from .admin import create_api_key
    from .db import transaction
    from .security import Role

    with _sessions() as factory, transaction(factory) as session:
        row, plaintext = create_api_key(session, args.name, Role(args.role))
        print(f"created {row.role} API key {row.id} ({row.name})", file=sys.stderr)
    print(plaintext)
    return 0


def cmd_key_list(_: argparse.Namespace) -> int:
    from .admin import list_api_keys

    with _sessions() as factory, factory() as session:
        for r in list_api_keys(session):
            state = "revoked" if r.revoked_at else "active"
            used = r.last_used_at.isoformat() if r.last_used_at else "never"
            print(f"{r.id}\t{r.name}\t{r.role}\t{state}\tlast used {used}")
    return 0


def cmd_key_revoke(args: argparse.Namespace) -> int:
    from .admin import revoke_api_key
    from .db import transaction

    with _sessions() as factory, transaction(factory) as session:
        revoke_api_key(session, args.id)
    print(f"revoked API key {args.id}", file=sys.stderr)
    return 0


def _password(args: argparse.Namespace) -> str:
    """From standard input (``--password-stdin``, for scripts), else asked twice at the
    terminal, never from the command line (it would show in ``ps`` and shell history)."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("dexpulse: the two passwords differ; nothing changed")
    return first


def cmd_user_create(args: argparse.Namespace) -> int:
    from .admin import now
    from .db import transaction
    from .security import Role
    from .users import create_user

    password = _password(args)
    role = Role.ADMIN if args.admin else Role.VIEWER
    with _sessions() as factory, transaction(factory) as session:
        row = create_user(session, args.name, password, role, now())
        print(f"created {row.role} user {row.name} (id {row.id})", file=sys.stderr)
    return 0


def cmd_user_password(args: argparse.Namespace) -> int:
    from .admin import now
    from .db import transaction
    from .users import set_password

    password = _password(args)
    with _sessions() as factory, transaction(factory) as session:
        row = set_password(session, args.name, password, now())
        print(f"password of {row.name} changed", file=sys.stderr)
    return 0


def cmd_user_disable(args: argparse.Namespace) -> int:
    from .admin import now
    from .db import transaction
    from .users import set_disabled

    disable = args.action == "disable"
    with _sessions() as factory, transaction(factory) as session:
        row = set_disabled(session, args.name, disable, now())
        print(f"{row.name} {'disabled' if disable else 'enabled'}", file=sys.stderr)
    return 0


def cmd_user_list(_: argparse.Namespace) -> int:
    from .users import list_users

    with _sessions() as factory, factory() as session:
        for r in list_users(session):
            state = "disabled" if r.disabled_at else "active"
            seen = r.last_sign_in_at.isoformat() if r.last_sign_in_at else "never"
            print(f"{r.id}\t{r.name}\t{r.role}\t{state}\tlast sign-in {seen}")
    return 0


def cmd_device_list(_: argparse.Namespace) -> int:
    from sqlalchemy import select

    from .models import Device

    with _sessions() as factory, factory() as session:
        for d in session.scalars(select(Device).order_by(Device.enrolled_at)):
            seen = d.last_seen_at.isoformat() if d.last_seen_at else "never"
            state = "revoked" if d.revoked_at else "active"
            print(f"{d.id}\t{d.hostname}\t{d.os}\t{state}\tlast seen {seen}")
    return 0


def cmd_device_revoke(args: argparse.Namespace) -> int:
    from .admin import revoke_device
    from .db import transaction

    with _sessions() as factory, transaction(factory) as session:
        revoke_device(session, args.id)
    print(f"revoked device {args.id}", file=sys.stderr)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    import json
    import tempfile
    from datetime import timedelta
    from pathlib import Path

    from . import migrations
    from .db import make_engine, make_sessionmaker
    from .outages.job import DetectionJob
    from .outages.replay import ReplayResult, outages_json, replay
    from .timeline import TimePolicy

    path = Path(args.batches)
    if not path.is_file():
        sys.stderr.write(f"dexpulse collector replay: no such file: {path}\n")
        return 2
    settings = _settings()
    with tempfile.TemporaryDirectory(prefix="dexpulse-replay-") as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'replay.db'}"
        engine = make_engine(url)
        try:
            migrations.upgrade(engine)
            sessions = make_sessionmaker(engine)
            policy = TimePolicy(
                settings.clock_skew_tolerance_s,
                settings.max_future_s,
                settings.max_sample_age_days * 86400,
            )

            def progress(r: ReplayResult) -> None:
                if args.verbose:
                    sys.stderr.write(f"  {r.last}: {r.batches} batches\n")

            job = DetectionJob(sessions, holder="replay", snapshot_every=None)
            result = replay(path, sessions, job, policy, timedelta(minutes=args.every), progress)
            outages = outages_json(sessions, result.outage_ids)
        finally:
            engine.dispose()
    for message in result.rejected[:20]:
        sys.stderr.write(f"skipped {message}\n")
    if len(result.rejected) > 20:
        sys.stderr.write(f"... and {len(result.rejected) - 20} more lines skipped\n")
    sys.stderr.write(
        f"replayed {result.batches} batches ({result.duplicates} duplicates, "
        f"{result.samples} samples, {result.devices_registered} new devices, "
        f"{len(result.rejected)} lines skipped) from {result.first} to {result.last}: "
        f"{len(outages)} outages\n"
    )
    text = json.dumps(outages, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    import os

    from .outages.watch import watch

    key = args.api_key or os.environ.get("DEXPULSE_API_KEY")
    if not key:
        sys.stderr.write("dexpulse collector watch: give --api-key or set DEXPULSE_API_KEY\n")
        return 2
    settings = _settings()
    url = args.url or f"http://127.0.0.1:{settings.port}"
    print(f"watching the outage feed of {url} (Ctrl-C stops)", flush=True)
    try:
        watch(url, key, lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        pass
    return 0


def _minutes(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 7 * 24 * 60:
        raise argparse.ArgumentTypeError("give a whole number of minutes from 1 to 10080")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    collector = subparsers.add_parser(
        "collector",
        help="run and administer the collector",
        description="Settings come from DEXPULSE_* environment variables or .env (see README).",
    )
    sub = collector.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="migrate the database and serve the API")
    serve.add_argument("--host", help="address to bind (default DEXPULSE_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default DEXPULSE_PORT or 8470)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    secret = sub.add_parser("enrollment-secret", help="secrets agents enroll with")
    secret_sub = secret.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = secret_sub.add_parser("create", help="create one; prints it once on stdout")
    create.add_argument("--name", default="default", help="a label, e.g. the site or wave")
    create.add_argument("--expires-days", type=_days, help="valid for this many days")
    create.add_argument("--max-uses", type=_uses, help="at most this many enrollments")
    create.set_defaults(func=cmd_secret_create)
    secret_sub.add_parser("list", help="list secrets").set_defaults(func=cmd_secret_list)
    revoke = secret_sub.add_parser("revoke", help="revoke a secret by id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=cmd_secret_revoke)

    key = sub.add_parser("api-key", help="API keys for IT users and scripts")
    key_sub = key.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = key_sub.add_parser("create", help="create one; prints it once on stdout")
    create.add_argument("--role", choices=["admin", "viewer"], required=True)
    create.add_argument("--name", default="api", help="whose or what for")
    create.set_defaults(func=cmd_key_create)
    key_sub.add_parser("list", help="list API keys").set_defaults(func=cmd_key_list)
    revoke = key_sub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=cmd_key_revoke)

    user = sub.add_parser("user", help="people who sign in to the console")
    user_sub = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = user_sub.add_parser("create", help="create a user (asks for the password)")
    create.add_argument("name")
    create.add_argument("--admin", action="store_true", help="may change things (default: viewer)")
    create.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    create.set_defaults(func=cmd_user_create)
    password = user_sub.add_parser("password", help="set a user's password")
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    password.set_defaults(func=cmd_user_password)
    for action, what in (("disable", "refuse the user's sign-in"), ("enable", "allow it again")):
        toggle = user_sub.add_parser(action, help=what)
        toggle.add_argument("name")
        toggle.set_defaults(func=cmd_user_disable)
    user_sub.add_parser("list", help="list users").set_defaults(func=cmd_user_list)

    replay = sub.add_parser(
        "replay",
        help="recorded batches through ingest and outage detection, in event time",
        description="Feed wire-format batches (JSON Lines, .gz welcome) through the ingest path "
        "and the detection job as if they had arrived at their sent_at, and print the outages "
        "detected (a JSON array). Uses a fresh SQLite database unless --database-url is given.",
    )
    replay.add_argument("batches", help="JSON Lines file of batches (as dexpulse simulate writes)")
    replay.add_argument("--output", help="write the outages here instead of stdout")
    replay.add_argument("--database-url", help="replay into this database (not one being served)")
    replay.add_argument(
        "--every",
        type=_minutes,
        default=60,
        help="minutes of event time between detection runs (any value gives the same outages; "
        "larger is faster); default 60",
    )
    replay.add_argument("--verbose", action="store_true", help="report progress on stderr")
    replay.set_defaults(func=cmd_replay)

    watch = sub.add_parser(
        "watch",
        help="follow the outage feed in this terminal",
        description="Print outage events (opened, recovering, resolved, ...) as they happen, "
        "from the collector's live stream. Needs a viewer API key.",
    )
    watch.add_argument("--url", help="collector base URL (default: this machine's port)")
    watch.add_argument("--api-key", help="a viewer API key (or $DEXPULSE_API_KEY)")
    watch.set_defaults(func=cmd_watch)

    device = sub.add_parser("device", help="enrolled devices")
    device_sub = device.add_subparsers(dest="action", required=True, metavar="ACTION")
    device_sub.add_parser("list", help="list devices").set_defaults(func=cmd_device_list)
    revoke = device_sub.add_parser("revoke", help="revoke a device's token")
    revoke.add_argument("id", type=uuid.UUID)
    revoke.set_defaults(func=cmd_device_revoke)
