"""One tray per user: the second one finds the lock taken and leaves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dexpulse.agent.tray.single import acquire, lock_path


def test_the_lock_lives_in_the_users_runtime_directory(tmp_path: Path) -> None:
    runtime = {"XDG_RUNTIME_DIR": str(tmp_path / "run")}
    if sys.platform != "win32":
        assert lock_path(runtime) == tmp_path / "run" / "dexpulse" / "tray.lock"
        assert lock_path({}, home=tmp_path) == tmp_path / ".cache" / "dexpulse" / "tray.lock"


def test_a_second_tray_is_refused_until_the_first_ends(tmp_path: Path) -> None:
    path = tmp_path / "dexpulse" / "tray.lock"
    first = acquire(path)
    assert first is not None
    code = (
        "import sys; from pathlib import Path; from dexpulse.agent.tray.single import acquire; "
        "sys.exit(0 if acquire(Path(sys.argv[1])) is None else 1)"
    )
    other = [sys.executable, "-c", code, str(path)]
    assert subprocess.run(other, timeout=60).returncode == 0  # another process: refused
    first.close()  # the first tray ends (a crash drops the lock the same way)
    assert subprocess.run(other, timeout=60).returncode == 1
