"""Ubuntu apport crash report (``/var/crash/*.crash``) -> one AppCrashSample.

Why: on Ubuntu (and derivatives) apport catches crashing processes before systemd-coredump
and writes one report per crash, owned ``<uid>:whoopsie``; it names the package version, which
the kernel log and coredumpctl do not. Real sample
(``head /var/crash/_usr_bin_gnome-shell.121.crash``)::

    ProblemType: Crash
    Architecture: amd64
    Date: Wed Apr 15 23:25:01 2020
    DistroRelease: Ubuntu 18.04
    ExecutablePath: /usr/bin/gnome-shell
    ProcCmdline: /usr/bin/gnome-shell
    ProcEnviron:

The format is python ``problem_report``'s RFC822-like ``Key: value``; a value continues on lines
that start with a space, and binary values (``CoreDump: base64``) are followed by space-indented
base64 lines that can run to hundreds of megabytes. Those are jumped over line by line with
``str.find`` (never split, decoded or copied), so a whole report may be passed in.

Fields: ``app_name`` = basename of ``ExecutablePath`` (else of ``ProcCmdline``'s first word,
else the package name); ``app_path`` = ``ExecutablePath``; ``app_version`` = the version in
``Package: <name> <version>`` (none for "(not installed)"); ``signal`` from ``Signal: 11``
(a fixed Linux numbering table, not the running OS's), or SIGSEGV when the report has only the
retracer's ``SegvAnalysis``; ``pid`` from a ``Pid:`` field or the ``Pid:`` line of
``ProcStatus``; ``module_name`` from ``from /lib/.../libfoo.so`` in the first ``Stacktrace``
frame (retraced reports only); ``ts`` = ``Date`` (``time.asctime()``, local: ``ctx.local_tz``),
or ``ctx.now`` if absent. The report carries no identifier, so ``report_id`` stays None.

Only ``ProblemType: Crash`` is an app crash; ``Package`` (install failures), ``KernelOops``,
``KernelCrash`` and other problem types give ``[]``. Text without ``ProblemType:`` is refused.
"""

from __future__ import annotations

import re
from datetime import datetime

from dexpulse.schema.events import AppCrashSample

from . import ParseContext, ParseError, register
from .logtime import MONTHS, local_to_utc
from .signals import signal_name

_KEY = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*):(?:[ \t]+|\r?$)")
_BLOCKS = {"ProcStatus", "Stacktrace"}  # the only multi-line values read; others are skipped
_DATE = re.compile(
    r"(?:[A-Z][a-z]{2} )?(?P<mon>[A-Z][a-z]{2}) +(?P<d>\d{1,2}) "
    r"(?P<h>\d{1,2}):(?P<mi>\d{2}):(?P<s>\d{2}) (?P<y>\d{4})$"
)
_PID = re.compile(r"^Pid:\s*(\d{1,10})\s*$", re.M)
_FRAME_MODULE = re.compile(r"^#0\s.*? from (\S+)\s*$", re.M)


@register(
    "linux-apport",
    description="Ubuntu apport crash report (/var/crash/*.crash): one app_crash",
    carries_time=True,
    example="cat /var/crash/_usr_bin_<program>.<uid>.crash",
)
def parse_apport(text: str, ctx: ParseContext) -> list[AppCrashSample]:
    fields, blocks = _read_fields(text)
    problem = fields.get("ProblemType")
    if problem is None:
        raise ParseError(
            "no 'ProblemType:' line: is this an apport crash report from /var/crash/*.crash?"
        )
    if not problem.startswith("Crash"):
        return []  # Package, KernelOops, KernelCrash, Bug, ...: not an application crash
    path = fields.get("ExecutablePath") or None
    package = fields.get("Package", "").split()
    name = _basename(path) or _basename(_first_word(fields.get("ProcCmdline", "")))
    name = name or (package[0] if package else "")
    if not name:
        raise ParseError("the crash report names no executable (no ExecutablePath or ProcCmdline)")
    version = package[1] if len(package) > 1 and package[1][0] not in "([" else None
    return [
        AppCrashSample(
            ts=_date(fields.get("Date", ""), ctx) or ctx.now,
            app_name=name[:256],
            app_path=path[:4096] if path else None,
            app_version=version[:256] if version else None,
            signal=_signal(fields),
            pid=_pid(fields.get("Pid", "") or blocks.get("ProcStatus", "")),
            module_name=_module(blocks.get("Stacktrace", "")),
        )
    ]


def _read_fields(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """First-line values of every key, and the continuation lines of the keys in _BLOCKS."""
    fields: dict[str, str] = {}
    blocks: dict[str, str] = {}
    key: str | None = None
    pos, end = 0, len(text)
    while pos < end:
        nl = text.find("\n", pos)
        stop = end if nl < 0 else nl
        if text.startswith((" ", "\t"), pos):  # continuation: read only when wanted
            if key in _BLOCKS:
                blocks[key] = blocks.get(key, "") + text[pos + 1 : stop].rstrip("\r") + "\n"
        else:
            match = _KEY.match(text, pos, stop)
            key = match[1] if match else None
            if match and key is not None and key not in fields:
                fields[key] = text[match.end() : stop].strip()
        pos = stop + 1
    return fields, blocks


def _date(value: str, ctx: ParseContext) -> datetime | None:
    match = _DATE.match(value.strip())
    if match is None or match["mon"] not in MONTHS:
        return None
    try:
        naive = datetime(  # noqa: DTZ001 - apport writes local wall-clock time
            int(match["y"]), MONTHS[match["mon"]], int(match["d"]),
            int(match["h"]), int(match["mi"]), int(match["s"]),
        )  # fmt: skip
    except ValueError:
        return None
    return local_to_utc(naive, ctx.local_tz)


def _signal(fields: dict[str, str]) -> str | None:
    number = fields.get("Signal", "").strip()
    if number.isdigit() and len(number) < 4:
        return signal_name(int(number))
    if "SegvAnalysis" in fields or "SegvReason" in fields:
        return "SIGSEGV"  # apport only analyses segfaults (Signal 11)
    return None


def _pid(text: str) -> int | None:
    match = _PID.search(text) if "Pid:" in text else re.match(r"\s*(\d{1,10})\s*$", text)
    if match is None:
        return None
    pid = int(match[1])
    return pid if pid < 2**32 else None


def _module(stacktrace: str) -> str | None:
    match = _FRAME_MODULE.search(stacktrace)
    if match is None:
        return None
    return _basename(match[1])[:256] or None


def _first_word(text: str) -> str:
    words = text.split()
    return words[0] if words else ""


def _basename(path: str | None) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1] if path else ""
