"""A record on `certx.dlq`: what could not be decoded, why, where it was, and its original bytes (base64 on
the wire), so nothing is lost (DESIGN 7)."""
from __future__ import annotations

import msgspec


class DeadLetter(msgspec.Struct, kw_only=True, tag="dead_letter", tag_field="type"):
    reason: str
    detail: str
    source: str            # the topic the record came from
    partition: int
    offset: int
    timestamp: int | None  # the record's timestamp, epoch ms
    key: str | None
    original: bytes        # base64 in JSON
    ref: str | None = None # the command's id or order_id, when it could be read
    service: str = "matcher"
