"""The ``inventory`` sampler: the apps in use with their versions and the attached peripherals
with their drivers, i.e. what this device is *exposed* to.

Why: outage detection counts affected devices over exposed devices per cohort (an app
version, a driver version); the inventory is that denominator. A crash of Firefox 132 on 40 of
50 devices running it is an outage; on 40 of 5,000 it is noise. A sample as sent (an Ubuntu
laptop, shortened; the versions are illustrative)::

    {"kind": "inventory", "ts": "2026-11-27T09:00:00Z", "reason": "start",
     "apps": [{"name": "firefox", "version": "132.0.2-1", "running": true},
              {"name": "gnome-shell", "version": "46.0-0ubuntu6~24.04.4", "running": true},
              {"name": "teams-for-linux", "version": null, "running": true}],
     "peripherals": [{"device_class": "usb", "name": "Logitech USB Receiver",
                      "vendor_id": "046d", "product_id": "c52b", "driver": "usbhid",
                      "driver_version": null},
                     {"device_class": "bluetooth", "name": "MX Master 3", "vendor_id": "046d",
                      "product_id": "b023", "driver": "logitech-hidpp-device",
                      "driver_version": null}]}

Every run (hourly by default) takes the inventory and sends it, always complete, only when
there is a reason: ``start`` on the first run of this agent process, ``change`` when apps or
peripherals differ from the last one sent (a hash of both), ``daily`` when about a day has
passed since the last one sent (within half an interval, so an hourly check does not slip to
25 h). Otherwise nothing.

Cost: the OS backend looks package versions up once per executable file and keeps them in a
bounded cache (``MAX_CACHED`` paths, least recently seen dropped first) held in memory and in
the state store, so a laptop pays the package-database lookup once, not once per run or per
restart. The state file holds only that cache.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any, Literal

from dexpulse.schema import InventoryApp, InventoryPeripheral, InventorySample, SampleBase

from .. import platform
from .base import Context, Sampler, register

STATE = "inventory"
MAX_CACHED = 1000
DAY = timedelta(days=1)
Reason = Literal["start", "change", "daily"]


def inventory_hash(apps: list[InventoryApp], peripherals: list[InventoryPeripheral]) -> str:
    """A digest of the inventory that ignores order."""
    digest = hashlib.sha256()
    for part in sorted(item.model_dump_json() for item in apps):
        digest.update(b"a" + part.encode() + b"\n")
    for part in sorted(item.model_dump_json() for item in peripherals):
        digest.update(b"p" + part.encode() + b"\n")
    return digest.hexdigest()


def _valid_cache(raw: Any) -> dict[str, list[str | None]]:
    if not isinstance(raw, dict):
        return {}
    return {
        path: [entry[0], entry[1]]
        for path, entry in raw.items()
        if isinstance(path, str)
        and isinstance(entry, list)
        and len(entry) == 2
        and isinstance(entry[0], str)
        and (entry[1] is None or isinstance(entry[1], str))
    }


@register
class InventorySampler(Sampler):
    name = "inventory"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._sent_hash: str | None = None
        self._sent_at: datetime | None = None
        self._versions: dict[str, list[str | None]] | None = None

    def _cache(self) -> dict[str, list[str | None]]:
        if self._versions is None:
            self._versions = _valid_cache(self.ctx.state.load(STATE).get("versions"))
        return self._versions

    def _keep(
        self, cache: dict[str, list[str | None]], before: dict[str, list[str | None]]
    ) -> None:
        for path in list(cache)[: max(0, len(cache) - MAX_CACHED)]:
            del cache[path]  # least recently seen first
        if cache != before:
            self.ctx.state.save(STATE, {"versions": cache})

    def _reason(self, digest: str, now: datetime) -> Reason | None:
        if self._sent_at is None:
            return "start"
        if digest != self._sent_hash:
            return "change"
        slack = timedelta(seconds=self.ctx.config.samplers.inventory.interval_s / 2)
        if now - self._sent_at >= DAY - min(slack, DAY / 2):
            return "daily"
        return None

    def collect(self) -> list[SampleBase]:
        backend = platform.area("inventory")
        host = self.ctx.host
        cache = self._cache()
        before = dict(cache)
        apps: list[InventoryApp] = backend.apps_in_use(host, cache)
        self._keep(cache, before)
        peripherals: list[InventoryPeripheral] = backend.peripherals(host)
        now = self.ctx.clock()
        digest = inventory_hash(apps, peripherals)
        reason = self._reason(digest, now)
        if reason is None:
            return []
        self._sent_hash, self._sent_at = digest, now
        return [InventorySample(ts=now, reason=reason, apps=apps, peripherals=peripherals)]
