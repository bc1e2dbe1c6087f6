"""What a compressed Kafka batch may inflate to (DESIGN 7: a bad record never stops a service).

A sender's client compresses its batches as its user configures it (gzip, snappy, lz4, zstd: a Java client or
librdkafka with `compression.type` set), the broker keeps them so (the inbound topics' `compression.type` is the
producer's, so the broker only streams through a batch to check it, never holds it whole), and the gateway's
client inflates each batch whole in memory. So:
- every codec a standard client may send must be readable (aiokafka reads snappy, lz4 and zstd through cramjam):
  one that is not stopped the gateway at the sender's first compressed batch, again after every restart;
- a batch must not inflate without bound: a batch within the broker's 1 MiB inflates to 1 GiB with gzip and to
  tens of GiB with zstd (50 MiB of zeros take 1,622 bytes). Each codec here inflates into at most `LIMIT` bytes,
  else raises `Inflated`, before allocating more. A sender's largest honest batch, 1 MiB of JSON commands
  compressed, inflates to some 10-20 MiB.

`bound()` puts these readers where aiokafka's record batches look theirs up (its C extension's module and the
pure-Python one): aiokafka has no setting for it. The gateway, which reads what senders wrote, skips a batch that
raises `Inflated` (certx.kafka.gateway), having found where it lies with `where`; the other services read only what
certx's services wrote.
"""
from __future__ import annotations

import struct
import zlib
from types import ModuleType
from typing import Any

import cramjam

LIMIT = 64 * 1024 * 1024          # bytes a batch may inflate to
_XERIAL = b"\x82SNAPPY\x00"       # the framing Kafka's Java client gives snappy
_out: bytearray | None = None     # one buffer for every lz4 and zstd batch, made at the first


class Inflated(ValueError):
    """A compressed batch that would inflate past LIMIT."""

    def __init__(self, codec: str) -> None:
        super().__init__(f"a {codec} batch inflating past {LIMIT:,} bytes")
        self.codec = codec


def gzip(data: bytes | memoryview) -> bytes:
    out, rest = bytearray(), bytes(data)
    while rest:                                   # one gzip member after another
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out += inflate.decompress(rest, LIMIT - len(out) + 1)
        if len(out) > LIMIT or inflate.unconsumed_tail:
            raise Inflated("gzip")
        rest = inflate.unused_data
    return bytes(out)


def snappy(data: bytes | memoryview) -> bytes:
    view = memoryview(data)
    if bytes(view[:8]) != _XERIAL:
        return _snappy_blocks([view])
    blocks, cursor = [], 16                       # the magic, then two 4-byte version numbers
    while cursor < len(view):
        (size,) = struct.unpack_from("!i", view, cursor)
        blocks.append(view[cursor + 4:cursor + 4 + size])
        cursor += 4 + size
    return _snappy_blocks(blocks)


def _snappy_blocks(blocks: list[memoryview]) -> bytes:
    # a raw snappy block states its length first: add them up before inflating any
    if sum(cramjam.snappy.decompress_raw_len(bytes(b)) for b in blocks) > LIMIT:
        raise Inflated("snappy")
    return b"".join(bytes(cramjam.snappy.decompress_raw(bytes(b))) for b in blocks)


def lz4(data: bytes | memoryview) -> bytes:
    return _into(cramjam.lz4.decompress_into, data, "lz4")


def zstd(data: bytes | memoryview) -> bytes:
    return _into(cramjam.zstd.decompress_into, data, "zstd")


def _into(decompress_into, data: bytes | memoryview, codec: str) -> bytes:
    global _out
    if _out is None:
        _out = bytearray(LIMIT)
    try:
        n = decompress_into(bytes(data), _out)
    except cramjam.DecompressionError as exc:
        if "whole buffer" in str(exc):
            raise Inflated(codec) from None
        raise
    return bytes(memoryview(_out)[:n])


def where(exc: Inflated) -> tuple[Any, int, int] | None:
    """The partition, first offset and next offset of the batch that raised, read from the frames it came
    through: aiokafka's fetcher iterates a partition's batches in `_unpack_records` (locals `tp`, `next_batch`)
    and says nothing of them in the error. aiokafka is pinned (deploy/requirements.lock), and the gateway's test of
    a compression bomb fails if this stops finding it."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        local = tb.tb_frame.f_locals if tb.tb_frame.f_code.co_name == "_unpack_records" else {}
        batch, tp = local.get("next_batch"), local.get("tp")
        if batch is not None and tp is not None:
            found = (tp, batch.base_offset, batch.next_offset)
        tb = tb.tb_next
    return found


_READERS = {"gzip_decode": gzip, "snappy_decode": snappy, "lz4_decode": lz4, "zstd_decode": zstd}


def bound() -> None:
    """aiokafka's record batches inflate with these readers from now on (idempotent)."""
    from aiokafka.record import default_records

    modules: list[ModuleType] = [default_records]
    try:
        from aiokafka.record._crecords import default_records as compiled
        modules.append(compiled)
    except ImportError:                           # aiokafka without its C extension
        pass
    for module in modules:
        for name, reader in _READERS.items():
            setattr(module, name, reader)
