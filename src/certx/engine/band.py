"""Price bands (DOMAIN B1, B2): previous close × (1 ± ratio), each limit rounded half-up to the fen, and
a price equal to a limit is inside."""
from __future__ import annotations

from certx.money import half_up


def limits(reference: int, bps: int) -> tuple[int, int]:
    return half_up(reference * (10_000 - bps), 10_000), half_up(reference * (10_000 + bps), 10_000)


def ratio_bps(ratio: str) -> int:
    """'0.1' -> 1000 basis points. The wire pattern allows at most 4 decimals."""
    whole, _, frac = ratio.partition(".")
    return int(whole) * 10_000 + int((frac + "0000")[:4])
