"""Bounded request bodies: the size cap on the wire and the cap after gunzip."""

from __future__ import annotations

import asyncio
import gzip
import os
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterable

import pytest

from dexpulse.collector.body import BodyTooLarge, InvalidEncoding, gunzip_bounded, read_bounded

MiB = 1 << 20


class Chunks:
    """An async stream of chunks that records how many were pulled from it."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self.pulled = 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._stream()

    async def _stream(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            self.pulled += 1
            yield chunk

    @property
    def iterated(self) -> bool:
        return self.pulled > 0


def endless(chunk: bytes) -> Iterable[bytes]:
    while True:
        yield chunk


def read(chunks: Chunks, limit: int, content_length: str | None = None) -> bytes:
    async def run() -> bytes:
        return await read_bounded(aiter(chunks), limit, content_length)

    return asyncio.run(run())


def gzip_bomb(size: int, block: int = MiB) -> bytes:
    """``size`` zero bytes as one gzip member, compressed without holding them in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(block)
    parts = [compressor.compress(zeros) for _ in range(size // block)]
    parts.append(compressor.flush())
    return b"".join(parts)


# read_bounded


def test_body_of_exactly_the_limit_is_read_whole() -> None:
    chunks = Chunks([b"a" * 400, b"b" * 400, b"c" * 224])
    assert read(chunks, 1024) == b"a" * 400 + b"b" * 400 + b"c" * 224


def test_body_of_exactly_the_limit_with_matching_content_length_is_read_whole() -> None:
    assert read(Chunks([b"x" * 1024]), 1024, "1024") == b"x" * 1024


def test_body_one_byte_over_the_limit_is_refused() -> None:
    with pytest.raises(BodyTooLarge) as info:
        read(Chunks([b"a" * 1000, b"b" * 25]), 1024)
    assert info.value.limit == 1024
    assert "1024" in str(info.value)


def test_streamed_body_is_refused_as_soon_as_it_passes_the_limit() -> None:
    chunks = Chunks(endless(b"z" * 1024))
    with pytest.raises(BodyTooLarge):
        read(chunks, 10 * 1024)
    assert chunks.pulled == 11  # the 11th KiB passes the limit; nothing more is pulled


def test_understated_content_length_does_not_bypass_the_streamed_limit() -> None:
    chunks = Chunks(endless(b"z" * 1024))
    with pytest.raises(BodyTooLarge):
        read(chunks, 4096, "10")
    assert chunks.pulled == 5


def test_declared_content_length_above_the_limit_is_refused_before_reading() -> None:
    chunks = Chunks([b"x" * 10])
    with pytest.raises(BodyTooLarge) as info:
        read(chunks, 1024, "1025")
    assert info.value.limit == 1024
    assert not chunks.iterated


@pytest.mark.parametrize("content_length", ["abc", "", "12abc", "1.5", "0x10"])
def test_non_numeric_content_length_is_invalid_encoding(content_length: str) -> None:
    chunks = Chunks([b"x"])
    with pytest.raises(InvalidEncoding):
        read(chunks, 1024, content_length)
    assert not chunks.iterated


def test_empty_body_reads_as_empty_bytes() -> None:
    assert read(Chunks([]), 1024, "0") == b""
    assert read(Chunks([b"", b""]), 0) == b""


# gunzip_bounded


def test_gzip_round_trip() -> None:
    payload = os.urandom(50_000) + b'{"kind": "wifi"}' * 1000
    assert gunzip_bounded(gzip.compress(payload), len(payload) * 2) == payload


def test_gunzip_output_exactly_at_the_limit_passes() -> None:
    payload = b"0123456789" * 1000
    assert gunzip_bounded(gzip.compress(payload), len(payload)) == payload


def test_gunzip_output_one_byte_over_the_limit_fails() -> None:
    payload = b"0123456789" * 1000 + b"!"
    with pytest.raises(BodyTooLarge) as info:
        gunzip_bounded(gzip.compress(payload), len(payload) - 1)
    assert info.value.limit == len(payload) - 1


def test_gzip_bomb_is_stopped_at_the_limit_with_bounded_memory() -> None:
    limit = 10 * MiB
    bomb = gzip_bomb(200 * MiB)
    assert len(bomb) < MiB  # a small body that inflates 200-fold and more
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge) as info:
            gunzip_bounded(bomb, limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.limit == limit
    assert peak < 1.5 * limit, f"peak allocation {peak / MiB:.1f} MiB for a {limit // MiB} MiB cap"


@pytest.mark.parametrize("cut", [5, 20, -8, -1], ids=["in-header", "in-data", "no-size", "1-byte"])
def test_truncated_gzip_stream_is_invalid_encoding(cut: int) -> None:
    whole = gzip.compress(os.urandom(4096))
    with pytest.raises(InvalidEncoding):
        gunzip_bounded(whole[:cut], 1 * MiB)


@pytest.mark.parametrize(
    "data",
    [b"", b"this is not gzip at all", b"\x1f\x8b\x08garbage-after-magic", zlib.compress(b"hi")],
    ids=["empty", "text", "bad-header", "zlib-not-gzip"],
)
def test_garbage_is_invalid_encoding(data: bytes) -> None:
    with pytest.raises(InvalidEncoding):
        gunzip_bounded(data, 1 * MiB)


def test_corrupted_checksum_is_invalid_encoding() -> None:
    whole = bytearray(gzip.compress(b"hello, collector" * 100))
    whole[-5] ^= 0xFF  # inside the CRC-32 of the trailer
    with pytest.raises(InvalidEncoding):
        gunzip_bounded(bytes(whole), 1 * MiB)


@pytest.mark.parametrize(
    "trailer",
    [b"x", b"\x00" * 8, gzip.compress(b"second member")],
    ids=["byte", "zeros", "second-member"],
)
def test_data_after_the_gzip_member_is_invalid_encoding(trailer: bytes) -> None:
    with pytest.raises(InvalidEncoding):
        gunzip_bounded(gzip.compress(b"first member") + trailer, 1 * MiB)


def test_empty_gzip_member_is_valid_and_inflates_to_nothing() -> None:
    assert gunzip_bounded(gzip.compress(b""), 1024) == b""
    assert gunzip_bounded(gzip.compress(b""), 0) == b""
