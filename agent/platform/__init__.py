"""Per-OS backends, chosen once at import (psutil style).

``current`` is this OS's package (``_linux``, ``_macos`` or ``_windows``); each offers
``device_facts(host)`` and one module per area (``wifi``, ``crashes``, ``boot`` ...) that reads
files and runs commands through the injectable :class:`Host` and hands the text to the pure
parsers in ``dexpulse.agent.parsers``. :func:`area` returns this OS's module for an area, or
raises :class:`NoData` where the OS has none yet: "not here" is a normal result.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from .host import CommandResult, Host, NoData

if sys.platform == "win32":
    from . import _windows as current
elif sys.platform == "darwin":
    from . import _macos as current
else:
    from . import _linux as current

OS_NAME: str = current.OS_NAME


def area(name: str) -> ModuleType:
    """This OS's backend module for ``name`` (e.g. "wifi"); NoData if there is none."""
    try:
        return importlib.import_module(f"{current.__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{current.__name__}.{name}":
            raise
        raise NoData(f"no {name} support on {OS_NAME} yet") from None


__all__ = ["OS_NAME", "CommandResult", "Host", "NoData", "area", "current"]
