"""A traded product: its previous close, its bands, its book and today's statistics (P1, B1–B4, D3–D5)."""
from __future__ import annotations

from certx.books.listing import ListingBook
from certx.engine.band import limits
from certx.money import half_up


class Day:
    """Today's activity in one product. Values are fen (price × quantity)."""

    __slots__ = ("open", "high", "low", "listing_volume", "listing_value", "block_volume", "block_value",
                 "auction_volume", "auction_value", "last", "last_quantity")

    def __init__(self) -> None:
        self.open: int | None = None
        self.high: int | None = None
        self.low: int | None = None
        self.listing_volume = 0
        self.listing_value = 0
        self.block_volume = 0
        self.block_value = 0
        self.auction_volume = 0
        self.auction_value = 0
        # the latest listing trade (the market-data feed's last price); block and auction trades never set it,
        # as they never set the close (D4)
        self.last: int | None = None
        self.last_quantity = 0

    def listing_trade(self, price: int, quantity: int) -> None:
        if self.open is None:
            self.open = self.high = self.low = price
        elif price > self.high:
            self.high = price
        elif price < self.low:
            self.low = price
        self.listing_volume += quantity
        self.listing_value += price * quantity
        self.last = price
        self.last_quantity = quantity


class Product:
    __slots__ = ("name", "close", "listing_bps", "block_bps", "pending", "listing_limits", "block_limits",
                 "book", "day")

    def __init__(self, name: str, listing_bps: int | None, block_bps: int | None) -> None:
        self.name = name
        self.close: int | None = None          # the previous close: today's reference price
        self.listing_bps = listing_bps
        self.block_bps = block_bps
        self.pending: dict[str, int] = {}      # band changes waiting for the next day (B3)
        self.listing_limits: tuple[int, int] | None = None
        self.block_limits: tuple[int, int] | None = None
        self.book = ListingBook(name)
        self.day = Day()

    def rebuild_bands(self) -> None:
        """B1, B2 from the previous close; None where a band applies but no reference exists yet (B4)."""
        self.listing_limits = self._limits(self.listing_bps)
        self.block_limits = self._limits(self.block_bps)

    def _limits(self, bps: int | None) -> tuple[int, int] | None:
        if bps is None:
            return (0, 1 << 62)
        return None if self.close is None else limits(self.close, bps)

    def start_day(self) -> None:
        for mode, bps in self.pending.items():
            if mode == "listing":
                self.listing_bps = bps
            else:
                self.block_bps = bps
        self.pending = {}
        self.rebuild_bands()
        self.day = Day()

    def opening(self) -> int | None:
        """D3: the open is the first listing trade's price, else the previous close. Right at any time: before the
        close `close` is still the previous one, and after it, with no listing trade, it is carried over unchanged."""
        return self.day.open if self.day.open is not None else self.close

    def end_day(self) -> int | None:
        """D4: today's close is the listing VWAP rounded half-up, else the previous close carries over."""
        day = self.day
        if day.listing_volume:
            self.close = half_up(day.listing_value, day.listing_volume)
        return self.close
