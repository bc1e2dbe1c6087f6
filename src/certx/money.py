"""Money as integer fen (DOMAIN U1).

On the wire money is a decimal string with at most two places, or an integer of yuan. Inside, it is an
integer number of fen from the moment it is decoded. `Fen` is an `int` subclass only so the codec knows to
write it back as a decimal string; arithmetic on it gives plain ints.
"""
from __future__ import annotations

import re

_DECIMAL = re.compile(r"\d{1,15}(?:\.\d{1,2})?\Z")


class Fen(int):
    """An amount of money in fen that the wire shows as yuan ("54.22"). Zero allowed (a day's value)."""

    __slots__ = ()


class Amount(Fen):
    """Money a command names: a price, a deposit. Must be positive."""

    __slots__ = ()


def parse(value: object, positive: bool = True) -> Fen:
    """Read wire money. Raises ValueError/TypeError with a message a broker can act on."""
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"money must be a decimal string or an integer, not {type(value).__name__} {value!r}")
    if isinstance(value, int):
        fen = value * 100
    elif isinstance(value, str):
        negative = value.startswith("-")
        if not _DECIMAL.match(value[negative:]):
            raise ValueError(f"money must be a decimal with at most 2 decimal places, got {value!r}")
        whole, _, frac = value[negative:].partition(".")
        fen = int(whole) * 100 + int((frac + "00")[:2])
        fen = -fen if negative else fen
    else:
        raise TypeError(f"money must be a decimal string or an integer, not {type(value).__name__}")
    if positive and fen <= 0:
        raise ValueError(f"money must be positive, got {value!r}")
    return Amount(fen) if positive else Fen(fen)


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
