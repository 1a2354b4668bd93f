"""``dexpulse agent ...``: parse for support staff, the sample config, enroll, once, status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness import serve

from dexpulse.agent.cli import main
from dexpulse.agent.parsers import FORMATS, load_all

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# The formats support staff are promised, each with a real capture it must read.
REQUIRED = {
    "linux-iw-link": ("wifi/linux/iw_dev_link_1/linux_iw_dev_link_1.txt", "wifi"),
    "linux-proc-net-wireless": (
        "wifi/linux/proc_net_wireless_1/linux_proc_net_wireless_1.txt",
        "wifi",
    ),
    "linux-nmcli-wifi": (
        "wifi/linux/nmcli_terse_dev_wifi_list_2/linux_nmcli_terse_dev_wifi_list_2.txt",
        "wifi",
    ),
    "linux-coredumpctl-json": (
        "crashes/linux/coredumpctl_list_json_short_1/linux_coredumpctl_list_json_short_1.json",
        "app_crash",
    ),
    "linux-kernel-log": (
        "crashes/linux/kernel_segfault_lines_1/linux_kernel_segfault_lines_1.txt",
        "app_crash",
    ),
    "linux-apport": (
        "crashes/linux/apport_crash_segv_analysis_2/linux_apport_crash_segv_analysis_2.txt",
        "app_crash",
    ),
    "linux-systemd-analyze": (
        "boot/linux/systemd_analyze_time_1/linux_systemd_analyze_time_1.txt",
        "boot",
    ),
    "linux-power-supply": (
        "battery/linux/sysfs_power_supply_BAT0_uevent_1/linux_sysfs_power_supply_BAT0_uevent_1.txt",
        "battery",
    ),
    "cups-error-log": (
        "peripherals/linux/cups_error_log_1/linux_cups_error_log_1.txt",
        "peripheral_failure",
    ),
    "bluez-journal": (
        "peripherals/linux/bluetoothd_journal_disconnects_1/"
        "linux_bluetoothd_journal_disconnects_1.txt",
        "peripheral_failure",
    ),
}


# Windows and macOS formats (issue 4), read here on Linux like any other capture.
REQUIRED.update(
    {
        "windows-netsh-wlan": (
            "wifi/windows/netsh_wlan_interfaces_de_2/windows_netsh_wlan_interfaces_de_2.txt",
            "wifi",
        ),
        "windows-event-xml": (
            "crashes/windows/event_1000_application_error_win11_named_data_1/"
            "windows_event_1000_application_error_win11_named_data_1.xml",
            "app_crash",
        ),
        "windows-event-text": (
            "peripherals/windows/event_kernel_pnp_411_rendered_en_1/"
            "windows_event_kernel_pnp_411_rendered_en_1.txt",
            "peripheral_failure",
        ),
        "macos-system-profiler-airport": (
            "wifi/macos/system_profiler_SPAirPortDataType_15_5_1/"
            "macos_system_profiler_SPAirPortDataType_15_5_1.json",
            "wifi",
        ),
        "macos-wdutil": (
            "wifi/macos/wdutil_info_macos15_redacted_1/macos_wdutil_info_macos15_redacted_1.txt",
            "wifi",
        ),
        "macos-ips": (
            "crashes/macos/ips_crash_309_macos15_1/macos_ips_crash_309_macos15_1.ips",
            "app_crash",
        ),
    }
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_parse_lists_every_promised_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "agent", "parse", "--list")
    assert code == 0
    listed = {line.split()[0] for line in out.splitlines()}
    assert set(REQUIRED) <= listed


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_parse_prints_samples_from_a_real_capture(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path, kind = REQUIRED[name]
    code, out, err = run(capsys, "agent", "parse", name, str(FIXTURES / path))
    assert code == 0, err
    samples = json.loads(out)
    assert samples and all(s["kind"] == kind for s in samples)
    carries_time = FORMATS[name].carries_time
    assert all(("ts" in s) == carries_time for s in samples), samples


def test_parse_of_the_wrong_format_is_a_message_not_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    wrong = FIXTURES / REQUIRED["linux-systemd-analyze"][0]
    for name in sorted(load_all()):  # every registered format, not only the promised ones
        if name == "linux-systemd-analyze":
            continue
        code, out, err = run(capsys, "agent", "parse", name, str(wrong))
        assert code == 1, name
        assert out == "" and f"is not {name}" in err and "Traceback" not in err
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 4)
    code, _, err = run(capsys, "agent", "parse", "linux-iw-link", str(garbage))
    assert code == 1 and "is not linux-iw-link" in err


def test_parse_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "agent", "parse", "no-such-format", "x")
    assert code == 2 and "unknown format" in err
    code, _, err = run(capsys, "agent", "parse", "linux-iw-link", str(tmp_path / "absent"))
    assert code == 1 and "cannot read" in err


def test_config_sample_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "agent", "config", "--sample")
    assert code == 0 and out.startswith("# dexpulse agent configuration")
    assert "[samplers.wifi]" in out


@pytest.mark.slow
def test_enroll_once_and_status_against_a_collector(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with serve(f"sqlite:///{tmp_path / 'c.db'}", tmp_path) as server:
        secret = server.cli("collector", "enrollment-secret", "create")
        config = tmp_path / "agent.toml"
        config.write_text(f'state_dir = "{tmp_path / "agent"}"\n[tags]\nsite = "lab"\n')
        code, out, err = run(
            capsys,
            "agent",
            "--config",
            str(config),
            "enroll",
            "--url",
            server.url,
            "--secret",
            secret,
        )
        assert code == 0, err
        assert "enrolled as device" in out
        assert (tmp_path / "agent" / "credentials.json").stat().st_mode & 0o077 == 0
        code, out, _ = run(capsys, "agent", "--config", str(config), "once", "--json")
        assert code == 0
        kinds = {s["kind"] for s in json.loads(out)}
        assert "system" in kinds
        code, out, _ = run(capsys, "agent", "--config", str(config), "status")
        assert code == 0 and "enrolled         device" in out and server.url in out
        bad = run(
            capsys,
            "agent",
            "--config",
            str(config),
            "enroll",
            "--url",
            server.url,
            "--secret",
            "dxe_wrong",
        )
        assert bad[0] == 1 and "401" in bad[2]
