"""What the score is made of: components, metrics, measures and event causes, named once.

Every other module of the package refers to these names, and the names are stable machine keys:
they are stored in the database (inside hour aggregates) and returned by the API as loss causes,
so a rename would orphan stored hours. Add names, never rename them.

* A *measure* is one number read from a sample (``rssi_dbm``, ``cpu_percent``...) with a good and
  a poor boundary in the configuration. Its direction (is higher better?) is fixed here, not
  configurable: nobody wants a lower battery health to count as better.
* A *metric* is what gets a weight inside a component. Most metrics read one measure; a few
  combine two (CPU is the worse of load and run queue; disk space the better of free share and
  free gigabytes, so a large disk that is 92 % full is not called poor).
* An *event cause* is a kind of thing that broke (a crash, a hang, a Wi-Fi drop) and costs
  reliability points per occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

PERFORMANCE: Final = "performance"
RELIABILITY: Final = "reliability"
NETWORK: Final = "network"
SENTIMENT: Final = "sentiment"
TECHNICAL_COMPONENTS: Final = (PERFORMANCE, RELIABILITY, NETWORK)
"""The components measured by the agent; sentiment is blended on top of their weighted mean."""
COMPONENTS: Final = (*TECHNICAL_COMPONENTS, SENTIMENT)

HIGHER_IS_BETTER: Final = frozenset(
    {
        "rssi_dbm",
        "memory_available_percent",
        "disk_free_percent",
        "disk_free_gb",
        "battery_health_percent",
    }
)
"""Measures where a larger value is better; every other measure is better when smaller."""

MEASURES: Final = (
    "cpu_percent",
    "cpu_queue_length",
    "memory_pressure_percent",
    "memory_available_percent",
    "disk_free_percent",
    "disk_free_gb",
    "boot_duration_s",
    "logon_duration_s",
    "battery_health_percent",
    "rssi_dbm",
    "dns_ms",
    "connect_tls_ms",
    "ttfb_ms",
    "gateway_ms",
)


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """How a metric is presented: its component, a label, and what one sample of it is called.

    ``timed`` metrics are sampled on a clock (every minute), so a share of their samples is a
    share of time ("poor 18 % of the time"); the others are counted per occurrence (boots,
    probes), so their details say "in 2 of 40 probes".
    """

    name: str
    component: str
    label: str
    noun: str
    timed: bool


METRICS: Final[dict[str, MetricInfo]] = {
    m.name: m
    for m in (
        MetricInfo("cpu", PERFORMANCE, "CPU saturation", "readings", True),
        MetricInfo("memory", PERFORMANCE, "Memory pressure", "readings", True),
        MetricInfo("disk_space", PERFORMANCE, "Disk space", "readings", True),
        MetricInfo("boot_time", PERFORMANCE, "Boot time", "boots", False),
        MetricInfo("logon_time", PERFORMANCE, "Sign-in time", "sign-ins", False),
        MetricInfo("battery_health", PERFORMANCE, "Battery health", "battery readings", False),
        MetricInfo("wifi_signal", NETWORK, "Wi-Fi signal", "readings", True),
        MetricInfo("probe_failures", NETWORK, "Network probes failing", "probes", False),
        MetricInfo("dns_time", NETWORK, "DNS resolution", "lookups", False),
        MetricInfo("http_ttfb", NETWORK, "Web response (first byte)", "requests", False),
        MetricInfo("gateway_latency", NETWORK, "Gateway latency", "probes", False),
        MetricInfo("connect_time", NETWORK, "Connection set-up (TCP + TLS)", "probes", False),
    )
}
"""Every sample-based metric, in display order."""


@dataclass(frozen=True, slots=True)
class EventInfo:
    name: str
    singular: str
    plural: str
    named: bool
    """Whether occurrences carry a name worth listing (the app or the peripheral)."""


EVENTS: Final[dict[str, EventInfo]] = {
    e.name: e
    for e in (
        EventInfo("app_crash", "app crash", "app crashes", True),
        EventInfo("app_hang", "app hang", "app hangs", True),
        EventInfo("peripheral_failure", "peripheral failure", "peripheral failures", True),
        EventInfo("wifi_disconnect", "Wi-Fi disconnect", "Wi-Fi disconnects", False),
        EventInfo(
            "wifi_auth_failure",
            "Wi-Fi authentication failure",
            "Wi-Fi authentication failures",
            False,
        ),
    )
}
"""Every event cause; all of them cost points of the reliability component."""

SENTIMENT_CAUSE: Final = "sentiment"


def cause_label(cause: str) -> str:
    """A short human name for a loss cause (a metric, an event cause, or sentiment)."""
    if cause in METRICS:
        return METRICS[cause].label
    if cause in EVENTS:
        return EVENTS[cause].plural[:1].upper() + EVENTS[cause].plural[1:]
    if cause == SENTIMENT_CAUSE:
        return "Survey answers"
    return cause


def component_of(cause: str) -> str:
    """The component a loss cause belongs to ("" for a name this catalogue does not know)."""
    if cause in METRICS:
        return METRICS[cause].component
    if cause in EVENTS:
        return RELIABILITY
    return SENTIMENT if cause == SENTIMENT_CAUSE else ""


def describe(bands: dict[str, tuple[float, float]]) -> dict[str, tuple[str, str]]:
    """(what poor means, what fair means) per metric under ``bands`` (measure -> good, poor),
    for the detail lines: a loss says which line was crossed, not just that one was."""

    def lower(m: str, unit: str) -> tuple[str, str]:
        good, poor = bands[m]
        return f"over {poor:g}{unit}", f"{good:g} to {poor:g}{unit}"

    def higher(m: str, unit: str) -> tuple[str, str]:
        good, poor = bands[m]
        return f"below {poor:g}{unit}", f"{poor:g} to {good:g}{unit}"

    cpu, queue = bands["cpu_percent"], bands["cpu_queue_length"]
    stall, avail = bands["memory_pressure_percent"], bands["memory_available_percent"]
    dfree, dgb = bands["disk_free_percent"], bands["disk_free_gb"]
    return {
        "cpu": (
            f"CPU over {cpu[1]:g} % or over {queue[1]:g} threads waiting",
            f"CPU over {cpu[0]:g} % or over {queue[0]:g} threads waiting",
        ),
        "memory": (
            f"stalled over {stall[1]:g} % of the time or under {avail[1]:g} % available",
            f"stalled over {stall[0]:g} % of the time or under {avail[0]:g} % available",
        ),
        "disk_space": (
            f"under {dfree[1]:g} % and under {dgb[1]:g} GB free",
            f"under {dfree[0]:g} % and under {dgb[0]:g} GB free",
        ),
        "boot_time": lower("boot_duration_s", " s"),
        "logon_time": lower("logon_duration_s", " s"),
        "battery_health": higher("battery_health_percent", " % of design capacity"),
        "wifi_signal": higher("rssi_dbm", " dBm"),
        "probe_failures": ("failed", "fair"),
        "dns_time": lower("dns_ms", " ms"),
        "http_ttfb": lower("ttfb_ms", " ms"),
        "gateway_latency": lower("gateway_ms", " ms"),
        "connect_time": lower("connect_tls_ms", " ms"),
    }
