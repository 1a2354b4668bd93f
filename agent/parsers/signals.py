"""Linux signal numbers and names, fixed (not the running OS's), for crash parsers.

The numbering is that of x86, ARM and the generic ABI (not alpha/MIPS/SPARC); 34-64 are printed
as SIGRTMIN+n the way systemd and glibc do.
"""

from __future__ import annotations

import re

LINUX_SIGNALS: dict[int, str] = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
    7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
    13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD",
    18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG",
    24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO",
    30: "SIGPWR", 31: "SIGSYS",
}  # fmt: skip
"""Linux signal numbers on x86, ARM and the generic ABI (not alpha/MIPS/SPARC)."""

_GLIBC_SIGRTMIN = 34  # glibc reserves 32 and 33; systemd prints RTMIN+n from here
_SIGRTMAX = 64


def signal_name(sig: object) -> str | None:
    """``11`` / ``"11"`` / ``"SEGV"`` / ``"SIGSEGV"`` -> ``"SIGSEGV"``; None if unknown."""
    if isinstance(sig, bool):
        return None
    if isinstance(sig, str):
        text = sig.strip().upper()
        if text.isdigit():
            return signal_name(int(text))
        if not text or text == "-":
            return None
        name = text if text.startswith("SIG") else f"SIG{text}"
        known = name in LINUX_SIGNALS.values() or re.fullmatch(r"SIGRTMIN\+\d+", name)
        return name if known else None
    if isinstance(sig, int):
        if sig in LINUX_SIGNALS:
            return LINUX_SIGNALS[sig]
        if _GLIBC_SIGRTMIN <= sig <= _SIGRTMAX:
            return f"SIGRTMIN+{sig - _GLIBC_SIGRTMIN}"
    return None
