"""coredumpctl list (JSON and table) -> AppCrashSample."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dexpulse.agent.parsers import FORMATS, ParseContext, ParseError
from dexpulse.agent.parsers.coredump import parse_coredumpctl_json, parse_coredumpctl_list
from dexpulse.agent.parsers.signals import signal_name

FIXTURES = Path(__file__).parents[2] / "fixtures" / "crashes" / "linux"
CTX = ParseContext(now=datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
SHANGHAI = ParseContext(now=CTX.now, local_tz=ZoneInfo("Asia/Shanghai"))


def fixture(case: str, ext: str = "txt") -> str:
    return (FIXTURES / case / f"linux_{case}.{ext}").read_text(encoding="utf-8")


def test_formats_registered() -> None:
    assert FORMATS["linux-coredumpctl-json"].carries_time is True
    assert FORMATS["linux-coredumpctl-list"].carries_time is True


def test_json_short_fixture() -> None:
    bash, scylla = parse_coredumpctl_json(fixture("coredumpctl_list_json_short_1", "json"), CTX)
    assert bash.ts == datetime(2022, 11, 27, 11, 25, 59, 983740, tzinfo=UTC)
    assert (bash.app_name, bash.app_path) == ("bash", "/usr/bin/bash")
    assert (bash.pid, bash.signal) == (11218, "SIGSEGV")
    assert bash.report_id == "coredump:1669548359:11218"
    assert scylla.ts == datetime(2022, 11, 27, 21, 48, 10, 901244, tzinfo=UTC)
    assert (scylla.app_name, scylla.app_path) == ("scylla", "/opt/scylladb/libexec/scylla")
    assert (scylla.pid, scylla.signal) == (6755, "SIGABRT")
    assert scylla.report_id == "coredump:1669585690:6755"
    assert scylla.app_version is None and scylla.exception_code is None


def test_json_pretty_with_command_line_and_crlf() -> None:
    entries = json.loads(fixture("coredumpctl_list_json_short_1", "json"))
    text = "$ coredumpctl -q --json=pretty list\n" + json.dumps(entries, indent=8) + "\n\n"
    pretty = parse_coredumpctl_json(text.replace("\n", "\r\n"), CTX)
    short = parse_coredumpctl_json(fixture("coredumpctl_list_json_short_1", "json"), CTX)
    assert pretty == short


def test_json_comm_fallback_deleted_exe_null_signal_and_uppercase_keys() -> None:
    text = json.dumps(
        [
            {"time": 1700000000000000, "pid": 42, "sig": None, "exe": "gnome-shell"},
            {"TIME": 1700000001000000, "PID": 43, "SIG": 7, "EXE": "/usr/bin/foo (deleted)"},
            {"time": 1700000002000000, "pid": 44, "sig": 99, "exe": "/opt/x/bar"},
        ]
    )
    comm, deleted, odd = parse_coredumpctl_json(text, CTX)
    assert (comm.app_name, comm.app_path, comm.signal) == ("gnome-shell", None, None)
    assert (deleted.app_name, deleted.app_path, deleted.signal) == ("foo", "/usr/bin/foo", "SIGBUS")
    assert (odd.app_name, odd.signal, odd.pid) == ("bar", None, 44)


def test_json_entry_without_time_is_skipped() -> None:
    text = '[{"time":null,"pid":1,"sig":11,"exe":"/a"},{"time":1,"pid":2,"sig":11,"exe":"/b"}]'
    (only,) = parse_coredumpctl_json(text, CTX)
    assert only.pid == 2 and only.ts == datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC)


@pytest.mark.parametrize("text", ["[]", "[]\n", "No coredumps found.\n", "No coredumps found."])
def test_json_nothing_found(text: str) -> None:
    assert parse_coredumpctl_json(text, CTX) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n",
        "hello, this is not coredumpctl",
        '{"time": 1, "pid": 2}',
        '{"MESSAGE": "x"}\n{"MESSAGE": "y"}\n',  # journalctl -o json
        '[{"name": "x"}]',
        "[1, 2]",
        '[{"time": 1, "pid": 2, "exe": "/a"',
    ],
)
def test_json_rejects_other_text(text: str) -> None:
    with pytest.raises(ParseError):
        parse_coredumpctl_json(text, CTX)


def test_json_rejects_table_and_info() -> None:
    with pytest.raises(ParseError, match="linux-coredumpctl-list"):
        parse_coredumpctl_json(fixture("coredumpctl_list_table_4"), CTX)
    with pytest.raises(ParseError):
        parse_coredumpctl_json(fixture("coredumpctl_info_text_3"), CTX)


def test_table_fixture_in_local_zone() -> None:
    first, second = parse_coredumpctl_list(fixture("coredumpctl_list_table_4"), SHANGHAI)
    path = "/run/media/black/Data/Documents/github/C/postgres/src/bin/pg_waldump/pg_waldump"
    assert first.ts == datetime(2024, 4, 4, 0, 36, 36, tzinfo=UTC)  # 08:36:36 CST = UTC+8
    assert (first.app_name, first.app_path) == ("pg_waldump", path)
    assert (first.pid, first.signal) == (89240, "SIGSEGV")
    assert first.report_id == "coredump:1712190996:89240"
    assert second.ts == datetime(2024, 4, 4, 0, 40, 3, tzinfo=UTC)
    assert second.pid == 89521


def test_table_and_json_report_ids_agree() -> None:
    table = "Mon 2022-11-28 00:25:59 UTC 11218 0 0 SIGSEGV missing /usr/bin/bash -\n"
    (from_table,) = parse_coredumpctl_list(table, SHANGHAI)
    from_json = parse_coredumpctl_json(fixture("coredumpctl_list_json_short_1", "json"), CTX)
    assert from_table.ts == datetime(2022, 11, 28, 0, 25, 59, tzinfo=UTC)
    assert from_table.report_id == "coredump:1669595159:11218"
    assert from_json[0].report_id.startswith("coredump:1669548359:")


def test_table_old_layout_numeric_signal_no_size_no_zone() -> None:
    text = (
        "TIME                            PID   UID   GID SIG COREFILE  EXE\n"
        "Mon 2019-01-21 10:48:57 CET    1234  1000  1000   6 present   /usr/bin/my app\n"
        "Mon 2019-01-21 10:49:00        1235  1000  1000  11 none      /usr/bin/other\n"
    )
    berlin = ParseContext(now=CTX.now, local_tz=ZoneInfo("Europe/Berlin"))
    first, second = parse_coredumpctl_list(text, berlin)
    assert (first.app_name, first.app_path) == ("my app", "/usr/bin/my app")
    assert first.signal == "SIGABRT"
    assert first.ts == datetime(2019, 1, 21, 9, 48, 57, tzinfo=UTC)
    assert (second.app_name, second.signal, second.pid) == ("other", "SIGSEGV", 1235)


def test_table_without_header_dash_cells_and_deleted_exe() -> None:
    text = (
        "Tue 2024-10-01 12:00:00 UTC 501 1000 1000 SIGABRT journal /usr/lib/app (deleted) 1.2M\n"
        "Tue 2024-10-01 12:00:05 UTC 502 1000 1000 - - python3 -\n"
    )
    first, second = parse_coredumpctl_list(text, CTX)
    assert (first.app_name, first.app_path, first.signal) == ("app", "/usr/lib/app", "SIGABRT")
    assert (second.app_name, second.app_path, second.signal) == ("python3", None, None)


def test_table_dst_fold_resolved_by_zone_abbreviation() -> None:
    berlin = ParseContext(now=CTX.now, local_tz=ZoneInfo("Europe/Berlin"))
    cest = "Sun 2024-10-27 02:30:00 CEST 7 0 0 SIGSEGV present /bin/a 1K"
    cet = "Sun 2024-10-27 02:30:00 CET 8 0 0 SIGSEGV present /bin/a 1K"
    (summer,) = parse_coredumpctl_list(cest, berlin)
    (winter,) = parse_coredumpctl_list(cet, berlin)
    assert summer.ts == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    assert winter.ts == datetime(2024, 10, 27, 1, 30, tzinfo=UTC)


def test_table_nothing_found() -> None:
    assert parse_coredumpctl_list("No coredumps found.\n", CTX) == []
    header = "TIME PID UID GID SIG COREFILE EXE SIZE\n"
    assert parse_coredumpctl_list(header, CTX) == []


@pytest.mark.parametrize("text", ["", "   \n", "random prose here", '[{"time":1,"pid":2}]'])
def test_table_rejects_other_text(text: str) -> None:
    with pytest.raises(ParseError):
        parse_coredumpctl_list(text, CTX)


def test_table_rejects_info_text() -> None:
    with pytest.raises(ParseError, match="not a row"):
        parse_coredumpctl_list(fixture("coredumpctl_info_text_3"), CTX)


def test_table_rejects_impossible_date() -> None:
    with pytest.raises(ParseError, match="impossible"):
        parse_coredumpctl_list("Mon 2024-02-30 10:00:00 UTC 1 0 0 SIGSEGV present /a 1K", CTX)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (11, "SIGSEGV"),
        (6, "SIGABRT"),
        (7, "SIGBUS"),
        (31, "SIGSYS"),
        ("8", "SIGFPE"),
        ("SEGV", "SIGSEGV"),
        ("SIGILL", "SIGILL"),
        (36, "SIGRTMIN+2"),
        (0, None),
        (32, None),
        (65, None),
        (True, None),
        ("-", None),
        ("SIGBOGUS", None),
    ],
)
def test_signal_names_use_fixed_linux_table(raw: object, name: str | None) -> None:
    assert signal_name(raw) == name
