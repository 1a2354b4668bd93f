"""PowerShell ConvertTo-Json shapes: one object or an array, 5.1 and 7 dates, bad JSON.

The texts are written in the documented output shapes of Windows PowerShell 5.1 (compressed
JavaScriptSerializer output: ``\\/Date(ms)\\/``, ``\\u0026`` for ``&``) and PowerShell 7
(ISO 8601 dates with an offset); none was captured from a machine for this test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from dexpulse.agent.parsers import ParseError
from dexpulse.agent.parsers.ps_json import as_dicts, as_list, flag, integer, json_date, load, number

BOOTED = datetime(2025, 11, 27, 7, 58, 12, 500000, tzinfo=UTC)


def test_load_plain_empty_and_bom() -> None:
    assert load('{"a":1}', "x") == {"a": 1}
    assert load("\ufeff[1, 2]\r\n", "x") == [1, 2]
    assert load("", "x") is None
    assert load("  \r\n", "x") is None


@pytest.mark.parametrize(
    "text",
    [
        "Get-CimInstance : Access denied \r\nAt line:1 char:1",
        '{"Battery":[{"DeviceID":"x",',  # cut short
        "\x00\x01\x02",
    ],
)
def test_load_refuses_non_json_with_a_message(text: str) -> None:
    with pytest.raises(ParseError, match="battery: the PowerShell answer is not JSON"):
        load(text, "battery")


def test_single_object_array_and_51_value_count_wrapper() -> None:
    one = load('{"DeviceID":"USB\\\\VID_046D\\u0026PID_C52B\\\\1"}', "x")
    assert as_list(one) == [{"DeviceID": "USB\\VID_046D&PID_C52B\\1"}]
    assert as_list(load('[{"a":1},{"a":2}]', "x")) == [{"a": 1}, {"a": 2}]
    assert as_list(load('{"value":[{"a":1},{"a":2}],"Count":2}', "x")) == [{"a": 1}, {"a": 2}]
    assert as_list(None) == []
    assert as_dicts([{"a": 1}, "junk", 3, None]) == [{"a": 1}]
    assert as_dicts({"value": {"a": 1}, "Count": 1}) == [{"a": 1}]


def test_numbers_and_flags() -> None:
    assert number(83995) == 83995.0
    assert number("18446744073709551615") == float(2**64 - 1)  # uint64 as text
    assert number(True) is None and number("n/a") is None and number(None) is None
    assert number(float("nan")) is None
    assert integer(12.0) == 12 and integer(12.5) is None
    assert flag(True) is True and flag("False") is False and flag(1) is None


@pytest.mark.parametrize(
    "value",
    [
        "/Date(1764230292500)/",  # 5.1, as json.loads returns "\/Date(...)\/"
        "\\/Date(1764230292500)\\/",  # the same, if the escape survived
        "/Date(1764230292500+0100)/",  # DataContract style: the offset does not move the instant
        {"value": "/Date(1764230292500)/", "DisplayHint": 2, "DateTime": "Thursday, ..."},
        "2025-11-27T08:58:12.5+01:00",  # PowerShell 7, DateTime of kind Local
        "2025-11-27T07:58:12.5000000Z",  # 7 fraction digits, UTC
        "2025-11-27T08:58:12.5000000+0100",
    ],
)
def test_dates_of_both_powershell_versions(value: object) -> None:
    assert json_date(value) == BOOTED


def test_real_51_json_text_date() -> None:
    data = load('{"LastBootUpTime":"\\/Date(1764230292500)\\/"}', "x")
    assert json_date(data["LastBootUpTime"]) == BOOTED


@pytest.mark.parametrize(
    "value",
    ["2025-11-27T08:58:12.5", "yesterday", "/Date(abc)/", 1764230292500, None, {"x": 1}],
)
def test_dates_without_zone_or_not_dates_are_unknown(value: object) -> None:
    assert json_date(value) is None


def test_dates_are_utc_aware() -> None:
    stamp = json_date("2025-11-27T10:58:12.5+03:00")
    assert stamp is not None and stamp.tzinfo is UTC
    assert stamp == BOOTED.astimezone(timezone(timedelta(hours=3)))
