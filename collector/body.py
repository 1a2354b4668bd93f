"""Reading request bodies within bounds: a size cap on the wire and a cap after gunzip.

The decompressor is asked for at most ``limit + 1`` bytes at a time, so a gzip bomb (a small
body that inflates to gigabytes) is stopped as soon as it passes the cap, having cost at most
``limit`` bytes of memory.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator


class BodyTooLarge(Exception):
    def __init__(self, limit: int, what: str) -> None:
        super().__init__(f"{what} exceeds the limit of {limit} bytes")
        self.limit = limit


class InvalidEncoding(Exception):
    pass


async def read_bounded(
    chunks: AsyncIterator[bytes], limit: int, content_length: str | None
) -> bytes:
    """Collect a streamed body, failing as soon as it exceeds ``limit`` bytes."""
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise InvalidEncoding("Content-Length is not a number") from None
        if declared > limit:
            raise BodyTooLarge(limit, "request body")
    pieces: list[bytes] = []
    size = 0
    async for chunk in chunks:
        pieces.append(chunk)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit, "request body")
    return b"".join(pieces)


def gunzip_bounded(data: bytes, limit: int, step: int = 256 * 1024) -> bytes:
    """Inflate one gzip member, refusing output beyond ``limit`` bytes and trailing data.

    Output is taken ``step`` bytes at a time into a list (no growing buffer that briefly holds
    twice its size), so refusing a bomb costs at most about ``limit`` bytes.
    """
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    pieces: list[bytes] = []
    size = 0
    pending = data
    try:
        while not inflater.eof:
            piece = inflater.decompress(pending, min(step, limit + 1 - size))
            pieces.append(piece)
            size += len(piece)
            if size > limit:
                raise BodyTooLarge(limit, "decompressed body")
            pending = inflater.unconsumed_tail
            if not inflater.eof and not piece and not pending:
                raise InvalidEncoding("gzip stream is truncated")
    except zlib.error as exc:
        raise InvalidEncoding(f"body is not valid gzip: {exc}") from None
    if inflater.unused_data:
        raise InvalidEncoding("unexpected data after the gzip stream")
    return b"".join(pieces)
