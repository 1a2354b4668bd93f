"""One way to ask Windows PowerShell for CIM/WMI data: a readable one-line script, JSON out.

Used by the boot, battery, inventory and peripherals backends and by the device facts. Each
caller writes its script as a few statements that leave the answer in ``$out``;
:func:`script_argv` wraps them into the exact argv run::

    powershell -NoProfile -NonInteractive -Command "<preamble>; <statements>; <emit>"

* ``-Command`` with a plain script, not ``-EncodedCommand``: endpoint protection flags
  encoded PowerShell as a malware habit, and an administrator can read in a process list what
  the agent runs. The script is one line and has no double quote (Python's command-line
  quoting and powershell.exe's parsing then agree on it exactly); data that comes from the
  machine, such as file paths, goes in as base64 of UTF-8 JSON (see :func:`b64_json`), never
  as script text.
* The preamble turns off the progress bar (it costs time in a non-interactive run) and makes
  errors terminating, so a failing cmdlet ends the run with a non-zero exit instead of
  printing half an answer.
* The emit step prints ``$out`` with ``ConvertTo-Json -Compress`` and then escapes every
  non-ASCII character as ``\\uXXXX``: a service's console code page is not UTF-8 and the
  runner decodes with the ANSI one, so only ASCII crosses the pipe unharmed. The JSON's
  version-dependent shapes are read by :mod:`dexpulse.agent.parsers.ps_json`.

Cost: starting Windows PowerShell 5.1 and loading the CIM cmdlets takes roughly 0.3-1 s of
CPU [unverified on our fleet; measure with the footprint benchmark on Windows], so every
caller runs it at most once per sampler run and the frequent ones throttle themselves.
PowerShell missing or blocked, a non-zero exit (access denied, class not found): NoData. No
answer within the timeout: NoData too (the process is killed by ``subprocess.run``).

Windows PowerShell in Constrained Language Mode (AppLocker/WDAC) may refuse the .NET calls of
the emit step [unverified]; that is a non-zero exit, hence NoData.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Sequence
from typing import Any

from ...parsers import ps_json
from ..host import Host, NoData

POWERSHELL = ("powershell", "-NoProfile", "-NonInteractive", "-Command")
PREAMBLE = "$ProgressPreference='SilentlyContinue'; $ErrorActionPreference='Stop'"
EMIT = (
    "$json = ConvertTo-Json -InputObject $out -Depth 4 -Compress; "
    "[regex]::Replace($json, '[^\\x00-\\x7e]', { param($m) '\\u{0:x4}' -f [int][char]$m.Value })"
)
TIMEOUT_S = 60.0
"""Win32_PnPSignedDriver alone can take tens of seconds on a busy laptop."""
MAX_COMMAND_LINE = 30000
"""CreateProcess refuses a command line over 32767 characters; keep a margin for quoting."""


def script(*statements: str) -> str:
    """The one-line script: preamble, ``statements`` (which must set ``$out``), emit."""
    text = "; ".join((PREAMBLE, *statements, EMIT))
    if '"' in text or "\n" in text or "\r" in text:
        raise ValueError("a PowerShell script for -Command must be one line with no '\"'")
    return text


def script_argv(*statements: str) -> tuple[str, ...]:
    """The exact argv that runs ``statements`` (see :func:`script`)."""
    return (*POWERSHELL, script(*statements))


def command_line_length(argv: Sequence[str]) -> int:
    """Length of the Windows command line ``subprocess`` builds from ``argv``."""
    return len(subprocess.list2cmdline(list(argv)))


def b64_json(value: Any) -> str:
    """``value`` as base64 of its UTF-8 JSON: safe inside a single-quoted PowerShell string
    whatever it holds (quotes, ``$``, backticks, non-ASCII), decoded in the script with
    ``[Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('...')) | ConvertFrom-Json``."""
    raw = json.dumps(value, ensure_ascii=False).encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def run_text(host: Host, argv: Sequence[str], what: str, timeout: float = TIMEOUT_S) -> str:
    """Run ``argv`` and return what it printed; NoData (naming ``what``) when PowerShell is
    missing, exits non-zero or gives no answer within ``timeout``."""
    try:
        result = host.run(tuple(argv), max(timeout, host.timeout_s))
    except subprocess.TimeoutExpired:
        raise NoData(f"{what}: PowerShell gave no answer within {timeout:.0f} s") from None
    if result.returncode != 0:
        reason = (result.stderr.strip() or result.stdout.strip())[:300]
        raise NoData(f"{what}: PowerShell exited {result.returncode}: {reason}")
    return result.stdout


def run_json(host: Host, argv: Sequence[str], what: str, timeout: float = TIMEOUT_S) -> Any:
    """:func:`run_text`, decoded (None for an empty answer); ParseError naming ``what`` when
    PowerShell exits 0 with something that is not JSON."""
    return ps_json.load(run_text(host, argv, what, timeout), what)
