"""Local accounts for tests that hand files to users: who runs the tests, and another one."""

from __future__ import annotations

import os
import pwd

import pytest

ME = pwd.getpwuid(os.geteuid()).pw_name
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="handing files to other users needs root")


def other_user() -> str:
    """An existing account that is not this one (``nobody``); the test skips without it."""
    try:
        return pwd.getpwnam("nobody").pw_name
    except KeyError:
        pytest.skip("no 'nobody' account on this machine")
