"""The agent's window on the machine: a filesystem root and a command runner, both injectable.

Tests build a :class:`Host` over a directory of captured files and a fake runner, so no test
depends on the machine it runs on.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class NoData(Exception):
    """This machine cannot give this reading (no Wi-Fi card, no battery, tool not installed,
    not permitted). A normal outcome, logged at debug level, never counted as a failure."""


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str = ""


Runner = Callable[[Sequence[str], float], CommandResult]


def run_command(argv: Sequence[str], timeout: float) -> CommandResult:
    """Run a tool with a C locale and a timeout; NoData if it is not installed, may not be
    run, or does not answer in time (it is killed): the sampler says "no data" this run and
    asks again on the next, rather than counting a failure towards being disabled."""
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            errors="replace",
            check=False,
        )
    except FileNotFoundError:
        raise NoData(f"{argv[0]} is not installed") from None
    except PermissionError:
        raise NoData(f"not permitted to run {argv[0]}") from None
    except subprocess.TimeoutExpired:  # killed by subprocess.run; a hung tool is not a crash
        raise NoData(f"{argv[0]} gave no answer within {timeout:g} s") from None
    return CommandResult(done.returncode, done.stdout, done.stderr)


@dataclass(frozen=True)
class Host:
    root: Path = Path("/")
    run: Runner = field(default=run_command)
    timeout_s: float = 10.0

    def path(self, absolute: str) -> Path:
        """``absolute`` (e.g. "/proc/net/wireless") under this host's root."""
        return self.root / absolute.lstrip("/")

    def read(self, absolute: str) -> str:
        """A file's text; NoData if it does not exist or cannot be read."""
        try:
            return self.path(absolute).read_text(encoding="utf-8", errors="replace")
        except (FileNotFoundError, NotADirectoryError):
            raise NoData(f"{absolute} does not exist") from None
        except PermissionError:
            raise NoData(f"not permitted to read {absolute}") from None

    def command(self, *argv: str) -> str:
        """A tool's standard output; NoData if it is missing or fails."""
        result = self.run(argv, self.timeout_s)
        if result.returncode != 0:
            raise NoData(f"{argv[0]} exited {result.returncode}: {result.stderr.strip()[:200]}")
        return result.stdout
