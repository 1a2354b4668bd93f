"""Kernel log -> app crashes (segfaults, traps) and USB enumeration failures.

Why: on Linux the kernel logs every process killed by an unhandled SIGSEGV/SIGILL/SIGFPE/SIGBUS
(whether or not a core dump handler is installed) and every USB device that fails to enumerate:
a flaky cable, a dock or a dying hub shows up here first. Real sample (``dmesg -H``)::

    [Feb 5 06:51] lact[523318]: segfault at 79968bc00910 ip 000079969389651b sp 00007996803fa340
      error 4 in libc.so.6[799693828000+195000] likely on CPU 0 (core 0, socket 0)
    [  +0.000018] Code: 0f 1e fa 41 57 41 56 41 55 41 54 55 53 48 83 ec 48 64 48 8b 04 25 ...

(the segfault is one line, wrapped here)

and (plain ``dmesg``)::

    [   86.480463] usb 2-3: device descriptor read/64, error -71
    [   88.136404] usb 2-3: device not accepting address 5, error -71
    [   88.136789] usb usb2-port3: unable to enumerate USB device

Accepted: ``dmesg`` in every time style of :mod:`.logtime` (also with ``-x`` level prefixes and
printk caller ids), ``journalctl -k`` in the short styles, and syslog files (kern.log) whose
lines come from ``kernel``; lines of other programs are skipped. A line without any stamp
(``dmesg -t``) counts only if it is one of the messages below, and gets ``ctx.now``. So do
``[seconds since boot]`` lines when ``ctx.boot_time`` is None (they cannot be placed).
Kernel lines with nothing below, and journalctl's ``-- No entries --``, give ``[]``; text with
no kernel line at all (prose, another program's log) is refused.

One sample per matching line, no collapsing: an incident with four descriptor-read retries
gives four samples, in log order, each with ``message`` = the whole line.

* ``comm[pid]: segfault at ... in libc.so.6[base+size]`` -> AppCrashSample (SIGSEGV, module)
* ``traps: comm[pid] general protection fault ip:...`` -> SIGSEGV; ``traps: comm[pid] trap
  invalid opcode ...`` -> SIGILL, ``divide error`` -> SIGFPE, ``stack segment``/``segment not
  present``/``alignment check`` -> SIGBUS, ``overflow``/``bounds``/``invalid TSS`` -> SIGSEGV
  (the kernel's own table, arch/x86/kernel/traps.c); any other trap leaves ``signal`` None.
  ``comm`` is the kernel's 15-character process name and may contain spaces ("Web Content").
* ``usb 1-1: device descriptor read/64, error -71`` (also ``read/8``, ``read/all``) and
  ``device not accepting address N, error -71`` -> error "error -71"
* ``usb usb2-port3: unable to enumerate USB device`` -> "enumeration_failed";
  ``Cannot enable. Maybe the USB cable is bad?`` -> "cannot_enable";
  ``over-current condition`` -> "over_current" (also the old ``hub ...`` forms of these).

``device_id`` is the device's bus path ("2-3", "1-1.3.2"); port names are turned into it
(``usb2-port3`` -> "2-3", ``1-1.3-port2`` -> "1-1.3.2", ``hub 1-0:1.0`` port 1 -> "1-1") so one
device's lines share an id. Retry chatter (``Device not responding to setup address.``,
``attempt power cycle``, xHCI ``WARN: invalid context state``) and ``Code:`` lines are ignored:
every retry round ends in one of the lines above.
"""

from __future__ import annotations

import re
from datetime import datetime

from dexpulse.schema.events import AppCrashSample, PeripheralFailureSample

from . import ParseContext, ParseError, register
from .logtime import Style, journal_had_no_entries, parse_syslog_header, stamped_lines

_DECODE = re.compile(r"^[a-z]+\s*:[a-z]+\s*: ")  # dmesg -x: "kern  :err   : "
_INNER_STAMP = re.compile(r"^\[\s*\d+\.\d+\]\s*")  # kern.log keeps dmesg's stamp after "kernel:"
_CALLER = re.compile(r"^\[\s*[TC]\d+\]\s*")  # CONFIG_PRINTK_CALLER
_KERNEL_IDENTS = {"kernel", "kern"}

_SEGFAULT = re.compile(
    r"^(?P<comm>.+?)\[(?P<pid>\d+)\]: segfault at [0-9a-fA-F]+ ip [0-9a-fA-F]+ sp [0-9a-fA-F]+"
    r" error [0-9a-fA-F]+(?: in (?P<mod>[^\[]+?)\[[0-9a-fA-F]+\+[0-9a-fA-F]+\])?"
)
_TRAP = re.compile(
    r"^traps: (?P<comm>.+?)\[(?P<pid>\d+)\] (?P<what>.+?) ip:[0-9a-fA-F]+ sp:[0-9a-fA-F]+"
    r" error:[0-9a-fA-F]+(?: in (?P<mod>[^\[]+?)\[[0-9a-fA-F]+\+[0-9a-fA-F]+\])?"
)
_TRAP_SIGNALS = {
    "divide error": "SIGFPE",
    "divide_error": "SIGFPE",
    "coprocessor segment overrun": "SIGFPE",
    "invalid opcode": "SIGILL",
    "overflow": "SIGSEGV",
    "bounds": "SIGSEGV",
    "invalid TSS": "SIGSEGV",
    "segment not present": "SIGBUS",
    "stack segment": "SIGBUS",
    "alignment check": "SIGBUS",
}

_USB_ERRNO = re.compile(
    r"^usb (?P<dev>\d+-[\d.]+): (?:device descriptor read/\w+|device not accepting address \d+),"
    r" error (?P<err>-?\d+)"
)
_PORT = r"(?P<port>usb\d+-port\d+|\d+-[\d.]+-port\d+)"
_USB_PORT = re.compile(
    rf"^usb {_PORT}: (?P<what>unable to enumerate USB device|over-current condition"
    r"|Cannot enable\. Maybe the USB cable is bad\?)"
)
_HUB = re.compile(
    r"^hub (?P<hub>\d+-[\d.]+:\d+\.\d+): (?P<what>unable to enumerate USB device on port"
    r"|over-current change on port|over-current condition|Cannot enable port)(?: (?P<n>\d+))?"
)
_WHAT = {
    "unable to enumerate": "enumeration_failed",
    "over-current": "over_current",
    "cannot enable": "cannot_enable",
}

Sample = AppCrashSample | PeripheralFailureSample


@register(
    "linux-kernel-log",
    description="Kernel log (dmesg, journalctl -k, kern.log): segfaults/traps as app_crash,"
    " USB enumeration errors as peripheral_failure",
    carries_time=True,
    example="journalctl -k -o short-iso --since=<ts>  (or: dmesg -T)",
)
def parse_kernel_log(text: str, ctx: ParseContext) -> list[Sample]:
    samples: list[Sample] = []
    recognised = False  # any line that is surely the kernel's
    undecoded = "\n".join(_DECODE.sub("", line.lstrip(), count=1) for line in text.splitlines())
    for line, stamp in stamped_lines(undecoded, ctx):
        message = _kernel_message(stamp.style, stamp.rest) if stamp else line
        if message is None:
            continue  # another program's syslog line
        message = _CALLER.sub("", _INNER_STAMP.sub("", message, count=1), count=1)
        ts = stamp.ts if stamp is not None and stamp.ts is not None else ctx.now
        sample = _crash(message, ts) or _usb_failure(message, ts, line)
        if sample is not None:
            samples.append(sample)
        recognised = recognised or stamp is not None or sample is not None
    if not recognised and not journal_had_no_entries(text):
        raise ParseError(
            "no kernel log lines found: expected `dmesg`, `journalctl -k` or /var/log/kern.log"
            " output (lines like '[   86.48] usb 2-3: ...' or 'Feb  5 06:51:02 host kernel: ...')"
        )
    return samples


def _kernel_message(style: Style, rest: str) -> str | None:
    """The kernel's message after a stamp, or None when the line is another program's."""
    header = parse_syslog_header(rest)
    if header is not None and header.ident in _KERNEL_IDENTS:
        return header.message  # journalctl -k, kern.log, short-monotonic "[5.1] host kernel: "
    if style.is_dmesg:
        return rest
    return None


def _crash(message: str, ts: datetime) -> AppCrashSample | None:
    signal: str | None = "SIGSEGV"
    match = _SEGFAULT.match(message)
    if match is None:
        match = _TRAP.match(message)
        if match is None:
            return None
        what = match["what"]
        if what.startswith("general protection"):
            signal = "SIGSEGV"
        else:
            signal = _TRAP_SIGNALS.get(what.removeprefix("trap ").strip())
    pid = int(match["pid"])
    module = match["mod"].strip() if match["mod"] else None
    return AppCrashSample(
        ts=ts,
        app_name=match["comm"].strip()[:256] or "unknown",
        module_name=module[:256] if module else None,
        signal=signal,
        pid=pid if pid < 2**32 else None,
    )


def _usb_failure(message: str, ts: datetime, line: str) -> PeripheralFailureSample | None:
    device: str | None
    match = _USB_ERRNO.match(message)
    if match is not None:
        device, error = match["dev"], f"error {match['err']}"
    elif (match := _USB_PORT.match(message)) is not None:
        device, error = _port_device(match["port"]), _code(match["what"])
    elif (match := _HUB.match(message)) is not None:
        hub = match["hub"].split(":", 1)[0]
        device = _child(hub, match["n"]) if match["n"] else match["hub"]
        error = _code(match["what"])
    else:
        return None
    return PeripheralFailureSample(
        ts=ts, device_class="usb", device_id=device, error=error, message=line[:4096]
    )


def _code(what: str) -> str:
    lowered = what.lower()
    return next(code for key, code in _WHAT.items() if lowered.startswith(key))


def _port_device(port: str) -> str:
    """``usb2-port3`` -> ``2-3``; ``1-1.3-port2`` -> ``1-1.3.2`` (the device on that port)."""
    parent, number = port.rsplit("-port", 1)
    if parent.startswith("usb"):
        return f"{parent[3:]}-{number}"
    return f"{parent}.{number}"


def _child(hub: str, port: str) -> str:
    """Device path on ``port`` of the hub device ``hub`` (``1-0`` is bus 1's root hub)."""
    bus, path = hub.split("-", 1)
    return f"{bus}-{port}" if path == "0" else f"{hub}.{port}"
