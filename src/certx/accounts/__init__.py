"""Accounts in one market: the broker that owns each (A1), cash and positions with their reservations (A2),
and units bought today that wait for T+1 (A3)."""
from __future__ import annotations


class Position:
    """Units of one product: `free` can be sold, `held` is reserved (by resting sells, block offers, auctions and
    surrender legs: A2, C1), `locked` was bought today and waits for the next trading day (A3). Only the
    engine's `Accounts` changes them."""

    __slots__ = ("free", "held", "locked")

    def __init__(self) -> None:
        self.free = 0
        self.held = 0
        self.locked = 0

    def total(self) -> int:
        return self.free + self.held + self.locked


class Wallet:
    """One account in one market. `cash` is free; `cash_held` is reserved by resting buys and bids (A2)."""

    __slots__ = ("account", "broker", "cash", "cash_held", "positions")

    def __init__(self, account: str, broker: str) -> None:
        self.account = account
        self.broker = broker
        self.cash = 0
        self.cash_held = 0
        self.positions: dict[str, Position] = {}

    def position(self, product: str) -> Position:
        pos = self.positions.get(product)
        if pos is None:
            pos = self.positions[product] = Position()
        return pos
