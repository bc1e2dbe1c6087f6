"""One CEA product's official day as commands: its listing trades and background (certx.days.listing), its block
offers and acceptances (M2), its auction (M3), each in a strand of its own.

Block: each offer is posted in the block session (13:00-15:00, D1) and accepted by its counterparties at its
price, in full or in parts of at least the block minimum (S1); some offers are addressed to one account, some
offered more than was taken (the rest expires, or is withdrawn). Block trades never touch the listing book, so
the background of the block market is simply offers nobody takes.

One-way bidding (M3): the seller's broker opens the auction in the morning session for exactly the quantity the
official day sold; the winning bids (certx.days.exact.auction_bids) add up to it, each at its own price, and
losing bids below the lowest winning price (at or above the reserve) get nothing and expire at the auction's
close, thirty minutes later: the next CEA command at or after that time closes it, or the session's close.
"""
from __future__ import annotations

import random

from certx.days import exact
from certx.days.background import Background
from certx.days.balances import Budget, Fill
from certx.days.listing import (Item, Levels, Tickets, background_count, background_items, mingle, schedule,
                                trade_items, windows)
from certx.days.official import CeaDay
from certx.days.script import Script, yuan
from certx.engine.band import limits
from certx.rules import DEFAULT

RULES = DEFAULT.cea


def bands(reference: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """B1 and B2 around a previous close."""
    return limits(reference, RULES.listing_band_bps), limits(reference, RULES.block_band_bps)


def listing_day(rng: random.Random, script: Script, day: CeaDay, budget: Budget, tickets: Tickets,
                fills: list[Fill], background: Background) -> list[Item]:
    """The listing trades of the day and its background, mingled, not yet scheduled."""
    band, _ = bands(day.reference)
    trades = exact.listing_trades(rng, day.listing_volume, day.listing_value, open_=day.open,
                                  high=day.high, low=day.low, close=day.close) if day.listing_volume else []
    levels = Levels.around(band, day.low or day.reference, day.high or day.reference)
    items = trade_items(rng, trades, budget, tickets, levels, fills, exact.LISTING_MAX)
    count = background_count(rng, len(trades), background.listing)
    quiet, cancels = background_items(rng, count, budget, tickets, levels, background.cancel_every)
    return mingle(rng, items, quiet, cancels)


def block_items(rng: random.Random, script: Script, day: CeaDay, budget: Budget, tickets: Tickets,
                fills: list[Fill], background: Background) -> list[Item]:
    """The block offers that make the day's block volume and value, and offers nobody takes."""
    _, (lo, hi) = bands(day.reference)
    offers = exact.block_offers(rng, day.block_volume, day.block_value, low=lo, high=hi)
    product = day.product
    items: list[Item] = []
    for o in offers:
        total = sum(o.accepts)
        sell_offer = rng.random() < 0.6
        if len(o.accepts) == 1 and o.accepts[0] >= 2 * exact.BLOCK_MIN and rng.random() < 0.12:
            o.leftover = rng.randint(1, 5) * 50_000                 # offered more than was taken
        if sell_offer:
            maker = budget.seller(total + o.leftover, product)
            takers = [budget.buyer(o.price * q) for q in o.accepts]
            fills += [Fill("CEA", product, t, maker, o.price, q) for t, q in zip(takers, o.accepts)]
        else:
            maker = budget.buyer(o.price * (total + o.leftover))
            takers = [budget.seller(q, product) for q in o.accepts]
            fills += [Fill("CEA", product, maker, t, o.price, q) for t, q in zip(takers, o.accepts)]
        oid = script.next_id("blk")
        offer = tickets.new(maker, "sell" if sell_offer else "buy", total + o.leftover, o.price, oid=oid,
                            mode="block")
        if len(o.accepts) == 1 and rng.random() < 0.35:            # addressed to its one counterparty
            offer["counterparty"] = takers[0]
            if not o.leftover and rng.random() < 0.5:
                offer["partial"] = False
        item: Item = [("order.new", offer)]
        for t, q in zip(takers, o.accepts):
            item.append(("order.accept", tickets.accept(t, oid, q)))
        if o.leftover and rng.random() < 0.5:
            item.append(("order.cancel", tickets.cancel(maker, oid)))
        items.append(item)
    untaken = round(len(offers) * background.block) + (rng.randint(0, 1) if background.block else 0)
    for k in range(untaken):                                             # offers nobody takes
        q = rng.randint(2, 10) * 50_000
        price = rng.randint(lo, hi)
        if k % 2:
            offer = tickets.new(budget.seller(q, product), "sell", q, price, oid=script.next_id("blk"), mode="block")
        else:
            offer = tickets.new(budget.buyer(price * q), "buy", q, price, oid=script.next_id("blk"), mode="block")
        item = [("order.new", offer)]
        if k % background.cancel_every == background.cancel_every - 1:
            item.append(("order.cancel", tickets.cancel(offer["account"], offer["order_id"])))
        items.insert(rng.randint(0, len(items)), item)
    return items


def auction(rng: random.Random, script: Script, day: CeaDay, budget: Budget, tickets: Tickets,
            fills: list[Fill], background: Background) -> None:
    """The day's auction in a strand of its own (M3)."""
    bids = exact.auction_bids(rng, day.auction_volume, day.auction_value)
    product = day.product
    seller = budget.seller(day.auction_volume, product)
    floor = min(p for p, _ in bids)
    reserve = max(1, floor - rng.randint(0, 200))
    unit = script.per_second
    opens = script.time("10:00:00") + rng.randint(0, 1_800) * unit
    closes = opens + 1_800 * unit
    auction_id = script.next_id("auc")
    stream = script.stream().at(opens)
    stream.emit("auction.open", id=script.next_id("auc"), actor=tickets.brokers[seller],
                auction_id=auction_id, product=product, seller=seller, quantity=day.auction_volume,
                reserve_price=yuan(reserve), closes_at=script.clock(closes))
    losing = [(rng.randint(reserve, floor - 1), rng.randint(1, max(1, day.auction_volume // 2)))
              for _ in range(round(len(bids) * background.auction))] if floor > reserve else []
    sealed = [(p, q, True) for p, q in bids] + [(p, q, False) for p, q in losing]
    rng.shuffle(sealed)
    slot = (closes - opens) // (len(sealed) + 1)
    for n, (price, quantity, wins) in enumerate(sealed, 1):
        buyer = budget.buyer(price * quantity)
        if wins:
            fills.append(Fill("CEA", product, buyer, seller, price, quantity))
        stream.at(max(stream.t, opens + n * slot)).emit(
            "auction.bid", order_id=script.next_id("bid"), actor=tickets.brokers[buyer], account=buyer,
            market="CEA", auction_id=auction_id, quantity=quantity, price=yuan(price))


def product_day(rng: random.Random, script: Script, day: CeaDay, budget: Budget, brokers: dict[str, str],
                fills: list[Fill], background: Background) -> None:
    """All of one product's official day: listing, block, auction, each in its own strand."""
    tickets = Tickets(script, brokers, day.product, "CEA")
    items = listing_day(rng, script, day, budget, tickets, fills, background)
    schedule(rng, script.stream(), items, windows(script, RULES.listing_sessions), script.per_second)
    blocks = block_items(rng, script, day, budget, tickets, fills, background)
    schedule(rng, script.stream(), blocks, windows(script, RULES.block_sessions), script.per_second)
    if day.auction_volume:
        auction(rng, script, day, budget, tickets, fills, background)
