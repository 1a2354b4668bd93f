"""The ``dexpulse`` command: one entry point for the agent, the collector and the schema tools.

It lives in the agent package because the agent is what every laptop installs; collector
commands are registered here but import their dependencies only when run, and say how to
install them if they are missing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import version


def _schema_export(args: argparse.Namespace) -> int:
    from dexpulse.schema import export

    if args.check:
        stale = export.stale()
        if stale:
            print("stale JSON Schema files: " + ", ".join(stale), file=sys.stderr)
            print("run `dexpulse schema export` and commit the result", file=sys.stderr)
            return 1
        return 0
    for path in export.write():
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from dexpulse.collector import cli as collector_cli
    from dexpulse.collector.simulator import cli as simulator_cli

    from . import commands as agent_commands

    parser = argparse.ArgumentParser(
        prog="dexpulse", description="dexpulse: digital employee experience monitor"
    )
    parser.add_argument("--version", action="version", version=f"dexpulse {version('dexpulse')}")
    sub = parser.add_subparsers(dest="group", required=True, metavar="GROUP")
    agent_commands.register(sub)
    collector_cli.register(sub)
    simulator_cli.register(sub)

    schema = sub.add_parser("schema", help="wire contract tools")
    schema_sub = schema.add_subparsers(dest="command", required=True, metavar="COMMAND")
    export = schema_sub.add_parser("export", help="regenerate the JSON Schema files")
    export.add_argument("--check", action="store_true", help="only report stale files")
    export.set_defaults(func=_schema_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ModuleNotFoundError as exc:
        print(
            f"dexpulse: missing dependency {exc.name!r}; "
            "install the collector with: pip install 'dexpulse[collector]'",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # errors the commands raise for people, e.g. "no API key 999"
        detail = getattr(exc, "detail", None)
        if detail is None:
            raise
        print(f"dexpulse: {detail}", file=sys.stderr)
        return 1
    return code


def console() -> None:
    sys.exit(main())


if __name__ == "__main__":
    console()
