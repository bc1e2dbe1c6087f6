"""Bytes to messages and back. Decoding never raises.

Two command decoders, for two sources:
- `decode_command` reads what a sender wrote: the strict contract (PROTOCOL). A record that is not a JSON
  object becomes `NotAnObject` (it goes to the dead-letter topic alone); an object that breaks the contract
  (an unknown field or type, a duplicate key, a float price, a name with a control character, a number out of
  bounds) becomes `Malformed`, which says which field and carries what could be read of the command (its id,
  type and account) so that it can be answered.
- `decode_logged` reads `certx.commands`, which only the gateway writes, in the canonical encoding it wrote:
  the same types, plus the gateway's `Refusal`, without the sender checks that the gateway already made.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import msgspec

from certx import money
from certx.wire import commands as c
from certx.wire.events import AnyEvent
from certx.wire.marketdata import Quote
from certx.wire.routing import market_of_product
from certx.wire.settlements import AnySettlement

MAX_RECORD = 64 * 1024          # bytes: a command is a few hundred; anything near a megabyte is an attack


class NotAnObject(msgspec.Struct, frozen=True):
    """Bytes that are not a JSON object: no command can be read from them."""

    detail: str


class Malformed(msgspec.Struct, frozen=True):
    """A JSON object that breaks the contract, and what could safely be read of it to answer it."""

    detail: str
    ref: str = ""
    command: str = ""
    account: str = ""
    fields: dict[str, str] = {}     # what else could be read: the actor, and the fields that route it

ORDER_TYPES = frozenset(t.__struct_config__.tag for t in c.AnyCommand.__args__ if issubclass(t, c.Order))
COMMAND_TYPES = frozenset(t.__struct_config__.tag for t in c.AnyCommand.__args__)
_FILTERED = (c.OrderNew, c.GecMatch)        # the commands with a GEC filter, whose hours the contract checks

_PRICES: dict[tuple[type, str], money.Fen] = {}


def _dec_hook(tp: type, obj: Any) -> Any:
    if tp is money.Price or tp is money.Amount or tp is money.Fen:
        # A trade day quotes few distinct prices: parse each once (bounded, so junk cannot grow it).
        if type(obj) is str:
            key = (tp, obj)
            amount = _PRICES.get(key)
            if amount is None:
                amount = money.parse(obj, tp)
                if len(_PRICES) < 100_000:
                    _PRICES[key] = amount
            return amount
        return money.parse(obj, tp)
    raise NotImplementedError(f"cannot decode {tp}")


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, money.Fen):
        return money.text(obj)
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


def schema_hook(tp: type) -> dict[str, Any]:
    if tp is money.Price or tp is money.Amount:
        return {"type": "string", "pattern": money.pattern(tp),
                "description": f"positive yuan, at most 2 decimals, at most {money.text(tp.MAX)} "
                               "(an integer of yuan is also accepted)"}
    if tp is money.Fen:
        return {"type": "string", "pattern": r"^-?\d{1,30}(\.\d{2})?$", "description": "yuan, 2 decimals"}
    raise NotImplementedError


_strict = msgspec.json.Decoder(c.AnyCommand, dec_hook=_dec_hook)
_logged = msgspec.json.Decoder(c.LoggedCommand, dec_hook=_dec_hook)
_event_decoder = msgspec.json.Decoder(AnyEvent, dec_hook=_dec_hook)
_settlement_decoder = msgspec.json.Decoder(AnySettlement, dec_hook=_dec_hook)
_quote_decoder = msgspec.json.Decoder(Quote, dec_hook=_dec_hook)
_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)
_loose = msgspec.json.Decoder()
_plain = msgspec.json.Encoder()
_ID = re.compile(rb'"(order_id|id)"\s*:\s*"([^"\\]{1,128})"')


_MARK = "\ufeff".encode()


def _after_mark(raw: bytes) -> object | None:
    """What follows a byte order mark, read loosely, when the record starts with one and is within the limit."""
    if raw[:3] != _MARK or len(raw) > MAX_RECORD:
        return None
    try:
        return _loose.decode(raw[3:])
    except Exception:  # noqa: BLE001 - not JSON after the mark either: a dead letter
        return None


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # msgspec, like most JSON readers, lets the last of two equal keys win: a second `actor` would.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _DuplicateKey(key)
    return obj


def _keys_all_read(raw: bytes, obj: dict[str, Any]) -> bool:
    """True only if no key of `raw` was lost to a later equal one in `obj` (msgspec's reading of it); False
    leaves the question to the exact, slower reading by `_unique_keys` (a third of a gateway's time per record).
    Every key written has one colon after it, and any other colon lies in a string. Without a backslash in
    `raw`, each string reads as its bytes, so `obj` written out again has a colon per key it kept plus those of
    the strings it kept: as many as `raw` only if every key written was kept, none repeated. (An escape such as
    `\\u003a` would let a colon in `obj` stand for none in `raw`, and hide a repeat.)"""
    return b"\\" not in raw and raw.count(b":") == _plain.encode(obj).count(b":")


# What a refusal reads of a record (`malformed` in decode_command), each value kept as it was written.
_HEADS = ("type", "order_id", "id", "account", "actor", "market", "product", "target", "auction_id")
_heads = msgspec.json.Decoder(msgspec.defstruct("Heads", [(k, msgspec.Raw, msgspec.Raw(b"null")) for k in _HEADS]))


def _heads_of(raw: bytes) -> dict[str, Any]:
    """The fields a refusal reads, of a JSON object that will be refused unread (over MAX_RECORD), or whose other
    values msgspec cannot hold (a number beyond a float, or of over 4,300 digits: JSON all the same). msgspec
    skips the rest unread: a megabyte in 1 ms, building nothing. Raises as msgspec does if `raw` is no object."""
    heads = _heads.decode(raw)
    obj = {}
    for key in _HEADS:
        try:
            obj[key] = _loose.decode(getattr(heads, key))
        except msgspec.DecodeError:
            pass
    return obj


def _name(value: Any) -> str:
    """`value` if it is a name the contract allows (safe to echo in an answer), else ''."""
    return value if type(value) is str and 0 < len(value) <= 128 and not c.UNPRINTABLE.search(value) else ""


def say(text: str) -> str:
    """An error message safe to publish: it may quote a sender's field name, so strip control characters
    and keep it short."""
    return c.UNPRINTABLE.sub("?", text)[:300]


def decode_command(raw: bytes) -> c.AnyCommand | Malformed | NotAnObject:
    """A sender's record, read by the strict contract."""
    marked = False          # a byte order mark before the object, seen only where msgspec refuses the record
    try:
        # A record over the limit is refused: read only what its answer needs (read whole, a megabyte cost 40 ms).
        obj = _heads_of(raw) if len(raw) > MAX_RECORD else _loose.decode(raw)
    except RecursionError:
        if raw.lstrip()[:1] == b"{":
            # An object nested too deeply to read: still answered, with its id when one shows near the start.
            found = _ID.search(raw[:4096])
            return Malformed("nested too deeply to read", ref=_name(found.group(2).decode("utf-8", "replace")) if found else "")
        return NotAnObject("not a JSON object: nested too deeply to read")
    except msgspec.ValidationError as exc:
        try:
            obj = _heads_of(raw)      # a number out of range (the typed decode below names its field)
        except Exception:  # noqa: BLE001 - not an object
            return NotAnObject(say(f"not JSON: {exc}"))
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        # A byte order mark before an object (a Windows tool's habit) makes it no JSON text (RFC 8259, 8.1), but
        # its sender still deserves an answer with its ref, not a dead letter alone.
        obj = _after_mark(raw)
        if obj is None:
            return NotAnObject(say(f"not JSON: {exc}"))
        marked = True
    except Exception as exc:  # noqa: BLE001 - a decoder must never stop a service
        return NotAnObject(say(f"not JSON: {type(exc).__name__}"))
    if type(obj) is not dict:
        return NotAnObject(f"a JSON {type(obj).__name__}, not an object")

    def malformed(detail: str) -> Malformed:
        kind = obj.get("type")
        kind = kind if type(kind) is str and kind in COMMAND_TYPES else ""
        hints = {k: v for k in ("actor", "market", "product", "target", "auction_id", "order_id")
                 if (v := _name(obj.get(k)))}
        # The command's id: `order_id` for an order, `id` for any other (a stray `order_id` is not its ref).
        ref = obj.get("id") if kind and kind not in ORDER_TYPES else obj.get("order_id", obj.get("id"))
        return Malformed(say(detail), ref=_name(ref), command=kind, account=_name(obj.get("account")), fields=hints)

    if len(raw) > MAX_RECORD:
        return malformed(f"a record of {len(raw):,} bytes is over the {MAX_RECORD:,}-byte limit")
    if marked:
        return malformed("a byte order mark (U+FEFF) before the object: send the JSON object alone (RFC 8259, 8.1)")
    if not _keys_all_read(raw, obj):
        try:
            json.loads(raw, object_pairs_hook=_unique_keys)
        except _DuplicateKey as dup:
            return malformed(f"duplicate key `{dup.args[0]}`")
        except (ValueError, RecursionError):
            pass   # msgspec read it; the typed decode below says what is wrong
    try:
        cmd = _strict.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return malformed(str(exc))
    except Exception as exc:  # noqa: BLE001
        return malformed(f"{type(exc).__name__}: {exc}")
    wrong = c.misplaced_term(cmd, market_of_product(cmd.product)) if type(cmd) is c.OrderNew else None
    if wrong is None and _may_hide(raw):
        where = _unprintable(msgspec.to_builtins(cmd, enc_hook=_enc_hook))
        wrong = where and f"Expected a name: no control, separator or character that prints as nothing - at `{where}`"
    if wrong is None and type(cmd) in _FILTERED and cmd.filter is not None:
        wrong = c.hours_fault(cmd.filter)
    if wrong:
        return malformed(wrong)
    return cmd


def _may_hide(raw: bytes) -> bool:
    """Whether a string of the record may hold a character no name may (c.UNPRINTABLE), from its bytes alone. Raw
    controls below U+0020 are no JSON inside a string (the decode refused them), and between tokens only the
    whitespace tab, line feed and carriage return are allowed, which no string then holds. So an ASCII record
    without an escape hides one only as a DEL; one with other UTF-8 shows it in its text."""
    if b"\\" in raw:
        return True
    if raw.isascii():
        return b"\x7f" in raw
    return any(found.group() not in "\t\n\r" for found in c.UNPRINTABLE.finditer(raw.decode()))


def _unprintable(value: Any, path: str = "$") -> str | None:
    """The path of the first string in `value` (a command as builtins) that holds a character no name may
    (c.UNPRINTABLE), a dict's keys too (a surrender's `cea` is {product: quantity})."""
    if type(value) is str:
        return path if c.UNPRINTABLE.search(value) else None
    items = value.items() if type(value) is dict else enumerate(value) if type(value) is list else ()
    for key, item in items:
        if type(key) is str and c.UNPRINTABLE.search(key):
            return path
        found = _unprintable(item, f"{path}.{key}" if type(key) is str else f"{path}[{key}]")
        if found:
            return found
    return None


def decode_logged(raw: bytes) -> c.LoggedCommand | None:
    """A record of `certx.commands`; None if it is not one (only a writer other than the gateway, or a bug,
    could put such a record there: the matcher dead-letters it)."""
    try:
        return _logged.decode(raw)
    except Exception:  # noqa: BLE001 - never stop the matcher
        return None


def decode_event(raw: bytes) -> AnyEvent:
    return _event_decoder.decode(raw)


def decode_settlement(raw: bytes) -> AnySettlement:
    return _settlement_decoder.decode(raw)


def decode_quote(raw: bytes) -> Quote:
    return _quote_decoder.decode(raw)


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
