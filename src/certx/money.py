"""Money as integer fen (DOMAIN U1).

On the wire money is a decimal string with at most two places, or an integer of yuan. Inside, it is an
integer number of fen from the moment it is decoded. `Fen` is an `int` subclass only so the codec knows to
write it back as a decimal string; arithmetic on it gives plain ints.

What a command may name is bounded (PROTOCOL: a strict contract), so that every amount the engine and the
settlement read model ever hold fits a 64-bit integer: a price at most 1,000,000 yuan and a quantity at most
10^10 units (certx.wire.commands) make a trade's value at most 10^18 fen; a deposit is at most 10^12 yuan, and
the engine keeps each market's total cash under 2^62 fen (certx.engine).
"""
from __future__ import annotations

import re


# A deposit that would take a market's cash past this is refused (`over_limit`): trades only move cash between
# accounts, so no balance can then leave a 64-bit integer.
MAX_MARKET_CASH = 2**62


class Fen(int):
    """An amount of money in fen that the wire shows as yuan ("54.22"). Zero allowed (a day's value)."""

    __slots__ = ()


class Price(Fen):
    """A price a command names (per tonne or per certificate): positive, at most 1,000,000 yuan."""

    __slots__ = ()
    DIGITS = 7          # whole yuan digits the wire allows
    MAX = 10**8         # fen


class Amount(Fen):
    """Cash a command moves (a deposit, a withdrawal): positive, at most 10^12 yuan."""

    __slots__ = ()
    DIGITS = 13
    MAX = 10**14


def pattern(kind: type[Price] | type[Amount]) -> str:
    r"""The wire form of a bounded amount as the JSON Schema says it (integers of yuan are also accepted): positive
    and at most MAX, which is 10^(DIGITS-1) yuan. Read alike by ECMA and Python validators: `[0-9]`, not `\d`
    (Python's takes fullwidth digits), and `$(?!\n)` (Python's `$` matches before a final newline)."""
    top = kind.DIGITS - 1
    assert kind.MAX == 10**top * 100, kind
    return (rf"^(?!0*(\.0{{1,2}})?$)([0-9]{{1,{top}}}|0[0-9]{{{top}}}|1{'0' * top}(?=(\.0{{1,2}})?$))"
            rf"(\.[0-9]{{1,2}})?$(?!\n)")


# re.ASCII: `\d` as the schema's (ECMA) reads it, the digits 0-9 alone (Python's also takes "５０" or "٥٠").
_WIRE = {Fen: re.compile(r"-?\d{1,30}(?:\.\d{1,2})?\Z", re.ASCII)}


def parse(value: object, kind: type[Fen] = Fen) -> Fen:
    """Read wire money as `kind`: Price and Amount are positive and bounded, Fen (an amount the engine
    published) may be zero or negative. Raises ValueError/TypeError with a message a broker can act on."""
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"money must be a decimal string or an integer, not {type(value).__name__} {value!r}")
    if isinstance(value, int):
        fen = value * 100
    elif isinstance(value, str):
        wire = _WIRE.get(kind)
        if wire is None:
            # the digits alone: a zero or an amount over MAX gets its own answer below
            wire = _WIRE[kind] = re.compile(rf"[0-9]{{1,{kind.DIGITS}}}(?:\.[0-9]{{1,2}})?\Z")
        if not wire.match(value):
            digits = f"at most {kind.DIGITS} digits and " if kind is not Fen else ""
            raise ValueError(f"money must be a decimal with {digits}at most 2 decimal places, got {value[:40]!r}")
        negative = value.startswith("-")
        whole, _, frac = value[negative:].partition(".")
        fen = int(whole) * 100 + int((frac + "00")[:2])
        fen = -fen if negative else fen
    else:
        raise TypeError(f"money must be a decimal string or an integer, not {type(value).__name__}")
    if kind is not Fen:
        if fen <= 0:
            raise ValueError(f"money must be positive, got {value!r}")
        if fen > kind.MAX:
            raise ValueError(f"at most {text(kind.MAX)} yuan, got {str(value)[:40]}")
    return kind(fen)


_TEXT: dict[int, str] = {}


def text(fen: int) -> str:
    """Fen as the wire's decimal string. Cached, since a trade day quotes few distinct prices; bounded,
    since amounts (price × quantity) are nearly all distinct."""
    s = _TEXT.get(fen)
    if s is None:
        sign = "-" if fen < 0 else ""
        whole, frac = divmod(abs(fen), 100)
        s = f"{sign}{whole}.{frac:02d}"
        if len(_TEXT) < 100_000:
            _TEXT[fen] = s
    return s


def half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-up, for non-negative values (DOMAIN B1, D4)."""
    return (2 * numerator + denominator) // (2 * denominator)
