"""A record on `certx.dlq`: bytes that are not a JSON object (so no command could be read from them to answer),
why, and where they were (DESIGN 7).

A dead letter always fits the broker's record limit, however large the original: it keeps the first
`PREFIX` bytes (base64 on the wire) with the original's length and SHA-256, enough to find it in the source
topic, to recognise it again, and to show what it was.
"""
from __future__ import annotations

import hashlib

import msgspec

from certx.wire.reasons import DeadLetterReason, DeadLetterReasonText

PREFIX = 4096


class DeadLetter(msgspec.Struct, kw_only=True, tag="dead_letter", tag_field="type"):
    reason: DeadLetterReasonText
    detail: str
    source: str            # the topic the record came from
    partition: int
    offset: int
    timestamp: int | None  # the record's timestamp, epoch ms
    length: int            # of the original value, in bytes
    sha256: str            # of the original value, hex
    original: bytes        # its first PREFIX bytes; base64 in JSON
    service: str


def dead_letter(value: bytes | None, reason: DeadLetterReason, detail: str, source: str, partition: int, offset: int,
                timestamp: int | None, service: str) -> DeadLetter:
    value = value or b""
    return DeadLetter(reason=reason, detail=detail, source=source, partition=partition, offset=offset,
                      timestamp=timestamp, length=len(value), sha256=hashlib.sha256(value).hexdigest(),
                      original=bytes(value[:PREFIX]), service=service)
