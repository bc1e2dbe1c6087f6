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
