"""What the accounts of a built range hold, as the builder's own commands leave them, and what each may still
commit today.

The builder never asks the engine: it knows every deposit, issuance, trade and surrender it writes, so it can
keep the balances itself (`Holdings`) and never write an order an account cannot reserve (A2). Within a day it
counts every commitment as spent, releases included (`Budget`): an order that rests and expires, or is
cancelled, gives back at the close what it held, but the budget does not count on it, so it never over-promises.
Bought CEA waits for the next CEA open before it counts as free (A3); CCER does not (the rule table's CCER
market has no T+1).
"""
from __future__ import annotations

import random
from typing import NamedTuple


class Fill(NamedTuple):
    """One trade the builder designed: who buys from whom, what, at which price (fen)."""

    market: str
    product: str
    buyer: str
    seller: str
    price: int
    quantity: int


class Holdings:
    def __init__(self) -> None:
        self.cash: dict[tuple[str, str], int] = {}       # (account, market) -> fen
        self.units: dict[tuple[str, str], int] = {}      # (account, product) -> free units
        self.locked: list[tuple[str, str, int]] = []     # CEA bought today: free at the next CEA open (A3)

    def deposit(self, account: str, market: str, amount: int) -> None:
        self.cash[account, market] = self.cash.get((account, market), 0) + amount

    def issue(self, account: str, product: str, quantity: int) -> None:
        self.units[account, product] = self.units.get((account, product), 0) + quantity

    def open_cea(self) -> None:
        """A3: what was bought before this CEA session may now be sold or surrendered."""
        for account, product, quantity in self.locked:
            self.issue(account, product, quantity)
        self.locked = []

    def settle(self, fills: list[Fill]) -> None:
        """A4: each trade moves the buyer's cash and the seller's units together."""
        for f in fills:
            value = f.price * f.quantity
            self.cash[f.buyer, f.market] -= value
            self.cash[f.seller, f.market] = self.cash.get((f.seller, f.market), 0) + value
            if f.market == "GEC":
                continue                         # serials are the GEC plan's; bought ones are cancelled (G1)
            self.units[f.seller, f.product] -= f.quantity
            if f.market == "CEA":
                self.locked.append((f.buyer, f.product, f.quantity))
            else:
                self.issue(f.buyer, f.product, f.quantity)

    def take(self, account: str, product: str, quantity: int) -> None:
        """Units that leave for good (C1: surrendered)."""
        self.units[account, product] -= quantity

    def free(self, account: str, product: str) -> int:
        return self.units.get((account, product), 0)


class Budget:
    """What each account of one market may still commit today: cash for buys, free units for sells.

    Who takes a trade's side is drawn among a few accounts of its pool that can afford it, the one with the
    most to spend (with some noise) winning: so balances run down evenly, and a draw costs the same whether
    the pool has ten accounts or fifty thousand."""

    SAMPLE = 8

    def __init__(self, rng: random.Random, holdings: Holdings, market: str, buyers: list[str],
                 sellers: list[str], products: list[str]) -> None:
        self.rng = rng
        self.buyers, self.sellers = buyers, sellers
        self.cash = {a: holdings.cash.get((a, market), 0) for a in buyers}
        self.units = {(a, p): holdings.free(a, p) for a in sellers for p in products}

    def buyer(self, cost: int, avoid: str | None = None) -> str:
        a = self._pick(self.buyers, lambda a: self.cash[a], cost, avoid)
        self.cash[a] -= cost
        return a

    def seller(self, quantity: int, product: str, avoid: str | None = None) -> str:
        a = self._pick(self.sellers, lambda a: self.units[a, product], quantity, avoid)
        self.units[a, product] -= quantity
        return a

    def _pick(self, pool: list[str], balance, need: int, avoid: str | None) -> str:
        rng = self.rng
        draw = pool if len(pool) <= self.SAMPLE else rng.sample(pool, self.SAMPLE)
        able = [a for a in draw if balance(a) >= need and a != avoid]
        if not able:
            able = [a for a in pool if balance(a) >= need and a != avoid]
        if not able:
            raise ValueError(f"no account can commit {need}: deposit or issue more")
        return max(able, key=lambda a: balance(a) * rng.uniform(0.6, 1.0))
