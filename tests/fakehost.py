"""A fake machine for backend and sampler tests: a scratch filesystem root and a command
runner that answers recorded outputs by exact argv (an unknown tool is "not installed")."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from dexpulse.agent.platform import CommandResult, Host, NoData


class Machine:
    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "root"
        self.root.mkdir()
        self.outputs: dict[tuple[str, ...], CommandResult] = {}
        self.calls: list[tuple[str, ...]] = []
        self.host = Host(root=self.root, run=self.run)

    def run(self, argv: Sequence[str], timeout: float) -> CommandResult:
        self.calls.append(tuple(argv))
        if tuple(argv) not in self.outputs:
            raise NoData(f"{argv[0]} is not installed")
        return self.outputs[tuple(argv)]

    def answer(self, argv: tuple[str, ...], stdout: str, rc: int = 0, stderr: str = "") -> None:
        self.outputs[argv] = CommandResult(rc, stdout, stderr)

    def file(self, path: str, text: str, mtime: datetime | None = None) -> Path:
        """Write ``text`` at ``path`` under the root, with ``mtime`` if given."""
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        if mtime is not None:
            os.utime(target, (mtime.timestamp(), mtime.timestamp()))
        return target
