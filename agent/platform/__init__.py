"""Per-OS backends, chosen once at import (psutil style).

``current`` is this OS's package (``_linux``, ``_macos`` or ``_windows``); each offers
``device_facts(host)`` and one module per area (``wifi``, ``crashes``, ``boot`` ...) that reads
files and runs commands through the injectable :class:`Host` and hands the text to the pure
parsers in ``dexpulse.agent.parsers``. :func:`area` returns this OS's module for an area, or
raises :class:`NoData` where the OS has none yet: "not here" is a normal result.

:func:`select` puts another OS's backends in place. Every backend imports on every OS (the
Windows-only and macOS-only libraries are loaded only when a reading runs there), so the
Windows and macOS collection paths run on Linux against a recorded machine: the OS matrix of
the test suite (``tests/agent/test_os_matrix.py``) does exactly that.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Literal

from .host import CommandResult, Host, NoData

if sys.platform == "win32":
    from . import _windows as current
elif sys.platform == "darwin":
    from . import _macos as current
else:
    from . import _linux as current

OS_NAME: str = current.OS_NAME
PACKAGES = {"linux": "_linux", "macos": "_macos", "windows": "_windows"}


def select(os_name: Literal["linux", "macos", "windows"]) -> ModuleType:
    """Use ``os_name``'s backends from now on (read through this module's ``current`` and
    ``OS_NAME``); the package that was in use, so a caller can put it back."""
    global current, OS_NAME
    previous = current
    current = importlib.import_module(f"{__name__}.{PACKAGES[os_name]}")
    OS_NAME = current.OS_NAME
    return previous


def area(name: str) -> ModuleType:
    """This OS's backend module for ``name`` (e.g. "wifi"); NoData if there is none."""
    try:
        return importlib.import_module(f"{current.__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{current.__name__}.{name}":
            raise
        raise NoData(f"no {name} support on {OS_NAME} yet") from None


__all__ = ["OS_NAME", "CommandResult", "Host", "NoData", "area", "current", "select"]
