"""Event samples: things that happened (a crash, a disconnect, an answer) and agent reports.

``ts`` is when the event happened on the device, not when the agent noticed it, so that a
crash read from a log after a reboot lands in the right minute.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .samples import SampleBase
from .types import NonNegFloat, Percent, ShortText, Text, UInt32, WireModel


class AppCrashSample(SampleBase):
    kind: Literal["app_crash"] = "app_crash"
    app_name: ShortText
    app_version: ShortText | None = None
    app_path: Text | None = None
    module_name: ShortText | None = None
    module_version: ShortText | None = None
    exception_code: ShortText | None = None
    signal: ShortText | None = None
    pid: UInt32 | None = None
    report_id: ShortText | None = None


class AppHangSample(SampleBase):
    kind: Literal["app_hang"] = "app_hang"
    app_name: ShortText
    app_version: ShortText | None = None
    app_path: Text | None = None
    pid: UInt32 | None = None
    hang_duration_s: NonNegFloat | None = None
    report_id: ShortText | None = None


class PeripheralFailureSample(SampleBase):
    kind: Literal["peripheral_failure"] = "peripheral_failure"
    device_class: ShortText | None = None
    device_id: Text | None = None
    vendor_id: ShortText | None = None
    product_id: ShortText | None = None
    name: ShortText | None = None
    driver: ShortText | None = None
    driver_version: ShortText | None = None
    error: ShortText | None = None
    message: Text | None = None


class WifiEventSample(SampleBase):
    kind: Literal["wifi_event"] = "wifi_event"
    event: Literal["connected", "disconnected", "roamed", "auth_failed"]
    interface: ShortText | None = None
    ssid: ShortText | None = None
    bssid: ShortText | None = None
    previous_bssid: ShortText | None = None
    reason: Text | None = None
    reason_code: int | None = Field(default=None, ge=-(2**31), le=2**32 - 1)


class SurveyResponseSample(SampleBase):
    kind: Literal["survey_response"] = "survey_response"
    survey_id: ShortText
    status: Literal["answered", "dismissed", "expired"] = "answered"
    rating: int | None = Field(default=None, ge=1, le=5)
    yes_no: bool | None = None
    comment: Text | None = None
    anonymous: bool = False


class AgentHealthSample(SampleBase):
    kind: Literal["agent_health"] = "agent_health"
    component: ShortText
    status: Literal["ok", "degraded", "disabled", "error"]
    message: Text | None = None
    rss_mb: NonNegFloat | None = None
    cpu_percent: Percent | None = None
    spool_bytes: int | None = Field(default=None, ge=0, le=2**63 - 1)
    spool_dropped_samples: int | None = Field(default=None, ge=0, le=2**63 - 1)
    upload_failures: int | None = Field(default=None, ge=0, le=2**63 - 1)


class InventoryApp(WireModel):
    name: ShortText
    version: ShortText | None = None
    running: bool | None = None


class InventoryPeripheral(WireModel):
    device_class: ShortText | None = None
    name: ShortText | None = None
    vendor_id: ShortText | None = None
    product_id: ShortText | None = None
    driver: ShortText | None = None
    driver_version: ShortText | None = None


class InventorySample(SampleBase):
    """What the device runs and has attached: the denominator of outage detection.

    Sent at agent start, whenever it changes and daily, always complete (not a diff), so the
    latest inventory alone says what a device is exposed to.
    """

    kind: Literal["inventory"] = "inventory"
    reason: Literal["start", "change", "daily"] | None = None
    apps: list[InventoryApp] = Field(default_factory=list, max_length=5000)
    peripherals: list[InventoryPeripheral] = Field(default_factory=list, max_length=1000)
