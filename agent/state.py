"""Small per-sampler memories kept across restarts (what was reported, the last boot, ...).

One JSON file per sampler under ``<state_dir>/state/``, replaced atomically, so a crash leaves
the previous version or the new one. An unreadable file counts as empty and is logged: losing
a memory can at worst repeat a report, which the collector's event dedup can absorb.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class StateStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def load(self, name: str) -> dict[str, Any]:
        path = self.directory / f"{name}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("state file %s unreadable (%s); starting afresh", path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def save(self, name: str, data: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{name}-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, separators=(",", ":"))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.directory / f"{name}.json")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
