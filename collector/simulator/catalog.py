"""The simulated company's reference data: sites, hardware, OS builds, apps, peripherals, probes.

Why a catalogue: the detector is tuned and benchmarked against this fleet, so its shape must
look like a real one (a few laptop models with uneven shares, two or three versions of every
app in flight, one NIC driver shared by several dock models) and stay fixed from run to run.
Names are spelled as the real agent reports them: Windows apps by executable file name
(``OUTLOOK.EXE``, which is also what Application Error 1000 names), macOS apps by executable
basename (``Microsoft Outlook``), hardware models as WMI / ``hw.model`` give them, drivers by
Windows service name. Versions and ids are illustrative but well-formed.

Shares are relative weights; :func:`dexpulse.collector.simulator.fleet.pick` normalises them.
"""

from __future__ import annotations

from dataclasses import dataclass

CORP_SSID = "Example-Corp"
GUEST_SSID = "Example-Guest"
LEGACY_SSID = "Example-Legacy"
"""Every site has the corporate SSID; larger ones a guest SSID; some a 2.4 GHz legacy one."""


@dataclass(frozen=True)
class SiteInfo:
    name: str
    tz: str
    prefix: str
    """Hostname prefix of the site's laptops."""
    dc_rtt_ms: float
    """Round trip to the data centre (collector, intranet, resolver) over the site's WAN."""
    saas_rtt_ms: float
    """Round trip to the SaaS provider's nearest point of presence."""
    ap_oui: str
    """The access point vendor's MAC prefix (one vendor per site, as sites are refreshed)."""


SITES: tuple[SiteInfo, ...] = (
    SiteInfo("brussels-hq", "Europe/Brussels", "BRU", 1.5, 9.0, "94:b4:0f"),
    SiteInfo("antwerp-office", "Europe/Brussels", "ANR", 4.0, 10.0, "24:de:c6"),
    SiteInfo("amsterdam-office", "Europe/Amsterdam", "AMS", 7.0, 6.0, "e0:55:3d"),
    SiteInfo("london-office", "Europe/London", "LON", 11.0, 5.0, "88:15:44"),
    SiteInfo("paris-office", "Europe/Paris", "PAR", 9.0, 6.0, "5c:5b:35"),
    SiteInfo("frankfurt-office", "Europe/Berlin", "FRA", 10.0, 5.0, "94:b4:0f"),
    SiteInfo("madrid-office", "Europe/Madrid", "MAD", 24.0, 9.0, "f0:9f:c2"),
    SiteInfo("warsaw-office", "Europe/Warsaw", "WAW", 22.0, 11.0, "24:de:c6"),
    SiteInfo("new-york-office", "America/New_York", "NYC", 78.0, 7.0, "e0:55:3d"),
    SiteInfo("chicago-office", "America/Chicago", "CHI", 95.0, 8.0, "88:15:44"),
    SiteInfo("toronto-office", "America/Toronto", "YYZ", 84.0, 9.0, "5c:5b:35"),
    SiteInfo("singapore-office", "Asia/Singapore", "SIN", 160.0, 6.0, "94:b4:0f"),
)

HOME_SSIDS = (
    "Proximus-Home-{0:04X}", "telenet-{0:05X}", "VOO-{0:06X}", "Ziggo{0:05d}",
    "KPN{0:04X}", "BT-{0:04X}", "Livebox-{0:04X}", "FRITZ!Box 7590 {0:02X}", "NETGEAR{0:02d}",
    "Vodafone-{0:04X}", "Orange-{0:04X}", "TP-Link_{0:04X}",
)  # fmt: skip
HOME_OUIS = ("3c:a6:2f", "c8:0e:14", "f8:d1:11", "00:1e:80", "e8:9f:80", "b0:95:75")

DEPARTMENTS = (
    ("sales", 18), ("engineering", 20), ("finance", 8), ("marketing", 8), ("operations", 12),
    ("support", 14), ("hr", 5), ("legal", 3), ("it", 6), ("management", 6),
)  # fmt: skip

OS_SHARES = (("windows", 85), ("macos", 15))

MODELS = {
    "windows": (
        ("Dell Inc.", "Latitude 7440", 20), ("Dell Inc.", "Latitude 5440", 18),
        ("LENOVO", "21HD003LMB", 17), ("LENOVO", "21HM0045MB", 8),
        ("HP", "HP EliteBook 840 G10 Notebook PC", 15),
        ("HP", "HP EliteBook 860 G10 Notebook PC", 7),
        ("Microsoft Corporation", "Surface Laptop 5", 5),
    ),
    "macos": (("Apple", "Mac15,3", 40), ("Apple", "Mac14,2", 30), ("Apple", "Mac15,12", 30)),
}  # fmt: skip

OS_BUILDS = {
    "windows": (
        ("Windows 11 Enterprise 24H2", "26100.7171", 45),
        ("Windows 11 Enterprise 24H2", "26100.6899", 25),
        ("Windows 11 Enterprise 23H2", "22631.6199", 20),
        ("Windows 10 Enterprise 22H2", "19045.6456", 10),
    ),
    "macos": (
        ("macOS 15.7.1", "24G231", 45), ("macOS 26.1", "25B78", 35), ("macOS 15.6.1", "24G90", 20),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class AppInfo:
    name: str
    path: str
    installed: float
    """Share of the OS's devices that have it running."""
    crash_per_hour: float
    """Baseline crashes per device-hour of use (before noise)."""
    hang_per_hour: float
    versions: tuple[tuple[str, int], ...]
    """(version, share): an older one still in use, the current one, and a rollout."""
    fault: tuple[str, str]
    """(faulting module, exception code) of its typical crash."""


_OFFICE = r"C:\Program Files\Microsoft Office\root\Office16"
_OFFICE_VERSIONS = (("16.0.19127.20264", 20), ("16.0.19231.20194", 55), ("16.0.19328.20178", 25))

APPS: dict[str, tuple[AppInfo, ...]] = {
    "windows": (
        AppInfo("OUTLOOK.EXE", _OFFICE + r"\OUTLOOK.EXE", 0.97, 0.003, 0.020, _OFFICE_VERSIONS,
                ("mso20win32client.dll", "0xc0000005")),
        AppInfo("EXCEL.EXE", _OFFICE + r"\EXCEL.EXE", 0.75, 0.002, 0.010, _OFFICE_VERSIONS,
                ("mso.dll", "0xc0000005")),
        AppInfo("WINWORD.EXE", _OFFICE + r"\WINWORD.EXE", 0.70, 0.001, 0.006, _OFFICE_VERSIONS,
                ("wwlib.dll", "0xc0000005")),
        AppInfo("ms-teams.exe",
                r"C:\Program Files\WindowsApps\MSTeams_8wekyb3d8bbwe\ms-teams.exe", 0.96,
                0.004, 0.010,
                (("25227.203.3892.4104", 25), ("25255.703.3956.1480", 60),
                 ("25290.205.4069.4894", 15)),
                ("EmbeddedBrowserWebView.dll", "0xc0000409")),
        AppInfo("chrome.exe", r"C:\Program Files\Google\Chrome\Application\chrome.exe", 0.60,
                0.002, 0.004,
                (("141.0.7390.123", 15), ("142.0.7444.135", 60), ("142.0.7444.176", 25)),
                ("chrome.dll", "0x80000003")),
        AppInfo("msedge.exe",
                r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe", 0.55, 0.002,
                0.004, (("141.0.3537.99", 30), ("142.0.3595.80", 70)),
                ("msedge.dll", "0x80000003")),
        AppInfo("Zoom.exe", r"C:\Users\Public\Zoom\bin\Zoom.exe", 0.35, 0.003, 0.004,
                (("6.5.11.4305", 40), ("6.6.0.4965", 60)), ("zVideoApp.dll", "0xc0000005")),
        AppInfo("slack.exe", r"C:\Program Files\Slack\slack.exe", 0.30, 0.002, 0.003,
                (("4.46.101", 35), ("4.47.59", 65)), ("slack.exe", "0xc0000005")),
        AppInfo("OneDrive.exe", r"C:\Program Files\Microsoft OneDrive\OneDrive.exe", 0.90,
                0.001, 0.002, (("25.189.0928.0002", 40), ("25.204.1021.0003", 60)),
                ("FileSyncClient.dll", "0xc0000005")),
    ),
    "macos": (
        AppInfo("Microsoft Outlook",
                "/Applications/Microsoft Outlook.app/Contents/MacOS/Microsoft Outlook", 0.95,
                0.003, 0.015, (("16.101.3", 30), ("16.102.1", 70)),
                ("OutlookCore", "EXC_BAD_ACCESS")),
        AppInfo("MSTeams", "/Applications/Microsoft Teams.app/Contents/MacOS/MSTeams", 0.95,
                0.004, 0.008, (("25255.703.3956.1475", 65), ("25290.205.4069.4890", 35)),
                ("libEmbeddedBrowser.dylib", "EXC_BAD_ACCESS")),
        AppInfo("Google Chrome",
                "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome", 0.70, 0.002,
                0.003, (("142.0.7444.135", 60), ("142.0.7444.176", 40)),
                ("Google Chrome Framework", "EXC_BREAKPOINT")),
        AppInfo("zoom.us", "/Applications/zoom.us.app/Contents/MacOS/zoom.us", 0.40, 0.003,
                0.003, (("6.6.0.64520", 100),), ("zVideoUI", "EXC_BAD_ACCESS")),
        AppInfo("Slack", "/Applications/Slack.app/Contents/MacOS/Slack", 0.45, 0.002, 0.002,
                (("4.46.101", 40), ("4.47.59", 60)), ("Electron Framework", "EXC_BREAKPOINT")),
        AppInfo("Safari", "/Applications/Safari.app/Contents/MacOS/Safari", 0.60, 0.001, 0.002,
                (("26.1", 100),), ("WebKit", "EXC_BAD_ACCESS")),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class PeripheralInfo:
    device_class: str
    name: str
    vendor_id: str
    product_id: str
    driver: str | None
    versions: tuple[tuple[str, int], ...]
    """(driver version, share); empty for an inbox driver, whose version is the OS build's."""
    fail_per_hour: float


# Docks by laptop maker; their Ethernet is the same Realtek USB NIC, so one driver version
# spans several dock models (a bad driver hits one model or all of them).
_RTUX = (("1153.10.20.1006", 55), ("1153.12.20.419", 45))
DOCKS: dict[str, PeripheralInfo] = {
    "Dell Inc.": PeripheralInfo(
        "dock", "Dell Dock WD19S", "413c", "b06e", "rtux64w10", _RTUX, 0.004),
    "LENOVO": PeripheralInfo(
        "dock", "ThinkPad USB-C Dock Gen2", "17ef", "a391", "rtux64w10", _RTUX, 0.004),
    "HP": PeripheralInfo("dock", "HP USB-C Dock G5", "03f0", "076b", "rtux64w10", _RTUX, 0.004),
    "Microsoft Corporation": PeripheralInfo(
        "dock", "Surface Dock 2", "045e", "0a21", "SurfaceDockIntegration",
        (("2.11.138.0", 60), ("2.12.142.0", 40)), 0.004),
    "Apple": PeripheralInfo("usb", "CalDigit TS4", "2188", "0754", None, (), 0.003),
}  # fmt: skip

# (info, share of the OS's devices that have one attached)
EXTRAS: dict[str, tuple[tuple[PeripheralInfo, float], ...]] = {
    "windows": (
        (PeripheralInfo("display", "DisplayLink USB Graphics Adapter", "17e9", "436e", "dlidusb",
                        (("11.4.9747.0", 50), ("11.6.5217.0", 50)), 0.006), 0.15),
        (PeripheralInfo("camera", "Logitech BRIO", "046d", "085e", "usbvideo", (), 0.002), 0.20),
        (PeripheralInfo("camera", "Logitech Webcam C925e", "046d", "085b", "usbvideo", (),
                        0.002), 0.15),
        (PeripheralInfo("audio", "Jabra Evolve2 65", "0b0e", "24b2", "usbaudio2", (), 0.003), 0.35),
        (PeripheralInfo("audio", "Poly Voyager Focus 2", "047f", "4260", "usbaudio2", (),
                        0.003), 0.25),
        (PeripheralInfo("bluetooth", "MX Master 3S", "046d", "b034", "HidBth",
                        (("10.0.26100.1", 100),), 0.002), 0.30),
    ),
    "macos": (
        (PeripheralInfo("usb", "Logitech BRIO", "046d", "085e", None, (), 0.002), 0.25),
        (PeripheralInfo("bluetooth", "Jabra Evolve2 65", "0b0e", "24b2", None,
                        (("2.1.0", 40), ("2.3.1", 60)), 0.004), 0.45),
        (PeripheralInfo("bluetooth", "MX Master 3S", "046d", "b034", None, (), 0.002), 0.35),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class ProbeInfo:
    target: str
    method: str
    where: str
    """"dc" (over the site's WAN to the data centre), "saas" (to the provider) or "dns"."""
    http_status: int | None
    server_ms: float
    """Server think time added to the time to first byte."""
    base_fail: float
    """Baseline probability that one probe fails (timeout), before noise."""


PROBES: tuple[ProbeInfo, ...] = (
    ProbeInfo("collector", "http", "dc", 200, 3.0, 0.0008),
    ProbeInfo("login.example.com", "http", "saas", 302, 45.0, 0.0015),
    ProbeInfo("intranet.example.com", "http", "dc", 200, 25.0, 0.0010),
    ProbeInfo("resolver", "dns", "dns", None, 0.0, 0.0008),
)
"""The collector's /healthz (always probed by the real agent), a SaaS sign-in page, an
intranet host, and a resolver check (an uncached name through the corporate resolver)."""

AGENT_VERSION = "0.1.0"
