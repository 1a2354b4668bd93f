"""Writing a run to disk: the batches as JSON Lines in arrival order, the truth as JSON.

Why JSON Lines of wire-format batches: it is what ``dexpulse collector replay`` reads and
what any other tool can read line by line without loading a week of data. A path ending in
``.gz`` is written gzip-compressed (about a tenth of the size) with a zero timestamp in the
gzip header, so equal runs give equal files.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .engine import Simulation


@contextmanager
def open_output(path: Path) -> Iterator[IO[str]]:
    if path.suffix == ".gz":
        with (
            path.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=3) as packed,
            io.TextIOWrapper(packed, encoding="utf-8", newline="\n") as text,
        ):
            yield text
    else:
        with path.open("w", encoding="utf-8", newline="\n") as text:
            yield text


def write_batches(sim: Simulation, out: IO[str]) -> int:
    """Run the simulation, writing one batch per line; the number of batches."""
    count = 0
    line = sim.line
    buffer: list[str] = []
    for batch in sim.batches():
        buffer.append(line(batch))
        count += 1
        if len(buffer) >= 2000:
            out.write("\n".join(buffer) + "\n")
            buffer.clear()
    if buffer:
        out.write("\n".join(buffer) + "\n")
    return count


def write_truth(path: Path, truth: dict[str, Any]) -> None:
    path.write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
