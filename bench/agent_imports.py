"""Resident memory each import adds to a fresh interpreter: where the agent's RSS goes.

Imports the given modules in order (by default the agent's stack, then the libraries it no
longer uses, for comparison) and prints what each added to VmRSS. Run it with the interpreter
of a venv holding only ``dexpulse[agent]`` to see what a laptop pays:

    .venv/bin/python bench/agent_imports.py [module ...]
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

AGENT = [
    "psutil",
    "sqlite3",
    "ssl",
    "urllib.request",
    "pydantic",
    "dexpulse.schema",
    "dexpulse.agent.service",
]
NOT_USED = ["requests", "apscheduler.schedulers.background"]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    modules = sys.argv[1:] or AGENT + NOT_USED
    print(f"{'interpreter':<36} {rss_mib():6.1f} MiB")
    for name in modules:
        before = rss_mib()
        try:
            importlib.import_module(name)
        except ImportError:
            print(f"{name:<36}   (not installed)")
            continue
        print(f"{name:<36} +{rss_mib() - before:5.1f} MiB   total {rss_mib():6.1f} MiB")


if __name__ == "__main__":
    main()
