"""One tray per user: a second ``dexpulse tray`` (both autostart entries set, a user starting
it by hand) exits at once instead of prompting the same survey twice.

An exclusive lock on a file in the user's own runtime or cache directory, held for the
process's life; the OS drops it when the process ends, however it ends, so a crash never
leaves a stale lock behind.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO


def lock_path(env: dict[str, str] | None = None, home: Path | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    home = home or Path.home()
    if sys.platform == "win32":
        base = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local") / "dexpulse"
    elif runtime := env.get("XDG_RUNTIME_DIR"):
        base = Path(runtime) / "dexpulse"
    else:
        base = Path(env.get("XDG_CACHE_HOME") or home / ".cache") / "dexpulse"
    return base / "tray.lock"


def acquire(path: Path) -> IO[bytes] | None:
    """The open, locked file (keep it open), or None if another tray holds the lock."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle = open(path, "a+b")  # noqa: SIM115  # held open for the process's life
    try:
        if sys.platform == "win32":
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle
