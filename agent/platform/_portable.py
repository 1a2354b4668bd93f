"""Facts any OS can give through the standard library, for platforms without a backend yet."""

from __future__ import annotations

import platform
import socket
import sys

from .host import Host

OS_NAME = "windows" if sys.platform == "win32" else "macos" if sys.platform == "darwin" else "linux"


def device_facts(host: Host) -> dict[str, str | None]:
    del host
    return {
        "hostname": socket.gethostname(),
        "os_version": platform.release() or None,
        "os_build": platform.version() or None,
        "model": None,
        "manufacturer": None,
    }
