"""One-way bidding (DOMAIN M3): a seller's auction of a fixed quantity, and the sealed bids it receives.

At the close the quantity goes to the highest prices first, earlier bids first at equal prices, each bid at its
own price; the last bid served may be filled in part.
"""
from __future__ import annotations


class SealedBid:
    __slots__ = ("order_id", "account", "price", "quantity")

    def __init__(self, order_id: str, account: str, price: int, quantity: int) -> None:
        self.order_id = order_id
        self.account = account
        self.price = price
        self.quantity = quantity


class Auction:
    __slots__ = ("auction_id", "product", "seller", "quantity", "reserve", "closes_at_ms", "bids")

    def __init__(self, auction_id: str, product: str, seller: str, quantity: int, reserve: int,
                 closes_at_ms: int) -> None:
        self.auction_id = auction_id
        self.product = product
        self.seller = seller
        self.quantity = quantity              # for sale; the seller's units are held for it from the open
        self.reserve = reserve                # fen: no bid below it is accepted
        self.closes_at_ms = closes_at_ms
        self.bids: list[SealedBid] = []       # in arrival order

    def allocate(self) -> list[tuple[SealedBid, int]]:
        """Every bid with the quantity it gets (possibly 0), in priority order: price high to low, then
        arrival (the sort is stable)."""
        left = self.quantity
        out: list[tuple[SealedBid, int]] = []
        for bid in sorted(self.bids, key=_price, reverse=True):
            filled = min(left, bid.quantity)
            left -= filled
            out.append((bid, filled))
        return out

    def check(self) -> None:
        """The auction's own invariants, for the tests: a quantity for sale at a reserve price; each sealed bid is
        an order of its own, for at most the quantity, at or above the reserve (M3). `assert`s, gone under
        `python -O`."""
        assert self.quantity > 0 and self.reserve > 0, f"{self.auction_id}: {self.quantity} at {self.reserve} fen"
        ids = [bid.order_id for bid in self.bids]
        assert len(set(ids)) == len(ids), f"{self.auction_id}: a bid id twice in {ids}"
        for bid in self.bids:
            assert 0 < bid.quantity <= self.quantity, f"{self.auction_id}: {bid.order_id} bids for {bid.quantity}"
            assert bid.price >= self.reserve, f"{self.auction_id}: {bid.order_id} bids {bid.price} below the reserve"


def _price(bid: SealedBid) -> int:
    return bid.price
