"""The real command runner: what a missing, forbidden or hung tool becomes."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from dexpulse.agent.platform import NoData
from dexpulse.agent.platform.host import run_command


def test_a_tool_that_answers() -> None:
    result = run_command([sys.executable, "-c", "import os; print(os.environ['LC_ALL'])"], 10)
    assert (result.returncode, result.stdout.strip()) == (0, "C")


def test_a_missing_tool_is_nodata() -> None:
    with pytest.raises(NoData, match="not installed"):
        run_command(["dexpulse-no-such-tool"], 10)


def test_a_tool_that_may_not_run_is_nodata(tmp_path: Path) -> None:
    script = tmp_path / "tool"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o600)  # not executable
    with pytest.raises(NoData, match="not permitted"):
        run_command([str(script)], 10)


def test_a_hung_tool_is_killed_and_is_nodata() -> None:
    started = time.monotonic()
    with pytest.raises(NoData, match="no answer within 0.3 s"):
        run_command([sys.executable, "-c", "import time; time.sleep(30)"], 0.3)
    assert time.monotonic() - started < 20  # killed, not waited for
