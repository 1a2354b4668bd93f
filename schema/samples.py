"""Measurement samples: what the agent reads on a schedule.

Each class is one ``kind``. Units are in the field names (``_ms``, ``_dbm``, ``_mbps``,
``_percent``, ``_s``, ``_wh``, ``_mb``, ``_gb``, ``_c``). Every field except ``kind`` and ``ts``
is optional: a platform that cannot read a value leaves it out rather than guessing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .types import NonNegFloat, Percent, ShortText, Text, UInt32, UtcDatetime, WireModel


class SampleBase(WireModel):
    ts: UtcDatetime = Field(description="When the sample was taken or the event happened (UTC).")


class SystemSample(SampleBase):
    kind: Literal["system"] = "system"
    cpu_percent: Percent | None = None
    cpu_max_core_percent: Percent | None = None
    cpu_queue_length: NonNegFloat | None = None
    load_avg_1m: NonNegFloat | None = None
    memory_percent: Percent | None = None
    memory_available_mb: NonNegFloat | None = None
    memory_available_percent: Percent | None = None
    memory_pressure_percent: Percent | None = None
    swap_percent: Percent | None = None
    disk_free_percent: Percent | None = None
    disk_free_gb: NonNegFloat | None = None
    cpu_speed_limit_percent: Percent | None = None
    cpu_temperature_c: float | None = Field(default=None, ge=-50, le=200)
    uptime_s: NonNegFloat | None = None
    process_count: UInt32 | None = None
    top_processes: list[ShortText] | None = Field(default=None, max_length=3)


class WifiSample(SampleBase):
    kind: Literal["wifi"] = "wifi"
    interface: ShortText | None = None
    connected: bool | None = None
    ssid: ShortText | None = None
    bssid: ShortText | None = None
    rssi_dbm: float | None = Field(default=None, ge=-150, le=30)
    noise_dbm: float | None = Field(default=None, ge=-150, le=30)
    signal_percent: Percent | None = None
    channel: UInt32 | None = None
    band_ghz: NonNegFloat | None = None
    frequency_mhz: NonNegFloat | None = None
    rx_rate_mbps: NonNegFloat | None = None
    tx_rate_mbps: NonNegFloat | None = None
    radio_type: ShortText | None = None
    security: ShortText | None = None


class NetworkProbeSample(SampleBase):
    kind: Literal["network_probe"] = "network_probe"
    target: ShortText
    method: ShortText | None = None
    dns_ms: NonNegFloat | None = None
    connect_ms: NonNegFloat | None = None
    tls_ms: NonNegFloat | None = None
    ttfb_ms: NonNegFloat | None = None
    http_status: int | None = Field(default=None, ge=100, le=599)
    status: ShortText
    error: Text | None = None


class ThroughputSample(SampleBase):
    kind: Literal["throughput"] = "throughput"
    target: ShortText
    download_mbps: NonNegFloat | None = None
    upload_mbps: NonNegFloat | None = None
    latency_ms: NonNegFloat | None = None
    jitter_ms: NonNegFloat | None = None
    duration_s: NonNegFloat | None = None
    error: Text | None = None


class BatterySample(SampleBase):
    kind: Literal["battery"] = "battery"
    percent: Percent | None = None
    plugged: bool | None = None
    status: ShortText | None = None
    design_capacity_wh: NonNegFloat | None = None
    full_charge_capacity_wh: NonNegFloat | None = None
    health_percent: NonNegFloat | None = None
    cycle_count: UInt32 | None = None


class BootSample(SampleBase):
    kind: Literal["boot"] = "boot"
    boot_duration_s: NonNegFloat | None = None
    firmware_s: NonNegFloat | None = None
    loader_s: NonNegFloat | None = None
    kernel_s: NonNegFloat | None = None
    initrd_s: NonNegFloat | None = None
    userspace_s: NonNegFloat | None = None
    logon_duration_s: NonNegFloat | None = None
