"""The configurable market rules, in one table (DOMAIN: every rule marked *configurable*).

The defaults are DOMAIN.md's. A deployment passes its own `Rules` to the engine; nothing else in the code
carries these numbers.
"""
from __future__ import annotations

import msgspec

# minutes after local midnight (market time is UTC+8)
Window = tuple[int, int]


class Sizes(msgspec.Struct, frozen=True):
    """S1, S2, U2: the quantity an order may have. `maximum=None` means no upper limit."""

    minimum: int = 1
    maximum: int | None = None
    lot: int = 1


class MarketRules(msgspec.Struct, frozen=True):
    listing_band_bps: int | None = None     # B1: ±ratio in basis points, None = no band
    block_band_bps: int | None = None       # B2
    block_enabled: bool = False             # M2
    listing_sizes: Sizes = Sizes()
    block_sizes: Sizes = Sizes()
    tick: int = 1                           # U1: fen
    listing_sessions: tuple[Window, ...] = ((9 * 60 + 30, 11 * 60 + 30), (13 * 60, 15 * 60))   # D1
    block_sessions: tuple[Window, ...] = ((13 * 60, 15 * 60),)
    t_plus_one: bool = False                # A3


class Rules(msgspec.Struct, frozen=True):
    cea: MarketRules = MarketRules(
        listing_band_bps=1000, block_band_bps=3000, block_enabled=True,
        listing_sizes=Sizes(1, 99_999), block_sizes=Sizes(100_000, None), t_plus_one=True,
    )
    ccer: MarketRules = MarketRules()
    gec: MarketRules = MarketRules()
    ccer_product_key: str = "pooled"        # P2: "pooled" (one "CCER" book) or "project_vintage"
    ccer_offset_cap_bps: int = 500          # C1: CCER at most 5% of the total surrendered
    lift_depth: int = 5                     # M1(b): a lift may reach the best 5 price levels
    gec_validity_months: int = 24           # G2
    gec_legacy_valid_until: str = "2025-12" # G2: produced before 2024-01 stays valid through this month
    gec_legacy_before: str = "2024-01"
    utc_offset_minutes: int = 8 * 60        # market time, China Standard Time

    def market(self, market: str) -> MarketRules:
        return {"CEA": self.cea, "CCER": self.ccer, "GEC": self.gec}[market]


DEFAULT = Rules()
