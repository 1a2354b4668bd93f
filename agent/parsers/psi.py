"""Linux pressure stall information (PSI): how much of the time tasks waited for memory.

``/proc/pressure/memory`` (kernel 4.20+, when PSI is enabled)::

    some avg10=0.00 avg60=0.12 avg300=0.05 total=1234567
    full avg10=0.00 avg60=0.00 avg300=0.00 total=234567

"some" is the share of time in which at least one task stalled; ``avg60`` is the 60-second
average in percent, which is what the system sample reports.
"""

from __future__ import annotations

from dexpulse.schema import SampleBase, SystemSample

from . import ParseContext, ParseError, register


def parse_pressure_some_avg60(text: str) -> float:
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == "some":
            fields = dict(word.split("=", 1) for word in words[1:] if "=" in word)
            try:
                return min(100.0, max(0.0, float(fields["avg60"])))
            except (KeyError, ValueError):
                break
    raise ParseError("no 'some avg60=' line: is this /proc/pressure/memory?")


@register(
    "linux-psi",
    description="/proc/pressure/memory: share of time tasks stalled on memory",
    carries_time=False,
    example="cat /proc/pressure/memory",
)
def parse_psi(text: str, ctx: ParseContext) -> list[SampleBase]:
    return [SystemSample(ts=ctx.now, memory_pressure_percent=parse_pressure_some_avg60(text))]
