"""Facts any OS can give through the standard library (the floor for every backend)."""

from __future__ import annotations

import platform
import socket

from .host import Host


def portable_facts(host: Host) -> dict[str, str | None]:
    del host
    return {
        "hostname": socket.gethostname(),
        "os_version": platform.release() or None,
        "os_build": platform.version() or None,
        "model": None,
        "manufacturer": None,
    }
