"""Samples as the collector stores them (kind, data without kind and ts), and hypothesis
strategies for hours, configurations and "make one thing worse" moves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from dexpulse.collector.scoring import ScoringConfig
from dexpulse.collector.scoring.catalogue import HIGHER_IS_BETTER

Sample = tuple[str, dict[str, Any]]


# -- builders for hand-written hours ----------------------------------------------------------


def system(
    cpu: float = 40.0, avail: float = 40.0, disk: float = 30.0, disk_gb: float = 120.0
) -> Sample:
    return (
        "system",
        {
            "cpu_percent": cpu,
            "memory_percent": 100.0 - avail,
            "memory_available_percent": avail,
            "disk_free_percent": disk,
            "disk_free_gb": disk_gb,
            "uptime_s": 7200.0,
        },
    )


def wifi(rssi: float) -> Sample:
    return ("wifi", {"interface": "wlan0", "connected": True, "rssi_dbm": rssi, "band_ghz": 5.0})


def gateway(ms: float | None, status: str = "ok") -> Sample:
    data: dict[str, Any] = {"target": "gateway", "method": "gateway", "status": status}
    if ms is not None:
        data["connect_ms"] = ms
    return ("network_probe", data)


def http(
    ttfb: float | None = 200.0,
    status: str = "ok",
    code: int | None = 200,
    dns: float | None = 10.0,
    connect: float | None = 40.0,
    tls: float | None = 40.0,
    target: str = "collector",
) -> Sample:
    data: dict[str, Any] = {"target": target, "method": "http", "status": status}
    for key, value in (
        ("dns_ms", dns),
        ("connect_ms", connect),
        ("tls_ms", tls),
        ("ttfb_ms", ttfb),
        ("http_status", code),
    ):
        if value is not None:
            data[key] = value
    return ("network_probe", data)


def crash(app: str = "Teams") -> Sample:
    return ("app_crash", {"app_name": app, "app_version": "1.0"})


def hang(app: str = "Excel") -> Sample:
    return ("app_hang", {"app_name": app})


def answer(rating: int, **extra: Any) -> Sample:
    return (
        "survey_response",
        {"survey_id": "pulse", "status": "answered", "rating": rating, **extra},
    )


def clean_hour() -> list[Sample]:
    """A full hour with nothing wrong: 60 system, 60 Wi-Fi, 60 gateway and 60 HTTP probes."""
    return [system()] * 60 + [wifi(-60.0)] * 60 + [gateway(5.0)] * 60 + [http()] * 60


# -- hypothesis ---------------------------------------------------------------------------------


def _num(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Floats in [lo, hi], often whole numbers so that threshold boundaries get hit."""
    return st.one_of(st.integers(int(lo), int(hi)).map(float), st.floats(lo, hi))


def _fields(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict with any subset of ``fields`` (absent fields are left out, as ingest does)."""
    return st.fixed_dictionaries({}, optional=fields)


PROBE_FAILURES = ["timeout", "dns_error", "connect_error", "tls_error", "http_error"]

SAMPLE_DATA: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "system": _fields(
        cpu_percent=_num(0, 100),
        cpu_queue_length=_num(0, 30),
        memory_percent=_num(0, 100),
        memory_available_percent=_num(0, 100),
        memory_pressure_percent=_num(0, 100),
        disk_free_percent=_num(0, 100),
        disk_free_gb=_num(0, 500),
    ),
    "wifi": _fields(
        connected=st.sampled_from([True, True, True, False]),
        rssi_dbm=_num(-100, -30),
        signal_percent=_num(0, 100),
    ),
    "network_probe": st.builds(
        lambda base, timings: {**base, **timings},
        st.sampled_from(
            [
                {"target": "gateway", "method": "gateway"},
                {"target": "collector", "method": "http"},
                {"target": "crm", "method": "http"},
            ]
        ),
        _fields(
            status=st.sampled_from(["ok", "ok", "ok", "unreachable", *PROBE_FAILURES]),
            dns_ms=_num(0, 1000),
            connect_ms=_num(0, 1000),
            tls_ms=_num(0, 1000),
            ttfb_ms=_num(0, 5000),
        ),
    ),
    "boot": _fields(boot_duration_s=_num(5, 400), logon_duration_s=_num(1, 300)),
    "battery": _fields(health_percent=_num(20, 110)),
    "app_crash": st.fixed_dictionaries({"app_name": st.sampled_from(["Teams", "Outlook"])}),
    "app_hang": st.fixed_dictionaries({"app_name": st.sampled_from(["Excel", "Outlook"])}),
    "peripheral_failure": _fields(
        name=st.sampled_from(["Dock", "Headset"]), device_class=st.just("usb")
    ),
    "wifi_event": st.fixed_dictionaries(
        {"event": st.sampled_from(["connected", "disconnected", "roamed", "auth_failed"])}
    ),
    "survey_response": st.fixed_dictionaries(
        {"survey_id": st.just("pulse")},
        optional={
            "status": st.sampled_from(["answered", "answered", "dismissed", "expired"]),
            "rating": st.integers(1, 5),
            "yes_no": st.booleans(),
            "anonymous": st.booleans(),
        },
    ),
    "inventory": st.just({}),
    "agent_health": st.just({"component": "agent", "status": "ok"}),
    "throughput": st.just({"target": "collector", "download_mbps": 100.0}),
}
"""Per kind, the data of a sample: any subset of the fields the score reads."""

SAMPLES: st.SearchStrategy[Sample] = st.one_of(
    [st.tuples(st.just(kind), data) for kind, data in SAMPLE_DATA.items()]
)

HOURS: st.SearchStrategy[list[Sample]] = st.lists(SAMPLES, max_size=40)


@st.composite
def configs(draw: st.DrawFn) -> ScoringConfig:
    """Random valid configurations: weights, blends, penalties and thresholds."""

    def weights(names: list[str]) -> dict[str, float]:
        values = draw(st.lists(_num(0, 50), min_size=len(names), max_size=len(names)))
        if not any(values):
            values[0] = 1.0
        return dict(zip(names, values, strict=True))

    thresholds: dict[str, dict[str, float]] = {}
    for measure, band in ScoringConfig().thresholds.model_dump().items():
        # near the defaults, so that the samples drawn still land on both sides of them
        spread = 2 * abs(band["good"] - band["poor"]) + 1
        a = draw(st.floats(band["good"] - spread, band["good"] + spread))
        b = draw(st.floats(band["poor"] - spread, band["poor"] + spread))
        lo, hi = min(a, b), max(a, b)
        thresholds[measure] = (
            {"good": hi, "poor": lo} if measure in HIGHER_IS_BETTER else {"good": lo, "poor": hi}
        )
    return ScoringConfig.model_validate(
        {
            "thresholds": thresholds,
            "component_weights": weights(["performance", "reliability", "network"]),
            "performance_weights": weights(
                ["cpu", "memory", "disk_space", "boot_time", "logon_time", "battery_health"]
            ),
            "network_weights": weights(
                [
                    "wifi_signal",
                    "probe_failures",
                    "dns_time",
                    "http_ttfb",
                    "gateway_latency",
                    "connect_time",
                ]
            ),  # fmt: skip
            "event_points": {
                k: draw(_num(0, 100))
                for k in (
                    "app_crash",
                    "app_hang",
                    "peripheral_failure",
                    "wifi_disconnect",
                    "wifi_auth_failure",
                )
            },  # fmt: skip
            "event_decay": draw(st.floats(0, 0.95)),
            "fair_credit": draw(st.floats(0, 1)),
            "sentiment_weight": draw(st.floats(0, 1)),
            "survey_yes_no": draw(st.booleans()),
            "unreachable_probes": draw(st.sampled_from(["ignore", "failure", "failure_if_online"])),
        }
    )


CONFIGS = st.one_of(st.just(ScoringConfig()), configs())

# A move makes one sample worse in one way: (the sample's kind, the field it changes, how to
# make the data worse given another value of the field). Numeric moves keep the worse of the
# two values, so that both are often right at a boundary.
Move = tuple[str, str, Callable[[dict[str, Any], Any], dict[str, Any]]]


def _up(field: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Lower is better: keep the larger value."""
    return lambda data, other: {**data, field: max(data[field], other)}


def _down(field: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Higher is better: keep the smaller value."""
    return lambda data, other: {**data, field: min(data[field], other)}


def _fail(data: dict[str, Any], other: Any) -> dict[str, Any]:
    return {**data, "status": other}


SYSTEM, WIFI, PROBE = "system", "wifi", "network_probe"
MOVES: list[Move] = [
    (SYSTEM, "cpu_percent", _up("cpu_percent")),
    (SYSTEM, "cpu_queue_length", _up("cpu_queue_length")),
    (SYSTEM, "memory_percent", _up("memory_percent")),
    (SYSTEM, "memory_available_percent", _down("memory_available_percent")),
    (SYSTEM, "memory_pressure_percent", _up("memory_pressure_percent")),
    (SYSTEM, "disk_free_percent", _down("disk_free_percent")),
    (SYSTEM, "disk_free_gb", _down("disk_free_gb")),
    (WIFI, "rssi_dbm", _down("rssi_dbm")),
    (WIFI, "signal_percent", _down("signal_percent")),
    (PROBE, "dns_ms", _up("dns_ms")),
    (PROBE, "connect_ms", _up("connect_ms")),
    (PROBE, "tls_ms", _up("tls_ms")),
    (PROBE, "ttfb_ms", _up("ttfb_ms")),
    (PROBE, "status", _fail),
    ("boot", "boot_duration_s", _up("boot_duration_s")),
    ("boot", "logon_duration_s", _up("logon_duration_s")),
    ("battery", "health_percent", _down("health_percent")),
    ("survey_response", "rating", _down("rating")),
]
"""Every measure the score reads, made worse. A probe's status only moves from ``ok`` to a
failure: ``unreachable`` means "offline", which the score treats as absence, not as worse."""


FIELDS: dict[str, tuple[float, float, str, Callable[[float], float]]] = {
    "cpu_percent": (0, 100, "cpu_percent", float),
    "cpu_queue_length": (0, 30, "cpu_queue_length", float),
    "memory_percent": (0, 100, "memory_available_percent", lambda e: 100 - e),
    "memory_available_percent": (0, 100, "memory_available_percent", float),
    "memory_pressure_percent": (0, 100, "memory_pressure_percent", float),
    "disk_free_percent": (0, 100, "disk_free_percent", float),
    "disk_free_gb": (0, 500, "disk_free_gb", float),
    "rssi_dbm": (-100, -30, "rssi_dbm", float),
    "signal_percent": (0, 100, "rssi_dbm", lambda e: 2 * (e + 100)),
    "dns_ms": (0, 1000, "dns_ms", float),
    "connect_ms": (0, 1000, "gateway_ms", float),
    "tls_ms": (0, 1000, "connect_tls_ms", float),
    "ttfb_ms": (0, 5000, "ttfb_ms", float),
    "boot_duration_s": (5, 400, "boot_duration_s", float),
    "logon_duration_s": (1, 300, "logon_duration_s", float),
    "health_percent": (20, 110, "battery_health_percent", float),
}
"""Per field a move changes: its range, the measure whose boundaries matter, and how a
boundary of that measure reads in this field."""


def field_values(field: str, config: ScoringConfig) -> st.SearchStrategy[Any]:
    """Values of ``field``, mostly on, just inside or just outside ``config``'s boundaries (or
    half-way between them), so that a move often takes a sample from one class to the next."""
    if field == "status":
        return st.just("ok")
    if field == "rating":
        return st.integers(1, 5)
    lo, hi, measure, convert = FIELDS[field]
    band = config.thresholds.model_dump()[measure]
    edges = [convert(band["good"]), convert(band["poor"])]
    if field == "connect_ms":  # also the connect part of connect + TLS
        edges += [config.thresholds.connect_tls_ms.good, config.thresholds.connect_tls_ms.poor]
    marks = [e + d for e in edges for d in (-1.0, -0.01, 0.0, 0.01, 1.0)]
    marks.append(sum(edges[:2]) / 2)
    near = sorted({m for m in marks if lo <= m <= hi})
    anywhere = _num(lo, hi)
    return st.one_of(st.sampled_from(near), st.sampled_from(near), anywhere) if near else anywhere


def other_value(field: str, config: ScoringConfig) -> st.SearchStrategy[Any]:
    """The value a move compares with (for a status: the failure it turns into)."""
    return st.sampled_from(PROBE_FAILURES) if field == "status" else field_values(field, config)


BAD_EVENTS: list[Sample] = [
    ("app_crash", {"app_name": "Teams"}),
    ("app_hang", {"app_name": "Excel"}),
    ("peripheral_failure", {"name": "Dock"}),
    ("wifi_event", {"event": "disconnected"}),
    ("wifi_event", {"event": "auth_failed"}),
]
