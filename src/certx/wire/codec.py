"""Bytes to messages and back. Decoding never raises: a bad record becomes a `Malformed` value that says
what was wrong (DESIGN 7), and the caller sends it to the dead-letter topic."""
from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from certx import money
from certx.wire.commands import AnyCommand
from certx.wire.events import AnyEvent


class Malformed(msgspec.Struct, frozen=True):
    """A record that could not be decoded, with the reason and the original bytes."""

    reason: str
    detail: str
    raw: bytes
    ref: str | None = None


_PRICES: dict[str, money.Amount] = {}


def _dec_hook(tp: type, obj: Any) -> Any:
    if tp is money.Amount:
        # A trade day quotes few distinct prices: parse each once (bounded, so junk cannot grow it).
        if type(obj) is str:
            amount = _PRICES.get(obj)
            if amount is None:
                amount = money.parse(obj, positive=True)
                if len(_PRICES) < 100_000:
                    _PRICES[obj] = amount
            return amount
        return money.parse(obj, positive=True)
    if tp is money.Fen:
        return money.parse(obj, positive=False)
    raise NotImplementedError(f"cannot decode {tp}")


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, money.Fen):
        return money.text(obj)
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


def schema_hook(tp: type) -> dict[str, Any]:
    if tp is money.Amount:
        return {"type": "string", "pattern": r"^\d{1,15}(\.\d{1,2})?$", "description": "positive yuan, at most 2 decimals (integer yuan also accepted)"}
    if tp is money.Fen:
        return {"type": "string", "pattern": r"^-?\d{1,15}(\.\d{1,2})?$", "description": "yuan, 2 decimals"}
    raise NotImplementedError


_command_decoder = msgspec.json.Decoder(AnyCommand, dec_hook=_dec_hook)
_event_decoder = msgspec.json.Decoder(AnyEvent, dec_hook=_dec_hook)
_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)
_loose = msgspec.json.Decoder()


def _ref(raw: bytes) -> str | None:
    """Best effort: the id of a record we could not decode, so a broker can match the answer."""
    try:
        obj = _loose.decode(raw)
    except Exception:  # noqa: BLE001 - bad UTF-8, deep nesting: no id, and never an exception
        return None
    if isinstance(obj, dict):
        ref = obj.get("order_id", obj.get("id"))
        return ref if isinstance(ref, str) else None
    return None


def decode_command(raw: bytes) -> AnyCommand | Malformed:
    try:
        return _command_decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return Malformed("malformed", str(exc), bytes(raw), _ref(raw))
    except Exception as exc:  # noqa: BLE001 - a decoder must never stop the service
        return Malformed("malformed", f"{type(exc).__name__}: {exc}", bytes(raw), _ref(raw))


def decode_event(raw: bytes) -> AnyEvent:
    return _event_decoder.decode(raw)


def encode(message: msgspec.Struct) -> bytes:
    return _encoder.encode(message)


def encode_lines(messages: list[msgspec.Struct]) -> bytes:
    """JSON Lines: one message per line."""
    buf = bytearray()
    for m in messages:
        _encoder.encode_into(m, buf, -1)
        buf += b"\n"
    return bytes(buf)


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MS = dt.timedelta(milliseconds=1)


def millis(at: dt.datetime) -> int:
    """Command time as epoch milliseconds, the unit of a Kafka record timestamp."""
    return (at - EPOCH) // _MS
