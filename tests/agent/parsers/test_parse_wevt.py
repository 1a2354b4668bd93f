"""Windows event log XML and Event Viewer text -> crash, hang, device, Wi-Fi and boot samples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from dexpulse.agent.parsers import FORMATS, ParseContext, ParseError, load_all
from dexpulse.agent.parsers.wevt import parse_windows_event_xml
from dexpulse.agent.parsers.wevt_text import parse_windows_event_text
from dexpulse.schema.events import (
    AppCrashSample,
    AppHangSample,
    PeripheralFailureSample,
    WifiEventSample,
)
from dexpulse.schema.samples import BootSample

FIXTURES = Path(__file__).parents[2] / "fixtures"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
CTX = ParseContext(now=NOW)
PLUS7 = ParseContext(now=NOW, local_tz=timezone(timedelta(hours=7)))
NS = 'xmlns="http://schemas.microsoft.com/win/2004/08/events/event"'


def fixture(area: str, case: str, ext: str) -> str:
    path = FIXTURES / area / "windows" / case / f"windows_{case}.{ext}"
    return path.read_text(encoding="utf-8")


def event(provider: str, event_id: int, data: str, when: str = "2025-01-02T03:04:05.5Z") -> str:
    return (
        f'<Event {NS}><System><Provider Name="{provider}" /><EventID>{event_id}</EventID>'
        f'<TimeCreated SystemTime="{when}" /></System><EventData>{data}</EventData></Event>'
    )


def named(**fields: str) -> str:
    return "".join(f'<Data Name="{key}">{value}</Data>' for key, value in fields.items())


def positional(*values: str) -> str:
    return "".join(f"<Data>{value}</Data>" if value else "<Data />" for value in values)


# --- windows-event-xml: fixtures -------------------------------------------------------------


def test_1000_win11_named_data_fixture() -> None:
    text = fixture("crashes", "event_1000_application_error_win11_named_data_1", "xml")
    [crash] = parse_windows_event_xml(text, CTX)
    assert isinstance(crash, AppCrashSample)
    assert crash.ts == datetime(2025, 3, 26, 23, 0, 53, 170372, tzinfo=UTC)
    assert crash.app_name == "AIMTService.exe"
    assert crash.app_version == "4.5.0.1060"
    assert crash.module_name == "AIMTService.exe"
    assert crash.module_version == "4.5.0.1060"
    assert crash.exception_code == "0xc0000005"
    assert crash.pid == 0x1628 == 5672
    assert crash.app_path is not None
    assert crash.app_path.endswith(r"\AIMTService\AIMTService.exe")
    assert crash.app_path.startswith(r"C:\Program Files\WindowsApps")
    assert crash.report_id == "657f30a3-ff7c-4894-ae59-326034b0e702"


def test_1001_wer_non_hang_bucket_fixture_gives_nothing() -> None:
    # StoreAgentScanForUpdatesFailure0 is neither a hang nor an app crash: nothing to report.
    text = fixture("crashes", "event_1001_wer_legacy_unnamed_data_1", "xml")
    assert parse_windows_event_xml(text, CTX) == []


def test_8001_connected_fixture() -> None:
    text = fixture("wifi", "event_wlan_autoconfig_8001_connected_1", "xml")
    [sample] = parse_windows_event_xml(text, CTX)
    assert isinstance(sample, WifiEventSample)
    assert sample.event == "connected"
    assert sample.ts == datetime(2022, 10, 27, 4, 37, 47, 158313, tzinfo=UTC)
    assert sample.ssid == "SSID_TEST"
    assert sample.bssid is None  # this build's 8001 has no BSSID Data
    assert sample.interface == "Intel(R) Wi-Fi 6 AX200 160MHz"
    assert sample.reason is None and sample.reason_code is None


# --- windows-event-xml: documented variants --------------------------------------------------

LEGACY_1000 = positional(
    "w3wp.exe", "8.0.9200.16384", "50108835", "PerfMon64.dll", "8.0.10918.0", "577fd168",
    "c0000409", "0000000000149794", "0x2c38", "0x01d24405d195eb6a",
    r"c:\windows\system32\inetsrv\w3wp.exe", r"C:\Agent\PerfMon64.dll",
    "1b7e4c2a-0d3e-4f55-9a61-3c2b1d0e9f88",
)  # fmt: skip


def test_1000_legacy_positional_data_without_namespace_and_root() -> None:
    # wevtutil prints events back to back on one line, no root; old builds: no Data names
    first = event("Application Error", 1000, LEGACY_1000).replace(f" {NS}", "")
    second = event("Application Error", 1000, named(AppName="b.exe", ProcessId="0x10"))
    crashes = parse_windows_event_xml(f"$ wevtutil qe Application /f:xml\n{first}{second}", CTX)
    assert [type(c) for c in crashes] == [AppCrashSample, AppCrashSample]
    crash = crashes[0]
    assert isinstance(crash, AppCrashSample)
    assert (crash.app_name, crash.app_version) == ("w3wp.exe", "8.0.9200.16384")
    assert (crash.module_name, crash.module_version) == ("PerfMon64.dll", "8.0.10918.0")
    assert crash.exception_code == "0xc0000409"
    assert crash.pid == 0x2C38
    assert crash.app_path == r"c:\windows\system32\inetsrv\w3wp.exe"
    assert crash.report_id == "1b7e4c2a-0d3e-4f55-9a61-3c2b1d0e9f88"
    assert crash.ts == datetime(2025, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)
    assert isinstance(crashes[1], AppCrashSample) and crashes[1].pid == 16


def test_events_wrapper_with_declaration_and_crlf() -> None:
    text = (
        '<?xml version="1.0" encoding="utf-8" standalone="yes"?>\r\n<Events>\r\n'
        + event("Application Error", 1000, named(AppName="x.exe"), "2024-06-01T10:00:00Z")
        + "\r\n</Events>\r\n"
    )
    [crash] = parse_windows_event_xml(text, CTX)
    assert isinstance(crash, AppCrashSample) and crash.app_name == "x.exe"
    assert crash.ts == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)


def test_text_after_an_event_is_ignored() -> None:
    text = event("Application Error", 1000, named(AppName="x.exe")) + "\n$ exit\n"
    [crash] = parse_windows_event_xml(text, CTX)
    assert isinstance(crash, AppCrashSample) and crash.app_name == "x.exe"


HANG_1002 = positional(
    "iNGen.exe", "3.22.0.0", "db4", "01d0dfdba57c4b68", "4294967295",
    r"C:\Users\me\AppData\Local\iNGen\app-3.38\iNGen.exe",
    "523b73b8-4c0f-11e5-9bc8-d43d7eaf7a7a", "", "",
)  # fmt: skip
WER_HANG = positional(
    "0", "5", "AppHangB1", "Not available", "0", "iNGen.exe", "3.22.0.0", "55dd7c4e", "2d3f",
    "0", "", "", "", "", "", "", r"C:\ProgramData\Microsoft\Windows\WER\ReportArchive\x", "",
    "0", "523b73b8-4c0f-11e5-9bc8-d43d7eaf7a7a", "0", "",
)  # fmt: skip


def test_1002_positional_hang_pid_is_hex_without_prefix() -> None:
    [hang] = parse_windows_event_xml(event("Application Hang", 1002, HANG_1002), CTX)
    assert isinstance(hang, AppHangSample)
    assert (hang.app_name, hang.app_version) == ("iNGen.exe", "3.22.0.0")
    assert hang.pid == 0xDB4 == 3508
    assert hang.app_path == r"C:\Users\me\AppData\Local\iNGen\app-3.38\iNGen.exe"
    assert hang.report_id == "523b73b8-4c0f-11e5-9bc8-d43d7eaf7a7a"
    assert hang.hang_duration_s is None


def test_1002_named_layout() -> None:
    data = named(AppName="Files.exe", AppVersion="1.0.0.0", ProcessId="0x6ec8", ReportId="r1")
    [hang] = parse_windows_event_xml(event("Application Hang", 1002, data), CTX)
    assert isinstance(hang, AppHangSample) and hang.pid == 0x6EC8 and hang.report_id == "r1"


def test_1001_apphang_alone_is_a_hang_but_dropped_beside_its_1002() -> None:
    wer = event("Windows Error Reporting", 1001, WER_HANG)
    [alone] = parse_windows_event_xml(wer, CTX)
    assert isinstance(alone, AppHangSample)
    assert (alone.app_name, alone.app_version, alone.pid) == ("iNGen.exe", "3.22.0.0", None)
    assert alone.report_id == "523b73b8-4c0f-11e5-9bc8-d43d7eaf7a7a"
    both = parse_windows_event_xml(wer + event("Application Hang", 1002, HANG_1002), CTX)
    assert len(both) == 1 and isinstance(both[0], AppHangSample) and both[0].pid == 0xDB4


def test_1001_appcrash_bucket_is_skipped() -> None:
    crash = named(EventName="APPCRASH", P1="a.exe", P2="1.0", ReportId="r2")
    assert parse_windows_event_xml(event("Windows Error Reporting", 1001, crash), CTX) == []


PNP_411 = named(
    DeviceInstanceId=r"USB\VID_046D&amp;PID_C52B\5&amp;2a1b&amp;0&amp;3",
    DriverName="input.inf",
    ClassGuid="{745a17a0-74d3-11d0-b6fe-00a0c90f57da}",
    ServiceName="HidUsb",
    LowerFilters="",
    UpperFilters="",
    Problem="0x2B",
    Status="0xC0000001",
)


def test_kernel_pnp_411_xml_is_a_failure_and_410_is_not() -> None:
    text = event("Microsoft-Windows-Kernel-PnP", 411, PNP_411)
    text += event("Microsoft-Windows-Kernel-PnP", 410, named(DeviceInstanceId="USB\\X"))
    [failure] = parse_windows_event_xml(text, CTX)
    assert isinstance(failure, PeripheralFailureSample)
    assert failure.device_id == r"USB\VID_046D&PID_C52B\5&2a1b&0&3"
    assert (failure.vendor_id, failure.product_id) == ("046d", "c52b")
    assert failure.device_class == "hid"
    assert failure.driver == "HidUsb"
    assert failure.error == "problem code 43, status 0xc0000001"


def test_wlan_8003_8002_11006() -> None:
    text = event(
        "Microsoft-Windows-WLAN-AutoConfig",
        8003,
        named(SSID="Corp", Reason="The network is disconnected by the driver.", ReasonCode="8"),
    )
    text += event(
        "Microsoft-Windows-WLAN-AutoConfig",
        8002,
        named(SSID="Guest", FailureReason="The specific network is not available.",
              ReasonCode="229377"),
    )  # fmt: skip
    text += event(
        "Microsoft-Windows-WLAN-AutoConfig",
        11006,
        named(Adapter="Wi-Fi 6E", SSID="Corp", PeerMac="AA-BB-CC-00-11-22",
              ReasonText="The key exchange timed out.", ReasonCode="0x48000"),
    )  # fmt: skip
    drop, fail, security = parse_windows_event_xml(text, CTX)
    assert isinstance(drop, WifiEventSample) and drop.event == "disconnected"
    assert (drop.ssid, drop.reason_code) == ("Corp", 8)
    assert drop.reason == "The network is disconnected by the driver."
    assert isinstance(fail, WifiEventSample) and fail.event == "auth_failed"
    assert (fail.ssid, fail.reason_code) == ("Guest", 229377)
    assert fail.reason == "The specific network is not available."
    assert isinstance(security, WifiEventSample) and security.event == "auth_failed"
    assert security.bssid == "aa:bb:cc:00:11:22"
    assert security.reason_code == 0x48000
    assert security.interface == "Wi-Fi 6E"


def test_wlan_8001_legacy_positional_with_bssid() -> None:
    data = positional("{guid}", "Adapter", "Auto", "Home", "Home", "Infrastructure",
                      "00:1A:2B:3C:4D:5E", "802.11n", "WPA2-Personal", "AES", "No")  # fmt: skip
    [sample] = parse_windows_event_xml(event("Microsoft-Windows-WLAN-AutoConfig", 8001, data), CTX)
    assert isinstance(sample, WifiEventSample)
    assert (sample.ssid, sample.bssid, sample.interface) == ("Home", "00:1a:2b:3c:4d:5e", "Adapter")


def test_diagnostics_performance_100_boot() -> None:
    data = named(
        BootStartTime="2025-01-02T07:00:00.000000000Z",
        BootTime="45000",
        MainPathBootTime="30000",
        BootUserProfileProcessingTime="2000",
        BootExplorerInitTime="3000",
        BootPostBootTime="15000",
        OSLoaderDuration="800",
    )
    [boot] = parse_windows_event_xml(
        event("Microsoft-Windows-Diagnostics-Performance", 100, data), CTX
    )
    assert isinstance(boot, BootSample)
    assert boot.ts == datetime(2025, 1, 2, 7, 0, tzinfo=UTC)
    assert boot.boot_duration_s == 45.0
    assert boot.loader_s == 0.8
    assert boot.logon_duration_s == 20.0
    assert boot.kernel_s is None and boot.firmware_s is None


def test_unknown_events_and_malformed_neighbour_are_skipped() -> None:
    unknown = event("Microsoft-Windows-Kernel-PnP", 410, named(DeviceInstanceId="PCI\\X"))
    broken = f"<Event {NS}><System><EventID>1000</Eve"
    assert parse_windows_event_xml(unknown + broken, CTX) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n",
        "The quick brown fox",
        "Log Name: Application\nSource: Application Error\nEvent ID: 1000\n",
        f"<Event {NS}><System><EventID>1000</Eve",
        '<!DOCTYPE x [<!ENTITY a "aaaa">]><Event><System><EventID>1</EventID></System></Event>',
        "<Event><System><EventID>abc</EventID></System></Event>",
    ],
)
def test_xml_refuses_non_event_text(text: str) -> None:
    with pytest.raises(ParseError):
        parse_windows_event_xml(text, CTX)


def test_rendered_text_with_truncated_event_xml_is_not_xml() -> None:
    text = fixture("peripherals", "event_kernel_pnp_411_rendered_en_1", "txt")
    with pytest.raises(ParseError):
        parse_windows_event_xml(text, CTX)


# --- windows-event-text ----------------------------------------------------------------------


def test_text_1000_rendered_fixture() -> None:
    text = fixture("crashes", "event_1000_application_error_rendered_en_2", "txt")
    [crash] = parse_windows_event_text(text, CTX)
    assert isinstance(crash, AppCrashSample)
    assert crash.ts == NOW  # the fixture's Date is anonymized (XX.XX.XXXX)
    assert (crash.app_name, crash.app_version) == ("w3wp.exe", "8.0.9200.16384")
    assert (crash.module_name, crash.module_version) == ("PerfMon64.dll", "8.0.10918.0")
    assert crash.exception_code == "0xc0000409"
    assert crash.pid == 0x2C38
    assert crash.app_path == "c:windowssystem32inetsrvw3wp.exe"  # backslashes lost upstream


def test_text_kernel_pnp_411_fixture_uses_event_xml_time() -> None:
    text = fixture("peripherals", "event_kernel_pnp_411_rendered_en_1", "txt")
    [failure] = parse_windows_event_text(text, CTX)
    assert isinstance(failure, PeripheralFailureSample)
    assert failure.ts == datetime(2020, 4, 12, 19, 46, 10, 628204, tzinfo=UTC)
    assert failure.device_id == r"PCI\VEN_1B6F&DEV_7052&SUBSYS_70521849&REV_00\4&11e7f7e8&0&0048"
    assert (failure.vendor_id, failure.product_id) == ("1b6f", "7052")
    assert failure.device_class == "usb"
    assert failure.driver == "USBXHCI"
    assert failure.error == "problem code 21"
    assert failure.message is not None and failure.message.endswith("had a problem starting.")


def test_text_411_without_event_xml_reads_local_day_first_date() -> None:
    text = fixture("peripherals", "event_kernel_pnp_411_rendered_en_1", "txt")
    head = text.split("Event Xml:")[0]
    [failure] = parse_windows_event_text(head, PLUS7)
    assert failure.ts == datetime(2020, 4, 12, 19, 46, 10, tzinfo=UTC)  # 13/04 02.46.10 at +7


HANG_TEXT = """\
Log Name:      Application\r
Source:        Application Hang\r
Date:          7/5/2018 10:08:35 PM\r
Event ID:      1002\r
Task Category: (101)\r
Level:         Error\r
Keywords:      Classic\r
User:          N/A\r
Computer:      Win10-17G\r
Description:\r
The program EDDiscovery.exe version 10.1.4.0 stopped interacting with Windows and was closed. \
To see if more information about the problem is available, check the problem history in the \
Security and Maintenance control panel.\r
 Process ID: 25ac\r
 Start Time: 01d41469036e86b3\r
 Termination Time: 4294967295\r
 Application Path: C:\\Program Files\\EDDiscovery\\EDDiscovery.exe\r
 Report Id: 7ed1fbe5-9f61-43ad-90bb-6db336cd0cfe\r
 Faulting package full name: \r
 Faulting package-relative application ID: \r
 Hang type: Cross-process\r
\r
"""


def test_text_1002_rendered_us_date_and_multiple_blocks() -> None:
    second = HANG_TEXT.replace("7/5/2018 10:08:35 PM", "2018-07-06 08:00:00").replace("25ac", "10")
    first, other = parse_windows_event_text("# wevtutil\n" + HANG_TEXT + second, PLUS7)
    assert isinstance(first, AppHangSample)
    assert (first.app_name, first.app_version) == ("EDDiscovery.exe", "10.1.4.0")
    assert first.pid == 0x25AC
    assert first.app_path == r"C:\Program Files\EDDiscovery\EDDiscovery.exe"
    assert first.report_id == "7ed1fbe5-9f61-43ad-90bb-6db336cd0cfe"
    assert first.ts == datetime(2018, 7, 5, 15, 8, 35, tzinfo=UTC)  # July 5, 22:08 at +7
    assert isinstance(other, AppHangSample) and other.pid == 16
    assert other.ts == datetime(2018, 7, 6, 1, 0, tzinfo=UTC)


def test_text_dotted_german_style_date_is_day_first() -> None:
    text = HANG_TEXT.replace("7/5/2018 10:08:35 PM", "07.05.2018 22:08:35")
    [hang] = parse_windows_event_text(text, CTX)
    assert hang.ts == datetime(2018, 5, 7, 22, 8, 35, tzinfo=UTC)


def test_text_unmapped_event_is_nothing() -> None:
    text = HANG_TEXT.replace("Event ID:      1002", "Event ID:      1001")
    assert parse_windows_event_text(text, CTX) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "random prose\nwith: colons\n",
        event("Application Error", 1000, named(AppName="x.exe")),
        "Log Name: Application\nSource: Application Error\nEvent ID: n/a\n",
    ],
)
def test_text_refuses_non_event_text(text: str) -> None:
    with pytest.raises(ParseError):
        parse_windows_event_text(text, CTX)


def test_formats_registered() -> None:
    formats = load_all()
    assert formats is FORMATS
    assert FORMATS["windows-event-xml"].parse is parse_windows_event_xml
    assert FORMATS["windows-event-text"].parse is parse_windows_event_text
    assert FORMATS["windows-event-xml"].carries_time
    assert FORMATS["windows-event-text"].carries_time
