"""Per-OS probes, chosen once at import (psutil style): ``from dexpulse.agent import platform``.

Each OS module offers the same functions; they read files and run commands through the
injectable :class:`Host` (filesystem root, command runner) and hand the text to the pure
parsers in ``dexpulse.agent.parsers``. "This machine has no such thing" is an empty result.
"""

from __future__ import annotations

import sys

from .host import CommandResult, Host, NoData

if sys.platform.startswith("linux"):
    from . import _linux as current
else:  # Windows and macOS backends arrive with their samplers; until then, the portable floor
    from . import _portable as current

OS_NAME = current.OS_NAME

__all__ = ["OS_NAME", "CommandResult", "Host", "NoData", "current"]
