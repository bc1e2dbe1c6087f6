"""The accounts stage of the engine (DOMAIN A2, A3, A4): the only place where cash and units move.

Every handler asks it, as exchange-core's risk stage is asked before and after matching:
- `reserve` at entry: a buy reserves price × quantity of cash, a sell the units, or the order is refused (A2);
- `release` when an order, offer, bid or auction ends without filling (cancel, expiry, close);
- `fill` for each trade: the buyer's reservation at its own limit pays the seller at the trade price and the
  difference goes back to the buyer; the seller's reserved units go to the buyer, together (A4), locked until
  the next trading day where the market says so (A3). `fill_cash` is the GEC fill, whose serials move as ranges
  (`RangeSet`), not as positions;
- the registry's and the bank's moves (`issue`, `deposit`, `withdraw`) and a surrender's units (C1).
So each of A2–A4 is written once. The wallets themselves (`certx.accounts`) are plain data.
"""
from __future__ import annotations

from certx.accounts import Wallet
from certx.engine.rejection import Rejected
from certx.engine.state import State
from certx.wire.reasons import Reason


class Accounts(State):
    """The engine's mixin for money and units; every desk is one."""

    def reserve(self, wallet: Wallet, product: str, is_buy: bool, price: int, quantity: int) -> None:
        """A2: a buy reserves price × quantity of cash, a sell the units; or the order is refused."""
        if is_buy:
            cost = price * quantity
            if wallet.cash < cost:
                raise Rejected(Reason.insufficient_funds, f"free cash {wallet.cash} fen < {cost} fen")
            wallet.cash -= cost
            wallet.cash_held += cost
        else:
            pos = wallet.positions.get(product)
            if pos is None or pos.free < quantity:
                raise Rejected(Reason.insufficient_holdings, f"free {pos.free if pos else 0} < {quantity}")
            pos.free -= quantity
            pos.held += quantity

    def release(self, wallet: Wallet, product: str, is_buy: bool, price: int, quantity: int) -> None:
        """A2: what a reservation still holds goes back to free: cash for a buy, units for a sell."""
        if is_buy:
            wallet.cash_held -= price * quantity
            wallet.cash += price * quantity
        else:
            pos = wallet.positions[product]
            pos.held -= quantity
            pos.free += quantity

    def fill(self, buyer: Wallet, seller: Wallet, product: str, price: int, quantity: int,
             buyer_limit: int) -> None:
        """A4: one trade at `price`. The buyer reserved `buyer_limit` per unit; the excess goes back to it."""
        self.fill_cash(buyer, seller, price, quantity, buyer_limit)
        seller.positions[product].held -= quantity
        pos = buyer.position(product)
        if self.mrules.t_plus_one:          # A3: bought today, sellable from the next trading day
            if not pos.locked:
                self.locked.append(pos)
            pos.locked += quantity
        else:
            pos.free += quantity

    def fill_cash(self, buyer: Wallet, seller: Wallet, price: int, quantity: int, buyer_limit: int) -> None:
        """The cash of a fill; a GEC fill is only this, its serials leave the lot as a range."""
        buyer.cash_held -= buyer_limit * quantity
        buyer.cash += (buyer_limit - price) * quantity
        seller.cash += price * quantity

    def unlock_bought(self) -> None:
        """A3, at the open: units bought before today become sellable."""
        for pos in self.locked:
            pos.free += pos.locked
            pos.locked = 0
        self.locked = []

    def issue(self, wallet: Wallet, product: str, quantity: int) -> None:
        """Units the registry issues are free at once."""
        wallet.position(product).free += quantity

    def deposit(self, wallet: Wallet, amount: int) -> None:
        self.cash_total += amount
        wallet.cash += amount

    def withdraw(self, wallet: Wallet, amount: int) -> None:
        """Only free cash leaves: what rests stays reserved (A2)."""
        if wallet.cash < amount:
            raise Rejected(Reason.insufficient_funds, f"free cash {wallet.cash} fen < {int(amount)} fen")
        wallet.cash -= amount
        self.cash_total -= amount

    # --- a surrender's units (C1) -------------------------------------------------------------------

    def hold_for_surrender(self, wallet: Wallet, units: dict[str, int]) -> None:
        """A two-leg surrender reserves its units, as a sell does, until it is decided."""
        for product, quantity in units.items():
            pos = wallet.positions[product]
            pos.free -= quantity
            pos.held += quantity

    def conclude_surrender(self, wallet: Wallet, units: dict[str, int], commit: bool) -> None:
        """The reserved units of a decided surrender: cancelled on commit, free again on release."""
        for product, quantity in units.items():
            pos = wallet.positions[product]
            pos.held -= quantity
            if not commit:
                pos.free += quantity

    def cancel_free(self, wallet: Wallet, units: dict[str, int]) -> None:
        """A one-leg surrender cancels free units at once."""
        for product, quantity in units.items():
            wallet.positions[product].free -= quantity
