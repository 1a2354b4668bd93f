"""``dexpulse agent ...`` commands: enroll, run, once, status, config, parse; and ``dexpulse
tray``, the per-user tray app for pulse surveys."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EX_CONFIG = 78  # sysexits.h; the systemd unit does not restart the agent on it


def _config(args: argparse.Namespace) -> Any:
    from .config import ConfigError, load

    try:
        return load(args.config)
    except ConfigError as exc:
        print(f"dexpulse: {exc}", file=sys.stderr)
        raise SystemExit(EX_CONFIG) from None


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def cmd_enroll(args: argparse.Namespace) -> int:
    from .enroll import EnrollError, enroll, save_credentials
    from .platform import Host
    from .service import agent_version, make_transport

    config = _config(args)
    url = args.url or config.collector_url
    secret = args.secret or (
        config.enrollment_secret.get_secret_value() if config.enrollment_secret else None
    )
    if not url or not secret:
        print("dexpulse: give --url and --secret (or set them in the config file)", file=sys.stderr)
        return 2
    try:
        creds = enroll(
            make_transport(config),
            url,
            secret,
            host=Host(),
            agent_version=agent_version(),
            tags=dict(config.tags),
        )
    except EnrollError as exc:
        print(f"dexpulse: {exc}", file=sys.stderr)
        return 1
    path = save_credentials(config.state_dir, creds)
    print(f"enrolled as device {creds.device_id}; credentials in {path}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .service import AgentService

    _logging(args.verbose)
    AgentService(_config(args)).run_forever()
    return 0


def cmd_once(args: argparse.Namespace) -> int:
    from .service import AgentService

    _logging(args.verbose)
    samples = AgentService(_config(args)).once()
    if args.json:
        print(json.dumps([s.model_dump(mode="json", exclude_none=True) for s in samples], indent=2))
        return 0
    for sample in samples:
        fields = sample.model_dump(mode="json", exclude_none=True, exclude={"ts"})
        kind = fields.pop("kind")
        print(f"{kind:<18} " + " ".join(f"{k}={v}" for k, v in fields.items()))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .enroll import EnrollError, load_credentials
    from .spool import Spool
    from .status import read_status

    config = _config(args)
    problem: str | None = None
    try:
        creds = load_credentials(config.state_dir)
    except EnrollError as exc:
        creds, problem = None, str(exc)
    print(f"state directory  {config.state_dir}")
    if creds:
        print(f"enrolled         device {creds.device_id} at {creds.collector_url}")
    else:
        print(
            f"enrolled         no{f' ({problem})' if problem else ''}: run `dexpulse agent enroll`"
        )
    spool_path = config.state_dir / "spool.db"
    if spool_path.exists():
        spool = Spool(spool_path)
        stats = spool.stats()
        spool.close()
        age = f", oldest {stats.oldest_age_s:.0f} s old" if stats.oldest_age_s else ""
        print(
            f"spool            {stats.pending_samples} samples waiting, {stats.batches} batches "
            f"to send, {stats.bytes} bytes{age}; {stats.dropped_samples} dropped so far"
        )
    status = read_status(config.state_dir)
    if status:
        for line in status.summary_lines():
            print(line)
    else:
        print("service          no status written yet (is `dexpulse agent run` running?)")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from .config_sample import render

    if not args.sample:
        print(_config(args).model_dump_json(indent=2))
        return 0
    print(render(), end="")
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    from .parsers import ParseContext, ParseError, load_all

    formats = load_all()
    if args.list or not args.format:
        for name in sorted(formats):
            fmt = formats[name]
            print(f"{name:<26} {fmt.description}" + (f"  ({fmt.example})" if fmt.example else ""))
        return 0 if args.list else 2
    chosen = formats.get(args.format)
    if chosen is None:
        print(
            f"dexpulse: unknown format {args.format!r}; `dexpulse agent parse --list` lists them",
            file=sys.stderr,
        )
        return 2
    fmt = chosen
    if args.file is None:
        print("dexpulse: give the FILE to parse ('-' for standard input)", file=sys.stderr)
        return 2
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        print(f"dexpulse: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    text = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
    try:
        samples = fmt.parse(text, ParseContext(now=datetime.now(UTC)))
    except ParseError as exc:
        print(f"dexpulse: {args.file} is not {fmt.name}: {exc}", file=sys.stderr)
        return 1
    drop = set() if fmt.carries_time else {"ts"}
    print(
        json.dumps(
            [s.model_dump(mode="json", exclude_none=True, exclude=drop) for s in samples],
            indent=2,
            ensure_ascii=False,
        )
    )
    return 0


def cmd_configure(args: argparse.Namespace) -> int:
    import os

    from . import installconfig
    from .config import default_config_path

    path: Path = args.config or default_config_path()
    if path.exists() and not args.force:
        if args.if_missing:
            print(f"kept the existing config {path}")
            return 0
        print(f"dexpulse: {path} exists; --force replaces it", file=sys.stderr)
        return 1
    try:
        url, secret, tags = installconfig.settings_from(
            os.environ, url=args.url, secret=args.secret, tags=args.tag
        )
        text = installconfig.render(url, secret, tags)
        installconfig.write(path, text)
    except installconfig.InstallConfigError as exc:
        print(f"dexpulse: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"dexpulse: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}: collector {url}" + "".join(f", {k}={v}" for k, v in tags.items()))
    return 0


def cmd_service(args: argparse.Namespace) -> int:
    if sys.platform != "win32":
        print(
            "dexpulse: `agent service` is the Windows service's entry point; "
            "elsewhere the init system runs `dexpulse agent run`",
            file=sys.stderr,
        )
        return 2
    from .platform._windows import winservice

    return winservice.main(args.config)


def _tray_state_dir(args: argparse.Namespace) -> Path:
    """The service's state directory: given, or from a config file the user may read, or
    the installed service's (the tray runs as the user, the service usually as root)."""
    from .config import ConfigError, load, service_state_dir

    if args.state_dir:
        return Path(args.state_dir)
    if args.config:
        try:
            return load(args.config).state_dir
        except ConfigError as exc:
            raise SystemExit(f"dexpulse: {exc}") from None
    return service_state_dir()


def cmd_tray(args: argparse.Namespace) -> int:
    if args.autostart:
        from . import platform

        autostart = platform.area("autostart")
        home = Path.home()
        if args.autostart == "on":
            exe = Path(shutil.which("dexpulse") or sys.argv[0]).resolve()
            windowed = exe.with_name("dexpulse-tray.exe")  # the frozen build's, on Windows
            if sys.platform == "win32" and windowed.exists():
                exe = windowed
            print(autostart.install_for_user(str(exe), home))
        else:
            print(autostart.remove_for_user(home))
        return 0
    from .tray.app import run_tray

    _logging(False)
    return run_tray(_tray_state_dir(args), poll_s=args.poll_seconds)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agent = subparsers.add_parser(
        "agent", help="the endpoint agent", description="Run and inspect the endpoint agent."
    )
    agent.add_argument(
        "--config",
        type=Path,
        help="config file (default $DEXPULSE_AGENT_CONFIG or the platform path)",
    )
    sub = agent.add_subparsers(dest="command", required=True, metavar="COMMAND")

    enroll = sub.add_parser("enroll", help="enroll this device with a collector")
    enroll.add_argument("--url", help="collector base URL")
    enroll.add_argument("--secret", help="enrollment secret from your IT admin")
    enroll.set_defaults(func=cmd_enroll)

    run = sub.add_parser("run", help="run the agent in the foreground (the service)")
    run.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    run.set_defaults(func=cmd_run)

    once = sub.add_parser("once", help="run every sampler once and print what it found")
    once.add_argument("--json", action="store_true", help="print the samples as JSON")
    once.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    once.set_defaults(func=cmd_once)

    sub.add_parser("status", help="enrollment, spool and upload state").set_defaults(
        func=cmd_status
    )

    config = sub.add_parser("config", help="show the effective config, or a sample file")
    config.add_argument("--sample", action="store_true", help="print a commented sample")
    config.set_defaults(func=cmd_config)

    configure = sub.add_parser(
        "configure",
        help="write the config file at install time (collector URL, enrollment secret, tags)",
        description="Write the agent's config file (--config, or the platform path) for an "
        "unattended install; the service enrolls once it names a collector and a secret. "
        "Options not given are read from DEXPULSE_COLLECTOR_URL, DEXPULSE_ENROLLMENT_SECRET "
        "and DEXPULSE_TAGS (site=HQ,department=Sales).",
    )
    configure.add_argument("--url", help="collector base URL")
    configure.add_argument("--secret", help="enrollment secret")
    configure.add_argument(
        "--tag",
        action="append",
        metavar="KEY=VALUE",
        help="a tag sent with every batch, e.g. site=HQ (repeat, or separate with commas)",
    )
    given = configure.add_mutually_exclusive_group()
    given.add_argument(
        "--if-missing", action="store_true", help="keep an existing config file and exit 0"
    )
    given.add_argument("--force", action="store_true", help="replace an existing config file")
    configure.set_defaults(func=cmd_configure)

    sub.add_parser(
        "service", help="run as a Windows service (started by the service manager)"
    ).set_defaults(func=cmd_service)

    parse = sub.add_parser("parse", help="parse a captured command output or log file")
    parse.add_argument("format", nargs="?", help="format name (see --list)")
    parse.add_argument("file", nargs="?", help="the file, or - for standard input")
    parse.add_argument("--list", action="store_true", help="list the formats")
    parse.set_defaults(func=cmd_parse)

    tray = subparsers.add_parser(
        "tray",
        help="the tray app for pulse surveys (run per user)",
        description="Show the dexpulse tray icon and pulse-survey prompts for this user.",
    )
    tray.add_argument(
        "--state-dir",
        type=Path,
        help="the agent service's state directory (default: the "
        "installed service's, or state_dir from --config)",
    )
    tray.add_argument("--config", type=Path, help="agent config file to read state_dir from")
    tray.add_argument(
        "--poll-seconds", type=float, default=60.0, help="how often to ask the agent (default 60)"
    )
    tray.add_argument(
        "--autostart",
        choices=["on", "off"],
        help="start the tray at login for this user (or stop doing so), then exit",
    )
    tray.set_defaults(func=cmd_tray)
