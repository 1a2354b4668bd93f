"""The wire contract: committed JSON Schema, the field catalogue and the models' rules."""

from __future__ import annotations

import importlib
import shutil
import typing
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

import dexpulse.schema
from dexpulse.schema import (
    SAMPLE_MODELS,
    AppCrashSample,
    Batch,
    IngestResponse,
    InventorySample,
    Sample,
    SurveyResponseSample,
    SystemSample,
    WifiEventSample,
    WifiSample,
    catalogue,
    export,
)
from dexpulse.schema.types import WireModel

TS = "2024-05-01T12:00:00Z"
AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

# The required fields of each kind besides ``ts``, with valid values: a minimal sample.
MINIMAL: dict[str, dict[str, Any]] = {
    "system": {},
    "wifi": {},
    "network_probe": {"target": "gateway", "status": "ok"},
    "throughput": {"target": "collector"},
    "battery": {},
    "boot": {},
    "app_crash": {"app_name": "Teams.exe"},
    "app_hang": {"app_name": "OUTLOOK.EXE"},
    "peripheral_failure": {},
    "wifi_event": {"event": "roamed"},
    "survey_response": {"survey_id": "pulse-2024-05"},
    "agent_health": {"component": "spool", "status": "ok"},
    "inventory": {},
}

# Some optional fields per kind, so round trips carry more than the minimum.
OPTIONAL: dict[str, dict[str, Any]] = {
    "system": {"cpu_percent": 12.5, "uptime_s": 3600.25, "process_count": 312},
    "wifi": {"ssid": "corp", "rssi_dbm": -67.0, "channel": 36, "connected": True},
    "network_probe": {"method": "http", "dns_ms": 1.25, "http_status": 204},
    "throughput": {"download_mbps": 941.7, "latency_ms": 3.0},
    "battery": {"percent": 80.0, "plugged": False, "cycle_count": 412},
    "boot": {"boot_duration_s": 41.2, "firmware_s": 7.5},
    "app_crash": {"exception_code": "0xc0000005", "pid": 4242},
    "app_hang": {"hang_duration_s": 12.0, "report_id": "r-1"},
    "peripheral_failure": {"device_class": "usb", "vendor_id": "046d", "message": "error -71"},
    "wifi_event": {"bssid": "64:d1:54:00:00:02", "previous_bssid": "64:d1:54:00:00:01"},
    "survey_response": {"rating": 4, "comment": "Teams was slow this morning ☕"},
    "agent_health": {"rss_mb": 41.5, "spool_bytes": 0, "cpu_percent": 0.5},
    "inventory": {
        "reason": "start",
        "apps": [{"name": "Teams", "version": "24.1", "running": True}],
        "peripherals": [{"device_class": "dock", "driver": "usbc"}],
    },
}

MODEL_BY_KIND: dict[str, type[WireModel]] = {
    model.model_fields["kind"].default: model for model in SAMPLE_MODELS
}


def sample(kind: str, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "ts": TS, **MINIMAL[kind], **fields}


def envelope(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "device_id": str(uuid.uuid4()),
        "batch_id": str(uuid.uuid4()),
        "seq": 1,
        "sent_at": TS,
        "agent": {"version": "0.1.0", "os": "linux"},
        "tags": {"site": "brussels"},
        "samples": [],
    }
    body.update(fields)
    return body


def refused(model: type[WireModel], data: dict[str, Any]) -> list[str]:
    """Validate ``data``, expect it refused, and return the error types."""
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return [e["type"] for e in info.value.errors()]


def show(pairs: typing.Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{kind}.{field}" for kind, field in sorted(pairs))


# Committed JSON Schema files


def test_committed_json_schema_files_are_fresh() -> None:
    assert export.stale() == [], "run `dexpulse schema export` and commit the result"


def test_no_orphaned_json_schema_files_are_committed() -> None:
    committed = {p.name for p in export.DEFAULT_DIR.glob("*.json")}
    assert committed == set(export.EXPORTED)


def test_stale_reports_modified_and_missing_files(tmp_path: Path) -> None:
    for name in export.EXPORTED:
        shutil.copy(export.DEFAULT_DIR / name, tmp_path / name)
    assert export.stale(tmp_path) == []

    batch = tmp_path / "batch.schema.json"
    batch.write_text(batch.read_text("utf-8").replace('"Batch"', '"Batch2"', 1), "utf-8")
    (tmp_path / "error.schema.json").unlink()
    assert sorted(export.stale(tmp_path)) == ["batch.schema.json", "error.schema.json"]


def test_write_produces_fresh_files(tmp_path: Path) -> None:
    written = export.write(tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(export.EXPORTED)
    assert export.stale(tmp_path / "out") == []


# Field catalogue


def test_catalogue_lists_every_model_field() -> None:
    declared = {(r.kind, r.field) for r in catalogue.load_catalogue()}
    defined = {(r.kind, r.field) for r in catalogue.model_fields()}
    missing = defined - declared
    assert not missing, f"fields in the models but not in fields.csv: {show(missing)}"


def test_catalogue_lists_no_field_the_models_lack() -> None:
    declared = {(r.kind, r.field) for r in catalogue.load_catalogue()}
    defined = {(r.kind, r.field) for r in catalogue.model_fields()}
    extra = declared - defined
    assert not extra, f"fields in fields.csv that no model defines: {show(extra)}"


def test_catalogue_types_match_the_models() -> None:
    declared = {(r.kind, r.field): r.type for r in catalogue.load_catalogue()}
    defined = {(r.kind, r.field): r.type for r in catalogue.model_fields()}
    wrong = [
        f"{kind}.{field}: fields.csv says {declared[kind, field]!r}, model says {type_!r}"
        for (kind, field), type_ in sorted(defined.items())
        if (kind, field) in declared and declared[kind, field] != type_
    ]
    assert not wrong, "types differ: " + "; ".join(wrong)


def test_every_catalogue_row_has_a_meaning() -> None:
    blank = [(r.kind, r.field) for r in catalogue.load_catalogue() if not r.meaning.strip()]
    assert not blank, f"rows without a meaning: {show(blank)}"


def test_catalogue_units_match_field_name_suffixes() -> None:
    wrong = [
        f"{r.kind}.{r.field}: unit {r.unit!r}, name promises {catalogue.expected_unit(r.field)!r}"
        for r in catalogue.load_catalogue()
        if catalogue.expected_unit(r.field) and r.unit != catalogue.expected_unit(r.field)
    ]
    assert not wrong, "units differ: " + "; ".join(wrong)


def test_catalogue_has_no_duplicate_rows() -> None:
    counts = Counter((r.kind, r.field) for r in catalogue.load_catalogue())
    duplicated = [pair for pair, n in counts.items() if n > 1]
    assert not duplicated, f"rows listed more than once: {show(duplicated)}"


def test_catalogue_covers_the_envelope_and_every_sample_kind() -> None:
    kinds = {r.kind for r in catalogue.load_catalogue()}
    assert kinds == {catalogue.ENVELOPE_KIND, *MODEL_BY_KIND}


@pytest.mark.parametrize(
    ("field", "unit"),
    [
        ("rssi_dbm", "dBm"),
        ("dns_ms", "ms"),
        ("uptime_s", "s"),
        ("rx_rate_mbps", "Mbit/s"),
        ("health_percent", "%"),
        ("memory_available_mb", "MiB"),
        ("disk_free_gb", "GiB"),
        ("cpu_temperature_c", "degC"),
        ("agent.os", ""),
        ("status", ""),
        ("apps[].name", ""),
        ("spool_bytes", ""),
    ],
)
def test_expected_unit_reads_the_name_suffix(field: str, unit: str) -> None:
    assert catalogue.expected_unit(field) == unit


# Sample kinds and the discriminated union


def test_every_sample_kind_has_a_default_kind_literal() -> None:
    for model in SAMPLE_MODELS:
        kind_field = model.model_fields["kind"]
        assert isinstance(kind_field.default, str), model.__name__
        assert typing.get_args(kind_field.annotation) == (kind_field.default,), model.__name__


def test_sample_kinds_are_distinct() -> None:
    kinds = [model.model_fields["kind"].default for model in SAMPLE_MODELS]
    duplicated = sorted(k for k, n in Counter(kinds).items() if n > 1)
    assert not duplicated, f"kinds used by more than one model: {duplicated}"


def test_sample_union_holds_exactly_the_sample_models() -> None:
    union = typing.get_args(Sample)[0]
    assert set(typing.get_args(union)) == set(SAMPLE_MODELS)


def test_minimal_samples_cover_every_kind_with_exactly_its_required_fields() -> None:
    assert set(MINIMAL) == set(MODEL_BY_KIND) == set(OPTIONAL)
    for kind, model in MODEL_BY_KIND.items():
        required = {name for name, f in model.model_fields.items() if f.is_required()}
        assert required == {"ts", *MINIMAL[kind]}, kind


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_batch_accepts_a_minimal_sample_of_each_kind(kind: str) -> None:
    batch = Batch.model_validate(envelope(samples=[sample(kind)]))
    (only,) = batch.samples
    assert type(only) is MODEL_BY_KIND[kind]
    assert only.kind == kind
    assert only.ts == AT


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_minimal_sample_lacking_a_required_field_is_refused(kind: str) -> None:
    for name in ["ts", *MINIMAL[kind]]:
        data = sample(kind)
        del data[name]
        assert "missing" in refused(Batch, envelope(samples=[data])), f"{kind}.{name}"


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_batch_of_each_kind_round_trips_through_json(kind: str) -> None:
    batch = Batch.model_validate(envelope(samples=[sample(kind), sample(kind, **OPTIONAL[kind])]))
    text = batch.model_dump_json()
    again = Batch.model_validate_json(text)
    assert again == batch
    assert again.model_dump_json() == text
    assert [type(s) for s in again.samples] == [MODEL_BY_KIND[kind]] * 2


def test_unknown_sample_kind_is_refused() -> None:
    types = refused(Batch, envelope(samples=[{"kind": "telepathy", "ts": TS}]))
    assert types == ["union_tag_invalid"]


def test_sample_without_kind_is_refused() -> None:
    assert refused(Batch, envelope(samples=[{"ts": TS}])) == ["union_tag_not_found"]


# Forward compatibility: a newer agent's fields are accepted and dropped.


def test_unknown_fields_are_accepted_and_dropped() -> None:
    data = envelope(
        compression_dictionary="v2",
        agent={"version": "9.0.0", "os": "macos", "secure_enclave": True},
        samples=[
            sample("wifi", ssid="corp", wifi7_mlo_links=3),
            sample(
                "inventory",
                apps=[{"name": "Teams", "version": "24.1", "signed_by": "Microsoft"}],
                peripherals=[{"name": "Dock", "firmware": "1.2"}],
            ),
        ],
    )
    batch = Batch.model_validate(data)
    assert batch.agent.version == "9.0.0"
    assert batch.samples[0] == WifiSample(ts=AT, ssid="corp")
    inventory = batch.samples[1]
    assert isinstance(inventory, InventorySample)
    assert inventory.apps[0].name == "Teams"
    assert inventory.peripherals[0].name == "Dock"
    dumped = batch.model_dump_json()
    for unknown in ["compression_dictionary", "secure_enclave", "wifi7_mlo_links", "signed_by"]:
        assert unknown not in dumped
    assert "firmware" not in dumped


# Timestamps


@pytest.mark.parametrize(
    "naive", ["2024-05-01T12:00:00", "2024-05-01 12:00:00", AT.replace(tzinfo=None)]
)
def test_naive_sample_timestamp_is_refused(naive: str | datetime) -> None:
    assert refused(WifiSample, {"ts": naive}) == ["timezone_aware"]


def test_naive_sent_at_is_refused() -> None:
    assert refused(Batch, envelope(sent_at="2024-05-01T12:00:00")) == ["timezone_aware"]


@pytest.mark.parametrize(
    ("wire", "instant"),
    [
        ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
        ("2024-05-01T12:00:00-05:30", datetime(2024, 5, 1, 17, 30, tzinfo=UTC)),
        ("2024-05-01T00:30:00+01:00", datetime(2024, 4, 30, 23, 30, tzinfo=UTC)),
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
    ],
)
def test_timestamps_with_offsets_become_utc(wire: str, instant: datetime) -> None:
    ts = WifiSample.model_validate({"ts": wire}).ts
    assert ts == instant
    assert ts.tzinfo is UTC
    assert ts.isoformat() == instant.isoformat()  # same wall clock, offset +00:00


def test_aware_python_datetime_becomes_utc() -> None:
    local = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=9)))
    ts = AppCrashSample(ts=local, app_name="x").ts
    assert ts.tzinfo is UTC
    assert ts.hour == 3


def test_sent_at_with_offset_becomes_utc_and_serialises_as_utc() -> None:
    batch = Batch.model_validate(envelope(sent_at="2024-05-01T14:00:00+02:00"))
    assert batch.sent_at == AT
    assert batch.sent_at.tzinfo is UTC
    assert '"sent_at":"2024-05-01T12:00:00Z"' in batch.model_dump_json()


@pytest.mark.parametrize("wire", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_timestamp_whose_utc_instant_is_out_of_range_is_a_validation_error(wire: str) -> None:
    # Valid RFC 3339 text; its UTC instant does not fit a datetime. Must be refused like any bad
    # value (the collector maps ValidationError to 422), not raise OverflowError (a 500).
    with pytest.raises(ValidationError):
        WifiSample.model_validate_json(f'{{"ts": "{wire}"}}')


# Strings, numbers, tags and enumerations


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (WifiSample, {"ts": TS, "ssid": "corp\x00"}),
        (AppCrashSample, {"ts": TS, "app_name": "Teams.exe", "app_path": "C:\\a\x00b.exe"}),
        (AppCrashSample, {"ts": TS, "app_name": "\x00"}),
        (SurveyResponseSample, {"ts": TS, "survey_id": "s", "comment": "\x00 hi"}),
        (InventorySample, {"ts": TS, "apps": [{"name": "Te\x00ms"}]}),
        (Batch, envelope(tags={"site": "brus\x00sels"})),
        (Batch, envelope(tags={"si\x00te": "brussels"})),
        (Batch, envelope(agent={"version": "0.1.0\x00", "os": "linux"})),
    ],
)
def test_strings_containing_nul_are_refused(model: type[WireModel], data: dict[str, Any]) -> None:
    assert refused(model, data)


def test_nul_escaped_in_json_is_refused() -> None:
    with pytest.raises(ValidationError):
        WifiSample.model_validate_json(f'{{"ts": "{TS}", "ssid": "corp\\u0000"}}')


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize(
    ("model", "field", "base"),
    [
        (SystemSample, "uptime_s", {"ts": TS}),
        (SystemSample, "cpu_percent", {"ts": TS}),
        (WifiSample, "rssi_dbm", {"ts": TS}),
        (
            IngestResponse,
            "clock_offset_s",
            {"batch_id": str(uuid.uuid4()), "duplicate": False, "accepted": 0},
        ),
    ],
)
def test_non_finite_floats_are_refused(
    model: type[WireModel], field: str, base: dict[str, Any], value: float
) -> None:
    assert refused(model, {**base, field: value})


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_json_literals_are_refused(literal: str) -> None:
    with pytest.raises(ValidationError):
        SystemSample.model_validate_json(f'{{"ts": "{TS}", "uptime_s": {literal}}}')


def test_short_text_is_at_most_256_characters() -> None:
    assert WifiSample(ts=AT, ssid="é" * 256).ssid == "é" * 256
    assert refused(WifiSample, {"ts": TS, "ssid": "x" * 257}) == ["string_too_long"]


def test_text_is_at_most_4096_characters() -> None:
    path = "p" * 4096
    assert AppCrashSample(ts=AT, app_name="a", app_path=path).app_path == path
    data = {"ts": TS, "app_name": "a", "app_path": path + "p"}
    assert refused(AppCrashSample, data) == ["string_too_long"]


def test_tag_value_is_one_to_256_characters() -> None:
    assert Batch.model_validate(envelope(tags={"site": "v" * 256})).tags == {"site": "v" * 256}
    assert refused(Batch, envelope(tags={"site": "v" * 257})) == ["string_too_long"]
    assert refused(Batch, envelope(tags={"site": ""})) == ["string_too_short"]


@pytest.mark.parametrize("key", ["a", "site", "cost_centre_2", "a" * 63, "x_"])
def test_valid_tag_keys_are_accepted(key: str) -> None:
    assert Batch.model_validate(envelope(tags={key: "v"})).tags == {key: "v"}


@pytest.mark.parametrize(
    "key", ["", "Site", "1site", "_site", "site-name", "site name", "a" * 64, "site\n", "sité"]
)
def test_invalid_tag_keys_are_refused(key: str) -> None:
    assert refused(Batch, envelope(tags={key: "v"})) == ["string_pattern_mismatch"]


def test_at_most_32_tags() -> None:
    tags = {f"tag_{i}": "v" for i in range(32)}
    assert len(Batch.model_validate(envelope(tags=tags)).tags) == 32
    assert refused(Batch, envelope(tags={**tags, "tag_32": "v"})) == ["too_long"]


@pytest.mark.parametrize("rating", [1, 2, 3, 4, 5])
def test_ratings_one_to_five_are_accepted(rating: int) -> None:
    assert SurveyResponseSample(ts=AT, survey_id="s", rating=rating).rating == rating


@pytest.mark.parametrize("rating", [0, 6, -1, 10])
def test_rating_outside_one_to_five_is_refused(rating: int) -> None:
    data = {"ts": TS, "survey_id": "s", "rating": rating}
    assert refused(SurveyResponseSample, data)[0] in ("greater_than_equal", "less_than_equal")


@pytest.mark.parametrize("event", ["connected", "disconnected", "roamed", "auth_failed"])
def test_known_wifi_events_are_accepted(event: str) -> None:
    assert WifiEventSample.model_validate({"ts": TS, "event": event}).event == event


@pytest.mark.parametrize("event", ["exploded", "Connected", ""])
def test_unknown_wifi_event_is_refused(event: str) -> None:
    assert refused(WifiEventSample, {"ts": TS, "event": event}) == ["literal_error"]


# Package surface


def test_public_names_are_sorted() -> None:
    names = list(dexpulse.schema.__all__)

    def isort_key(name: str) -> tuple[int, str]:  # ruff RUF022: CONSTANTS, Classes, others
        group = 0 if name.isupper() else 1 if name[:1].isupper() else 2
        return group, name

    assert names == sorted(names, key=isort_key)
    assert len(names) == len(set(names))


def test_every_public_name_is_importable() -> None:
    module = importlib.import_module("dexpulse.schema")
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"in __all__ but not importable: {missing}"
    namespace: dict[str, Any] = {}
    exec("from dexpulse.schema import *", namespace)
    assert set(module.__all__) <= set(namespace)


# Property: any valid Wi-Fi sample survives the wire unchanged.

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

short_texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=256)
offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware_times = st.builds(
    lambda since, tz: (EPOCH + since).astimezone(tz),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=365 * 100)),
    offsets,
)
non_neg = st.floats(min_value=0, allow_nan=False, allow_infinity=False)
dbm = st.floats(min_value=-150, max_value=30)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


wifi_samples = st.builds(
    WifiSample,
    ts=aware_times,
    interface=optional(short_texts),
    connected=optional(st.booleans()),
    ssid=optional(short_texts),
    bssid=optional(short_texts),
    rssi_dbm=optional(dbm),
    noise_dbm=optional(dbm),
    signal_percent=optional(st.floats(min_value=0, max_value=100)),
    channel=optional(st.integers(min_value=0, max_value=2**32 - 1)),
    band_ghz=optional(non_neg),
    frequency_mhz=optional(non_neg),
    rx_rate_mbps=optional(non_neg),
    tx_rate_mbps=optional(non_neg),
    radio_type=optional(short_texts),
    security=optional(short_texts),
)


@given(wifi_samples)
def test_any_valid_wifi_sample_round_trips_through_json(wifi: WifiSample) -> None:
    assert wifi.ts.tzinfo is UTC
    text = wifi.model_dump_json()
    again = WifiSample.model_validate_json(text)
    assert again == wifi
    assert again.model_dump_json() == text


@given(wifi_samples)
def test_any_valid_wifi_sample_round_trips_inside_a_batch(wifi: WifiSample) -> None:
    batch = Batch.model_validate(envelope(samples=[wifi.model_dump(mode="json")]))
    assert batch.samples == [wifi]
    assert Batch.model_validate_json(batch.model_dump_json()) == batch


@given(st.tuples(short_texts, short_texts).filter(lambda ab: len(ab[0]) + len(ab[1]) < 256))
def test_any_short_text_with_a_nul_is_refused(parts: tuple[str, str]) -> None:
    assert refused(WifiSample, {"ts": TS, "ssid": parts[0] + "\x00" + parts[1]}) == ["value_error"]
