"""macOS backend: device facts for now; per-area modules (wifi.py, crashes.py, ...) follow."""

from __future__ import annotations

from ..host import Host
from ..portable import portable_facts

OS_NAME = "macos"


def device_facts(host: Host) -> dict[str, str | None]:
    return portable_facts(host)
