"""macOS .ips and .crash reports -> AppCrashSample."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dexpulse.agent.parsers import FORMATS, ParseContext, ParseError, load_all
from dexpulse.agent.parsers.ips import parse_crash, parse_ips

FIXTURES = Path(__file__).parents[2] / "fixtures" / "crashes" / "macos"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CTX = ParseContext(now=NOW)
PATH = (
    "/Users/USER/Library/Developer/XCTestDevices/1E74D418-171E-426A-B4DA-F000561D4041/data/"
    "Containers/Bundle/Application/4FEB872A-3EB8-47DF-9D92-F2D619BBF72E/Transit.app/Transit"
)
CAPTURED = datetime(2025, 2, 1, 23, 45, 54, 67600, tzinfo=UTC)  # 18:45:54.0676 -0500


def _read(case: str, name: str) -> str:
    return (FIXTURES / case / name).read_text(encoding="utf-8")


def test_registered() -> None:
    load_all()
    assert FORMATS["macos-ips"].carries_time is True
    assert FORMATS["macos-crash"].carries_time is True


def test_ips_fixture() -> None:
    text = _read("ips_crash_309_macos15_1", "macos_ips_crash_309_macos15_1.ips")
    [s] = parse_ips(text, CTX)
    assert s.ts == CAPTURED
    assert s.app_name == "Transit"
    assert s.app_version == "5.17.10"
    assert s.app_path == PATH
    assert s.pid == 27589
    assert s.exception_code == "EXC_BREAKPOINT"
    assert s.signal == "SIGTRAP"
    assert s.module_name == "Transit.debug.dylib"  # image of thread 13's top frame
    assert s.report_id == "6D7FEBB5-F462-49B5-B498-6D5C30B8212A"


def test_crash_text_fixture_matches_ips() -> None:
    text = _read("crash_translated_text_from_ips_1", "macos_crash_translated_text_from_ips_1.txt")
    [s] = parse_crash(text, CTX)
    ips = _read("ips_crash_309_macos15_1", "macos_ips_crash_309_macos15_1.ips")
    assert s == parse_ips(ips, CTX)[0]
    assert s.module_name == "Transit.debug.dylib"
    assert s.ts == CAPTURED


def _ips(body: dict[str, object], **header: object) -> str:
    head = {"app_name": "Mail", "bug_type": "309", "incident_id": "AB-1", **header}
    return json.dumps(head) + "\n" + json.dumps(body, indent=2)


BAD_ACCESS_BODY: dict[str, object] = {
    "captureTime": "2024-03-02 10:00:00.5 +0100",
    "pid": 812,
    "procName": "Mail",
    "procPath": "/System/Applications/Mail.app/Contents/MacOS/Mail",
    "bundleInfo": {"CFBundleShortVersionString": "16.0"},
    "exception": {
        "type": "EXC_BAD_ACCESS",
        "signal": "SIGSEGV",
        "subtype": "KERN_INVALID_ADDRESS at 0x0000000000000010",
        "codes": "0x0000000000000001, 0x0000000000000010",
    },
    "faultingThread": 1,
    "threads": [
        {"frames": [{"imageIndex": 0}]},
        {"frames": [{"imageIndex": 1, "imageOffset": 10}]},
    ],
    "usedImages": [
        {"name": "Mail"},
        {"path": "/System/Library/Frameworks/WebKit.framework/Versions/A/WebKit",
         "CFBundleShortVersionString": "19618"},
    ],
}  # fmt: skip


def test_ips_bad_access_variant() -> None:
    [s] = parse_ips("$ cat Mail.ips\r\n" + _ips(BAD_ACCESS_BODY, app_version=""), CTX)
    assert s.ts == datetime(2024, 3, 2, 9, 0, 0, 500000, tzinfo=UTC)
    assert s.app_version == "16.0"  # from bundleInfo when the header's is empty
    assert s.exception_code == "EXC_BAD_ACCESS (KERN_INVALID_ADDRESS)"
    assert s.signal == "SIGSEGV"
    assert s.module_name == "WebKit"  # basename of the path, faultingThread without triggered
    assert s.module_version == "19618"
    assert s.report_id == "AB-1"
    assert s.pid == 812


def test_ips_signal_from_termination_and_header_time() -> None:
    body = {
        "procName": "tool",
        "exception": {"type": "EXC_CRASH"},
        "termination": {"namespace": "SIGNAL", "code": 6},
    }
    [s] = parse_ips(_ips(body, timestamp="2024-03-02 10:00:01.00 -0800"), CTX)
    assert (s.exception_code, s.signal) == ("EXC_CRASH", "SIGABRT")
    assert s.ts == datetime(2024, 3, 2, 18, 0, 1, tzinfo=UTC)
    assert s.module_name is None


def test_ips_non_crash_bug_types_give_nothing() -> None:
    assert parse_ips(_ips({"procName": "x"}, bug_type="298"), CTX) == []
    assert parse_ips(_ips({"procName": "x"}, bug_type="288"), CTX) == []


LEGACY_TEXT = """\
Process:               Preview [4321]
Path:                  /Applications/Preview.app/Contents/MacOS/Preview
Identifier:            com.apple.Preview
Version:               11.0 (1037.1)
Date/Time:             2020-05-04 14:03:11.402
Crashed Thread:        0  Dispatch queue: com.apple.main-thread

Exception Type:        EXC_BAD_ACCESS (SIGSEGV)
Exception Codes:       KERN_INVALID_ADDRESS at 0x0000000000000000

Thread 0 Crashed:: Dispatch queue: com.apple.main-thread
0   com.apple.CoreGraphics        \t0x00007fff2a1b2c3d CGContextDrawImage + 12
1   com.apple.Preview             \t0x0000000100001234 0x100000000 + 4660
"""


def test_crash_legacy_text_in_local_time() -> None:
    berlin = ParseContext(now=NOW, local_tz=ZoneInfo("Europe/Berlin"))
    [s] = parse_crash(LEGACY_TEXT.replace("\n", "\r\n"), berlin)
    assert s.ts == datetime(2020, 5, 4, 12, 3, 11, 402000, tzinfo=UTC)
    assert (s.app_name, s.pid, s.app_version) == ("Preview", 4321, "11.0")
    assert s.exception_code == "EXC_BAD_ACCESS (KERN_INVALID_ADDRESS)"
    assert s.signal == "SIGSEGV"
    assert s.module_name == "com.apple.CoreGraphics"
    assert s.report_id is None


def test_ips_legacy_header_with_text_body() -> None:
    header = {"app_name": "Preview", "app_version": "11.0", "bug_type": "109",
              "incident_id": "LEG-1"}  # fmt: skip
    [s] = parse_ips(json.dumps(header) + "\n" + LEGACY_TEXT, CTX)
    assert (s.app_name, s.report_id, s.module_name) == (
        "Preview",
        "LEG-1",
        "com.apple.CoreGraphics",
    )
    assert s.signal == "SIGSEGV"


@pytest.mark.parametrize(
    "text",
    ["", "hello\nworld", '{"app_name":"x"}\n', '{"app_name":"x"}\n{not json', "[1]\n{}"],
)
def test_ips_rejects_other_text(text: str) -> None:
    with pytest.raises(ParseError):
        parse_ips(text, CTX)


def test_ips_points_text_reports_to_macos_crash() -> None:
    with pytest.raises(ParseError, match="macos-crash"):
        parse_ips(LEGACY_TEXT, CTX)


@pytest.mark.parametrize("text", ["", "Process: x\n", "random prose: with a colon\n"])
def test_crash_rejects_other_text(text: str) -> None:
    with pytest.raises(ParseError):
        parse_crash(text, CTX)


def test_crash_points_json_to_macos_ips() -> None:
    with pytest.raises(ParseError, match="macos-ips"):
        parse_crash(_ips(BAD_ACCESS_BODY), CTX)
