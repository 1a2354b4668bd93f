"""Samples as JSON text, written with format strings rather than models or ``json.dumps``.

Why: a week of 10,000 laptops is ~300 million samples; building a pydantic model (or even a
dict) per sample would make the simulator slower than the thing it feeds. Each template below
is one sample kind exactly as the agent serialises it (``model_dump(mode="json",
exclude_none=True)``: absent fields are left out, never ``null``), with only numbers, fixed
words and pre-escaped strings (``json.dumps`` once per device) filled in. The tests validate
every emitted sample against the schema models and the field catalogue, so a typo here fails
a test rather than a collector.

Per OS, the fields are those the real backends fill: Windows reports ``signal_percent``,
``cpu_queue_length``, the PnP problem code of a failed device and the module of a crash;
macOS reports ``noise_dbm``, ``load_avg_1m``, the crash's signal and a hang's duration.
"""

from __future__ import annotations

import json

SYSTEM = {
    "windows": (
        '{"kind":"system","ts":"%s","cpu_percent":%.1f,"cpu_max_core_percent":%.1f,'
        '"cpu_queue_length":%d,"memory_percent":%.1f,"memory_available_mb":%.1f,'
        '"memory_available_percent":%.1f,"swap_percent":%.1f,"disk_free_percent":%.1f,'
        '"disk_free_gb":%.1f,"uptime_s":%.1f,"process_count":%d%s}'
    ),
    "macos": (
        '{"kind":"system","ts":"%s","cpu_percent":%.1f,"cpu_max_core_percent":%.1f,'
        '"load_avg_1m":%.2f,"memory_percent":%.1f,"memory_available_mb":%.1f,'
        '"memory_available_percent":%.1f,"swap_percent":%.1f,"disk_free_percent":%.1f,'
        '"disk_free_gb":%.1f,"uptime_s":%.1f,"process_count":%d%s}'
    ),
}
TOP = ',"top_processes":%s'

WIFI_UP = {
    "windows": (
        '{"kind":"wifi","ts":"%s","interface":"Wi-Fi","connected":true,"ssid":%s,"bssid":"%s",'
        '"rssi_dbm":%.1f,"signal_percent":%.1f,"channel":%d,"band_ghz":%s,"frequency_mhz":%.1f,'
        '"rx_rate_mbps":%.1f,"tx_rate_mbps":%.1f,"radio_type":"%s","security":"%s"}'
    ),
    "macos": (
        '{"kind":"wifi","ts":"%s","interface":"en0","connected":true,"ssid":%s,"bssid":"%s",'
        '"rssi_dbm":%.1f,"noise_dbm":%.1f,"channel":%d,"band_ghz":%s,"frequency_mhz":%.1f,'
        '"tx_rate_mbps":%.1f,"radio_type":"%s","security":"%s"}'
    ),
}
WIFI_DOWN = '{"kind":"wifi","ts":"%s","interface":"%s","connected":false}'
INTERFACE = {"windows": "Wi-Fi", "macos": "en0"}

WIFI_EVENT_DOWN = (
    '{"kind":"wifi_event","ts":"%s","event":"disconnected","interface":"%s","ssid":%s,'
    '"bssid":"%s","reason":"%s","reason_code":%d}'
)
WIFI_EVENT_UP = (
    '{"kind":"wifi_event","ts":"%s","event":"connected","interface":"%s","ssid":%s,"bssid":"%s"}'
)
WIFI_EVENT_ROAM = (
    '{"kind":"wifi_event","ts":"%s","event":"roamed","interface":"%s","ssid":%s,"bssid":"%s",'
    '"previous_bssid":"%s"}'
)

PROBE_OK = (
    '{"kind":"network_probe","ts":"%s","target":"%s","method":"http","dns_ms":%.2f,'
    '"connect_ms":%.2f,"tls_ms":%.2f,"ttfb_ms":%.2f,"http_status":%d,"status":"ok"}'
)
PROBE_DNS_OK = (
    '{"kind":"network_probe","ts":"%s","target":"%s","method":"dns","dns_ms":%.2f,"status":"ok"}'
)
PROBE_UNRESOLVED = (
    '{"kind":"network_probe","ts":"%s","target":"%s","method":"%s","status":"%s","error":"%s"}'
)
PROBE_NO_CONNECT = (
    '{"kind":"network_probe","ts":"%s","target":"%s","method":"http","dns_ms":%.2f,'
    '"status":"%s","error":"TCP %s:443: %s"}'
)
PROBE_NO_ANSWER = (
    '{"kind":"network_probe","ts":"%s","target":"%s","method":"http","dns_ms":%.2f,'
    '"connect_ms":%.2f,"tls_ms":%.2f,"status":"timeout","error":"HTTP: no answer: timed out"}'
)
PROBE_HTTP_ERROR = (
    '{"kind":"network_probe","ts":"%s","target":"%s","method":"http","dns_ms":%.2f,'
    '"connect_ms":%.2f,"tls_ms":%.2f,"ttfb_ms":%.2f,"http_status":%d,"status":"http_error",'
    '"error":"HTTP %d"}'
)
HOSTS = {
    "collector": "dex.example.com",
    "login.example.com": "login.example.com",
    "intranet.example.com": "intranet.example.com",
    "resolver": "dnscheck.example.com",
}
NO_NAME = {
    "windows": "[Errno 11001] getaddrinfo failed",
    "macos": "[Errno 8] nodename nor servname provided, or not known",
}
SERVFAIL = {
    "windows": "[Errno 11002] getaddrinfo failed",
    "macos": "[Errno 8] nodename nor servname provided, or not known",
}
REFUSED = {
    "windows": "[WinError 10061] No connection could be made because the target machine "
    "actively refused it",
    "macos": "[Errno 61] Connection refused",
}

CRASH = {
    "windows": (
        '{"kind":"app_crash","ts":"%s","app_name":"%s","app_version":"%s","app_path":%s,'
        '"module_name":"%s","module_version":"%s","exception_code":"%s","pid":%d,'
        '"report_id":"%s"}'
    ),
    "macos": (
        '{"kind":"app_crash","ts":"%s","app_name":"%s","app_version":"%s","app_path":%s,'
        '"module_name":"%s","exception_code":"%s","signal":"%s","pid":%d,"report_id":"%s"}'
    ),
}
SIGNALS = {"EXC_BAD_ACCESS": "SIGSEGV", "EXC_BREAKPOINT": "SIGTRAP"}
HANG = {
    "windows": (
        '{"kind":"app_hang","ts":"%s","app_name":"%s","app_version":"%s","app_path":%s,'
        '"pid":%d,"report_id":"%s"}'
    ),
    "macos": (
        '{"kind":"app_hang","ts":"%s","app_name":"%s","app_version":"%s","app_path":%s,'
        '"pid":%d,"hang_duration_s":%.1f,"report_id":"%s"}'
    ),
}
PERIPHERAL_PROBLEM = (
    '{"kind":"peripheral_failure","ts":"%s","device_class":"%s","device_id":%s,'
    '"vendor_id":"%s","product_id":"%s","name":%s%s,"error":"problem code %d",'
    '"message":%s}'
)
PERIPHERAL_MAC = (
    '{"kind":"peripheral_failure","ts":"%s","device_class":"%s","vendor_id":"%s",'
    '"product_id":"%s","name":%s%s,"error":"%s","message":%s}'
)
CM_PROB = {10: "FAILED_START", 43: "FAILED_POST_START"}

BOOT = {
    "windows": '{"kind":"boot","ts":"%s","boot_duration_s":%.1f,"logon_duration_s":%.1f}',
    "macos": '{"kind":"boot","ts":"%s","boot_duration_s":%.1f}',
}
INVENTORY = '{"kind":"inventory","ts":"%%s","reason":"%%s","apps":%s,"peripherals":%s}'


def js(value: object) -> str:
    """Compact JSON of one value (strings come out quoted and escaped)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
