"""The 24/7 match (issue 13, item 3): a buyer's hourly load met from the GEC book, in one command.

The public lots the command's filter admits (G4), at no more than its price cap, cheapest then oldest (M4), become
supply classes (`certx.hours.classes`): lots without a curve have no hours and are left out, and so are pooled lots,
whose fills their pool's rule shares among owners. `certx.hours.allocation`
chooses how many certificates to take of each class: the most matched energy, then the least cost, within the
budget (the buyer's free cash when the command gives none). The engine takes them, the lowest serials of each
class, pays each seller at its lot's price (A4, M4: the resting side's), and publishes one `gec.allocated` with a
trade per lot taken from, each cancelled in the beneficiary's name on settlement (G1), all or nothing.

Deterministic: the classes come in the book's order, and the solver is run single-threaded with a bound on its
work that is not a clock, so the same log gives the same allocation, byte for byte.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

import msgspec

from certx.books.gec import Eligibility, Lot, PooledLot
from certx.engine.accounts import Accounts
from certx.engine.rejection import Rejected
from certx.hours.allocation import (MAX_CLASSES, MAX_MIX_ENTRIES, Allocation, AllocationError, Supply, allocate,
                                    check_loads)
from certx.hours.classes import classes
from certx.hours.clock import hour_at, month_of, on_the_hour
from certx.hours.mask import EVERY_HOUR, HourFilter
from certx.money import Amount, Fen
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.codec import encode
from certx.wire.reasons import Reason

_NO_CAP = 1 << 62
# One `gec.allocated` is one record of certx.events; past this a match is refused rather than risk the record
# limit (1 MB by default), which would fail the matcher's transaction for good.
MAX_EVENT = 512 * 1024
Range = tuple[int, int]


class HourlyDesk(Accounts):
    def on_gec_match(self, cmd: c.GecMatch, at: int) -> None:
        if cmd.market not in (None, "GEC"):
            raise Rejected(Reason.wrong_market, f"a match is for the GEC market, not {cmd.market}")
        self.in_window(self.listing_windows, at)
        wallet = self.broker_wallet(cmd)
        self.new_order_id(cmd.order_id)
        if not on_the_hour(cmd.start):
            raise Rejected(Reason.malformed, "`start` is a whole hour")
        try:
            check_loads(cmd.loads)          # whether or not any lot has hours: the answer must not depend on the book
        except AllocationError as err:
            raise Rejected(Reason.malformed, str(err)) from None
        if cmd.filter is not None and cmd.filter.by_hours:
            raise Rejected(Reason.malformed, "a match's hours are its loads': its filter names no hours")
        # Without a budget, the free cash is one, as far as a budget may go (over 10^12 yuan binds nothing real).
        budget = min(wallet.cash, Amount.MAX) if cmd.budget is None else int(cmd.budget)
        if budget > wallet.cash or budget == 0:
            raise Rejected(Reason.insufficient_funds, f"free cash {wallet.cash} fen, the budget {budget} fen")
        cap = None if cmd.price_cap is None else int(cmd.price_cap)
        start = hour_at(cmd.start)
        supply, runs = self._supply(_eligibility(cmd.filter, start, len(cmd.loads)), cap, start, len(cmd.loads))
        try:
            allocation = allocate(cmd.loads, supply, cap, budget) if supply else _nothing(cmd.loads)
        except AllocationError as err:
            raise Rejected(Reason.malformed, str(err)) from None
        beneficiary = cmd.beneficiary or cmd.account
        plan = _by_lot(runs, allocation.taken)
        trades = [self._trade(cmd, lot, ranges, beneficiary) for lot, ranges in plan]
        event = e.Allocated(
            allocation_id=cmd.order_id, account=cmd.account, beneficiary=beneficiary, start=cmd.start,
            loads=cmd.loads, trades=trades,
            load_kwh=allocation.load_total, matched_kwh=allocation.matched_total, cost=Fen(allocation.cost),
            method=allocation.method, inputs=_inputs(cmd))
        size = len(encode(event))
        if size > MAX_EVENT:
            self.trades -= len(trades)          # nothing has moved yet: the trade ids are not used
            raise Rejected(Reason.allocation_too_large,
                           f"{len(trades)} trades, {size:,} bytes: more than {MAX_EVENT:,}; match a shorter period")
        # Everything below succeeds: the cost is within the budget, the budget within the buyer's free cash.
        for (lot, ranges), trade in zip(plan, trades):
            self.lots.take_ranges(lot, ranges)
            self.reserve(wallet, "GEC", True, lot.price, trade.quantity)
            self.fill_cash(wallet, self.wallets[lot.account], lot.price, trade.quantity, lot.price)
            for first, last in ranges:
                self.cancelled.add(first, last)
            self.products["GEC"].day.listing_trade(lot.price, trade.quantity)
        self.order_ids.add(cmd.order_id)
        self.out.append(event)

    def _supply(self, eligibility: Eligibility, cap: int | None, start: int,
                hours: int) -> tuple[list[Supply], list]:
        """The classes of the lots the filter admits with energy in the load's `hours` from `start`, in the book's
        order, and where each begins (its lot and first serial): as many of the cheapest as the solver takes
        (MAX_CLASSES, MAX_MIX_ENTRIES)."""
        supply: list[Supply] = []
        runs: list[tuple[Lot, int]] = []
        entries = 0
        for lot in self.lots.lots.crossing(eligibility, _NO_CAP if cap is None else cap, self.today_month()):
            if isinstance(lot, PooledLot):       # its fills are its rule's, not the hours' a match chooses
                continue
            # its month's curve, if it covers the lot's batch (one issued after the curve has no hours)
            curve = self.lots.curve_for(lot.batch)
            if curve is None:
                continue
            # only the certificates with energy in the load's hours: a match of a day never walks a year's lots
            within = curve.serials_within(start, start + hours)
            for first, last in _overlap(lot.serials, within):
                for f, l, mix in classes(curve, first, last):
                    if mix[-1][0] < start or mix[0][0] >= start + hours:
                        continue                 # none of its energy is in the load's hours: it can match nothing
                    entries += len(mix)
                    if len(supply) == MAX_CLASSES or entries > MAX_MIX_ENTRIES:
                        return supply, runs
                    supply.append(Supply(f"{lot.order_id}:{f}", l - f + 1, lot.price,
                                         tuple((hour - start, kwh) for hour, kwh in mix)))
                    runs.append((lot, f))
        return supply, runs

    def _trade(self, cmd: c.GecMatch, lot: Lot, ranges: list[Range], beneficiary: str) -> e.Trade:
        """The trade of what the match takes from one lot, at its price (M4)."""
        b = lot.batch
        return e.Trade(
            trade_id=self.trade_id(), product="GEC", mode="match", price=Fen(lot.price),
            quantity=sum(last - first + 1 for first, last in ranges), buy_order=cmd.order_id,
            sell_order=lot.order_id, buyer=cmd.account, seller=lot.account, serials=ranges, project=b.project,
            province=b.province, technology=b.technology, production_month=b.production_month,
            subsidised=b.subsidised, beneficiary=beneficiary)


def _eligibility(f: c.GecFilter | None, start: int, hours: int) -> Eligibility:
    """The filter's buckets, narrowed to those the match can take from, so that its walk of the book skips the
    rest a branch at a time: the production months that may hold the load's hours (a month's certificates have
    its hours and, carried in, its predecessor's), and branches with some lot with hours (any kWh, from any hour
    of the day: the bounds of a branch of lots without curves are nothing). It walked every lot the filter
    admits, with or without hours, whatever its month."""
    eligibility = Eligibility(f)
    first, last = month_of(start), month_of(start + hours - 1) + 1
    eligibility.month_from = first if eligibility.month_from is None else max(eligibility.month_from, first)
    eligibility.month_to = last if eligibility.month_to is None else min(eligibility.month_to, last)
    eligibility.hours = HourFilter(EVERY_HOUR, None, None, 1)
    return eligibility


def _overlap(serials: Iterable[Range], within: list[Range]) -> Iterator[Range]:
    """The parts of `serials` inside `within`, both in serial order, in serial order."""
    for first, last in serials:
        for a, b in within:
            if max(first, a) <= min(last, b):
                yield max(first, a), min(last, b)


def _by_lot(runs: list[tuple[Lot, int]], taken: tuple[int, ...]) -> list[tuple[Lot, list[Range]]]:
    """What the allocation takes, a trade's worth per lot (in the order the lots came), each class's lowest serials,
    adjacent ranges joined."""
    plan: dict[str, tuple[Lot, list[Range]]] = {}
    for (lot, first), n in zip(runs, taken):
        if n:
            ranges = plan.setdefault(lot.order_id, (lot, []))[1]
            if ranges and ranges[-1][1] + 1 == first:
                ranges[-1] = (ranges[-1][0], first + n - 1)
            else:
                ranges.append((first, first + n - 1))
    return [(lot, sorted(ranges)) for lot, ranges in plan.values()]


def _nothing(loads: list[int]) -> Allocation:
    """The answer when no lot the filter admits has hours: nothing matched, nothing paid."""
    return Allocation(method="greedy", status="optimal", gap=0.0, cost_gap=0.0, taken=(), matched=(0,) * len(loads),
                      matched_total=0, load_total=sum(loads), cost=0)


def _inputs(cmd: c.GecMatch) -> str:
    """SHA-256 of the command's loads and terms as the wire encodes them (canonical: msgspec writes fields in
    their declared order), so a verifier holding the command can check the evidence was made from it."""
    terms = msgspec.structs.replace(cmd, actor="", at=None)
    return hashlib.sha256(encode(terms)).hexdigest()
