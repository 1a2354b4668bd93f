"""macOS spindump hang reports (.hang/.spin text, .ips with a spindump body) -> AppHangSample.

The reports below are written here from the layout of public reports (a macOS 12.7.6 ``.hang``
header, the process blocks of newer releases, spindump's ``.ips`` resource reports), with
made-up apps and values; no public report is copied.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from dexpulse.agent.parsers import FORMATS, ParseContext, ParseError, load_all
from dexpulse.agent.parsers.spindump import parse_spindump_hang

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CTX = ParseContext(now=NOW)

# macOS 12 layout: the hung app's header, then every process's stacks.
HANG = """\
Date/Time:        2026-11-04 10:32:15.123 +0100
End time:         2026-11-04 10:32:21.004 +0100
OS Version:       macOS 12.7.6 (Build 21H1320)
Architecture:     x86_64h
Report Version:   35.1
Incident Identifier: 0B7E5C1A-3D2F-4A8B-9C61-5E2D7F00A1B4

Data Source:      Stackshots
Shared Cache:     11111111-2222-3333-4444-555555555555 slid base address 0x7ff800000000

Command:          Ledger
Path:             /Applications/Ledger.app/Contents/MacOS/Ledger
Identifier:       com.example.ledger
Version:          4.2.1 (4210)
Architecture:     x86_64
Parent:           launchd [1]
PID:              4242
Time Since Fork:  913s

Event:            hang
Duration:         5.12s
Duration Sampled: 3.00s (process was unresponsive for 2 seconds before sampling)
Steps:            30 (100ms sampling interval)

Hardware model:   MacBookPro16,1
Active cpus:      8

--------------------------------------------------
Timeline format: stacks are sorted chronologically
--------------------------------------------------

Heaviest stack for the main thread of the target process:
  30  start + 462 (dyld + 21806) [0x115b4652e]

Process:          Ledger [4242]
UUID:             AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE
Path:             /Applications/Ledger.app/Contents/MacOS/Ledger
Version:          4.2.1 (4210)
Num samples:      30 (1-30)
Note:             Unresponsive for 2 seconds before sampling

  Thread 0x2ca9e    DispatchQueue "com.apple.main-thread"(1)    30 samples (1-30)
  30  start + 462 (dyld + 21806) [0x115b4652e] 1-30

Process:          WindowServer [157]
Path:             /System/Library/PrivateFrameworks/SkyLight.framework/Resources/WindowServer
"""

# No header Command: the hung process is the block noted Unresponsive (another comes first);
# newer process lines carry "[unique pid N]" and names may hold parentheses.
BLOCKS_ONLY = """\
Date/Time:        2026-11-04 10:32:15 +0100
OS Version:       macOS 15.1 (Build 24B83)
Duration:         18.40s

Process:          loginwindow [123] [unique pid 1]
Path:             /System/Library/CoreServices/loginwindow.app/Contents/MacOS/loginwindow

  Thread 0x1    11 samples
  11  someone_elses_leaf + 4 (SkyLight + 1) [0x1]

Process:          Helper (Renderer) [53958] [unique pid 3039444]
Path:             /Applications/L.app/Contents/Frameworks/H.app/Contents/MacOS/Helper (Renderer)
Version:          4.2.1 (4.2.1)
Note:             Unresponsive for 18 seconds before sampling
Num threads:      59
"""

# spindump's resource reports are .ips files: a JSON header line, then the same text.
IPS_HEADER = (
    '{"app_name":"Ledger","timestamp":"2026-11-04 10:32:40.00 +0100","app_version":"4.2.1",'
    '"bug_type":"XYZ","name":"Ledger","incident_id":"C0FFEE00-0000-4000-8000-000000000001"}\n'
)


def test_registered_and_carries_time() -> None:
    load_all()
    assert FORMATS["macos-hang"].parse is parse_spindump_hang
    assert FORMATS["macos-hang"].carries_time is True


def test_hang_report_header() -> None:
    (sample,) = parse_spindump_hang(HANG, CTX)
    assert sample.app_name == "Ledger"
    assert sample.pid == 4242
    assert sample.app_path == "/Applications/Ledger.app/Contents/MacOS/Ledger"
    assert sample.app_version == "4.2.1"  # the short version, as parse_ips/parse_crash do
    assert sample.hang_duration_s == 5.12  # Duration, not Duration Sampled
    assert sample.ts == datetime(2026, 11, 4, 9, 32, 15, 123000, tzinfo=UTC)
    assert sample.report_id == "0B7E5C1A-3D2F-4A8B-9C61-5E2D7F00A1B4"


def test_the_unresponsive_block_when_the_header_has_no_command() -> None:
    (sample,) = parse_spindump_hang(BLOCKS_ONLY, CTX)
    assert sample.app_name == "Helper (Renderer)"
    assert sample.pid == 53958
    assert sample.app_path is not None and sample.app_path.endswith("MacOS/Helper (Renderer)")
    assert sample.app_version == "4.2.1"
    assert sample.hang_duration_s == 18.4
    assert sample.ts == datetime(2026, 11, 4, 9, 32, 15, tzinfo=UTC)
    assert sample.report_id is None


def test_a_single_block_is_the_hung_process() -> None:
    one = "Date/Time: 2026-11-04 10:32:15\n\nProcess:  Ledger [77]\nNum samples: 9 (1-9)\n"
    zone = timezone(timedelta(hours=-5))
    (sample,) = parse_spindump_hang(one, ParseContext(now=NOW, local_tz=zone))
    assert (sample.app_name, sample.pid, sample.hang_duration_s) == ("Ledger", 77, None)
    assert sample.ts == datetime(2026, 11, 4, 15, 32, 15, tzinfo=UTC)  # zone-less: local


def test_ips_with_a_spindump_body() -> None:
    (sample,) = parse_spindump_hang(IPS_HEADER + HANG, CTX)
    assert sample.app_name == "Ledger"
    assert sample.report_id == "0B7E5C1A-3D2F-4A8B-9C61-5E2D7F00A1B4"  # the body's own
    no_time = HANG.replace("Date/Time:", "Start:").replace("Incident Identifier:", "Id:")
    (filled,) = parse_spindump_hang(IPS_HEADER + no_time, CTX)
    assert filled.ts == datetime(2026, 11, 4, 9, 32, 40, tzinfo=UTC)  # the header's timestamp
    assert filled.report_id == "C0FFEE00-0000-4000-8000-000000000001"


def test_other_events_are_not_hangs() -> None:
    cpu = HANG.replace("Event:            hang", "Event:            cpu usage")
    assert parse_spindump_hang(IPS_HEADER + cpu, CTX) == []
    spin = HANG.replace("Event:            hang", "Event:            spin")
    assert len(parse_spindump_hang(spin, CTX)) == 1


def test_unknown_version_and_odd_values() -> None:
    odd = (
        HANG.replace("4.2.1 (4210)", "??? (???)")
        .replace("Duration:         5.12s", "Duration:         n/a")
        .replace("PID:              4242", "PID:              x")
    )
    (sample,) = parse_spindump_hang(odd, CTX)
    assert sample.app_name == "Ledger"
    assert sample.app_version is None
    assert sample.hang_duration_s is None
    assert sample.pid is None


def test_the_block_fills_what_the_header_leaves_out() -> None:
    bare = HANG.replace("Version:          4.2.1 (4210)\nArchitecture:     x86_64\n", "")
    (sample,) = parse_spindump_hang(bare, CTX)
    assert sample.app_version == "4.2.1"  # from "Process: Ledger [4242]"'s block


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "no 'Date/Time:'"),
        ("Startup finished in 7.797s (firmware) + 1.172s (loader) = 9s\n", "no 'Date/Time:'"),
        ('{"bug_type":"309","app_name":"Ledger"}\n{\n  "pid" : 1\n}\n', "JSON body"),
        ("Date/Time: 2026-11-04 10:32\nSteps: 9\n\nProcess: A [1]\n\nProcess: B [2]\n", "no hung"),
        ("Date/Time: 2026-11-04 10:32:15\n\nProcess: A [1]\nPath: /x/A\n", "no spindump lines"),
        (
            "Process:  Ledger [77]\nPath: /x/Ledger\n\nDate/Time: 2026-11-04 10:32:15 +0100\n"
            "Exception Type:  EXC_BAD_ACCESS (SIGSEGV)\nCrashed Thread:  0\n",
            "crash report",
        ),
        (bytes(range(256)).decode("latin-1"), "no 'Date/Time:'"),
    ],
)
def test_not_a_hang_report_is_a_one_line_parse_error(text: str, why: str) -> None:
    with pytest.raises(ParseError, match=why) as caught:
        parse_spindump_hang(text, CTX)
    assert "\n" not in str(caught.value)
