"""Block offers (DOMAIN M2): negotiated, public or addressed to one account, taken by `order.accept`.
They never touch the listing book."""
from __future__ import annotations


class Offer:
    __slots__ = ("order_id", "account", "product", "is_buy", "price", "remaining", "counterparty", "partial")

    def __init__(self, order_id: str, account: str, product: str, is_buy: bool, price: int, remaining: int,
                 counterparty: str | None, partial: bool) -> None:
        self.order_id = order_id
        self.account = account
        self.product = product
        self.is_buy = is_buy
        self.price = price
        self.remaining = remaining
        self.counterparty = counterparty
        self.partial = partial


class BlockBoard:
    __slots__ = ("offers",)

    def __init__(self) -> None:
        self.offers: dict[str, Offer] = {}

    def check(self) -> None:
        """The board's own invariants, for the tests: each offer is filed under its id and still offers something at
        a price (a taken or cancelled offer leaves the board). `assert`s, gone under `python -O`."""
        for order_id, offer in self.offers.items():
            assert offer.order_id == order_id, f"offer {offer.order_id} filed as {order_id}"
            assert offer.remaining > 0 and offer.price > 0, \
                f"offer {order_id}: {offer.remaining} at {offer.price} fen rests"
