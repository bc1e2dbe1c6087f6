"""Price bands (DOMAIN B1, B2): previous close × (1 ± ratio), each limit rounded half-up to the fen, and
a price equal to a limit is inside."""
from __future__ import annotations

from certx.engine.rejection import Rejected
from certx.money import half_up
from certx.wire.reasons import Reason


def limits(reference: int, bps: int) -> tuple[int, int]:
    return half_up(reference * (10_000 - bps), 10_000), half_up(reference * (10_000 + bps), 10_000)


def ratio_bps(ratio: str) -> int:
    """'0.1' -> 1000 basis points. The wire pattern allows at most 4 decimals."""
    whole, _, frac = ratio.partition(".")
    return int(whole) * 10_000 + int((frac + "0000")[:4])


def within(band: tuple[int, int] | None, price: int, product: str) -> None:
    """B1, B2: a price inside the day's band, its limits included; B4: no band without a reference price."""
    if band is None:
        raise Rejected(Reason.no_reference_price, product)
    if price < band[0] or price > band[1]:
        raise Rejected(Reason.price_out_of_band, f"{price} fen outside [{band[0]}, {band[1]}]")
