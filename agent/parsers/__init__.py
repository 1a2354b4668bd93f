"""Pure parsers of captured OS outputs: text in, wire-contract samples out.

Every parser is registered here under the format name that ``dexpulse agent parse`` accepts,
so support staff can run any of them on a file a user sent in, on any OS. Parsers do no IO and
read no clock: the caller supplies a :class:`ParseContext` with the time to stamp on readings
whose text carries none (``now``), the year for log lines that omit it, and the boot time for
kernel timestamps that count seconds since boot.

A parser that finds nothing of its format in the text raises :class:`ParseError` with a
message for a person; one that finds a well-formed "nothing here" (a Wi-Fi interface that is
not connected, an empty crash list) returns what the format says (a disconnected WifiSample,
an empty list).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TypeVar

from dexpulse.schema import SampleBase


class ParseError(ValueError):
    """The text is not (or no longer) of the expected format."""


@dataclass(frozen=True)
class ParseContext:
    now: datetime
    """Stamped as ``ts`` on readings whose text carries no time of its own."""
    year: int | None = None
    """For log lines without a year (syslog, CUPS); defaults to ``now``'s year."""
    boot_time: datetime | None = None
    """Wall-clock boot time, to place dmesg's seconds-since-boot; None leaves them unplaced."""
    local_tz: tzinfo = UTC
    """Zone of local timestamps in the text (syslog, CUPS, journal short format)."""

    @property
    def log_year(self) -> int:
        return self.year if self.year is not None else self.now.year


Parser = Callable[[str, ParseContext], Sequence[SampleBase]]
P = TypeVar("P", bound=Parser)


@dataclass(frozen=True)
class Format:
    name: str
    parse: Parser
    description: str
    carries_time: bool
    """True if the text itself says when things happened; else ``ts`` is ``ctx.now``."""
    example: str = field(default="", repr=False)
    """The command or file that produces this format."""


FORMATS: dict[str, Format] = {}


def register(
    name: str, *, description: str, carries_time: bool, example: str = ""
) -> Callable[[P], P]:
    """Register ``parse(text, ctx) -> list[sample]`` under ``name`` (once)."""

    def add(parse: P) -> P:
        if name in FORMATS:
            raise ValueError(f"format {name!r} registered twice")
        FORMATS[name] = Format(name, parse, description, carries_time, example)
        return parse

    return add


def load_all() -> dict[str, Format]:
    """Import every parser module of this package, registering all formats; the registry."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return FORMATS


def context_now() -> ParseContext:
    return ParseContext(now=datetime.now(UTC))
