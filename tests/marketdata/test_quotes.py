"""The market-data feed (issue 14) against the books it quotes, after hypothesis streams of every kind of command
(tests/properties' strategies) cut into batches at random, as the matcher's fetches cut the command log:

- each quote's best five levels a side are the book's, recomputed here from its live orders (GEC: from the public
  lots and the bids; an addressed lot, M5, is never quoted), and no listing quote is crossed (GEC's may overlap: a bid's filter may refuse
  the cheaper lots, G4);
- conflated: at most one quote per product per batch, and a product whose quote would read differently after the
  batch is quoted in it (nothing that changed is left out);
- deterministic: every quote of a batch is, byte for byte, the quote of the same product and seq in the feed of
  one command a batch (`certx replay --quotes`), so any batching of the same log gives a subsequence of one feed.
"""
from __future__ import annotations

import random
from collections import defaultdict

from hypothesis import given
from hypothesis import strategies as st

from support import Desk
from certx.books.gec import Bid, Lot
from certx.marketdata import Changes, quotes
from certx.wire.codec import decode_quote, encode
from certx.wire.marketdata import DEPTH, Quote
from tests.properties.test_invariants import DATES, MARKETS, SETTINGS, expand, gec_heavy, mixed, send


def book_levels(engine, product: str) -> tuple[list, list]:
    """The best levels each side, from the live orders alone (not from the book's level structure)."""
    sides: dict[bool, dict[int, list[int]]] = {True: defaultdict(lambda: [0, 0]), False: defaultdict(lambda: [0, 0])}
    if engine.market == "GEC":
        orders = [(isinstance(o, Bid), o.price, o.remaining) for o in engine.lots.orders.values()
                  if isinstance(o, Bid) or (isinstance(o, Lot) and o.counterparty is None)]
    else:
        orders = [(o.is_buy, o.price, o.remaining) for o in engine.products[product].book.orders.values()]
    for is_buy, price, remaining in orders:
        level = sides[is_buy][price]
        level[0] += remaining
        level[1] += 1
    bids = [[p, *sides[True][p]] for p in sorted(sides[True], reverse=True)[:DEPTH]]
    asks = [[p, *sides[False][p]] for p in sorted(sides[False])[:DEPTH]]
    return bids, asks


def check_against_books(engine, quote: Quote) -> None:
    bids, asks = book_levels(engine, quote.product)
    assert [list(level) for level in quote.bids] == bids, f"{quote.product} bids {quote.bids} != book {bids}"
    assert [list(level) for level in quote.asks] == asks, f"{quote.product} asks {quote.asks} != book {asks}"
    if quote.market != "GEC":       # GEC's sides may overlap: a bid's filter may refuse the cheaper lots (G4)
        assert not (quote.bids and quote.asks) or quote.bids[0][0] < quote.asks[0][0], f"crossed: {quote}"
    if quote.lots is not None:
        public = [o for o in engine.lots.orders.values() if isinstance(o, Lot) and o.counterparty is None]
        for province, technology, price, quantity in quote.lots:
            mine = [o for o in public if (o.batch.province, o.batch.technology) == (province, technology)]
            assert price == min(o.price for o in mine)
            assert quantity == sum(o.remaining for o in mine if o.price == price)
        assert len(quote.lots) == len({(o.batch.province, o.batch.technology) for o in public})


def everything(engine) -> dict[str, bytes]:
    """Every product's quote as the engine stands, without its seq: what a reader would see if it were quoted."""
    every = Changes()
    every.every = 0
    return {q.product: encode(q) for q in quotes(engine, every)}


def play(ops: list[dict], seed: int) -> None:
    rng = random.Random(seed)
    desk = Desk(date=DATES[0])
    finest: dict[tuple[str, str, int], bytes] = {}
    pending = {m: Changes() for m in MARKETS}
    shown = {m: everything(desk.engines[m]) for m in MARKETS}
    for date, op in expand(ops):
        events = send(desk, date, op)
        for q in desk.replay.quotes_of(events):          # one command a batch
            key = (q.market, q.product, q.seq)
            assert key not in finest, f"two quotes of {key}"
            finest[key] = encode(q)
        for event in events:
            pending[event.market].note((event,))
        for market in MARKETS:
            if rng.random() < 0.3:                       # the batch of this market ends here
                engine, changes = desk.engines[market], pending[market]
                batch = quotes(engine, changes)
                assert len({q.product for q in batch}) == len(batch), f"two quotes of a product in one batch: {batch}"
                assert [q.seq for q in batch] == sorted(q.seq for q in batch)
                for q in batch:
                    check_against_books(engine, q)
                    assert encode(q) == finest[q.market, q.product, q.seq], \
                        f"{q.product} at seq {q.seq}: the batch's quote is not the one-command feed's"
                now = everything(engine)
                changed = {p for p in now if now[p] != shown[market].get(p)}
                assert changed <= {q.product for q in batch}, f"{changed} changed but were not quoted"
                shown[market], pending[market] = now, Changes()


def test_a_quote_reads_as_its_product_stands():
    """The sample day, one command a batch: every quote agrees with the books."""
    from certx.cli import sample_path
    from certx.replay import Replay

    replay = Replay()
    count = 0
    for events in replay.each_line(sample_path().read_bytes().splitlines()):
        for q in replay.quotes_of(events):
            check_against_books(replay.engines[q.market], q)
            assert decode_quote(encode(q)) == q
            count += 1
    assert count > 100


@SETTINGS
@given(mixed, st.integers(0, 2**32))
def test_quotes_agree_with_the_books_are_conflated_and_replay_the_same(ops, seed):
    play(ops, seed)


@SETTINGS
@given(gec_heavy, st.integers(0, 2**32))
def test_gec_quotes_show_public_lots_only_and_replay_the_same(ops, seed):
    play(ops, seed)


class Unread(list):
    """A level's queue that no quote may read."""

    def __iter__(self):
        raise AssertionError("the quote read a level's queue")


def test_a_listing_quote_reads_no_order_of_a_level_M1():
    """M1, issue 14: a level's quantity is the live orders' (a partial fill, a lift, a cancel, each taken in), and
    its quote reads it without walking the level's queue, which keeps every order cancelled behind a live one: a
    broker resting and cancelling orders at the best price made each quote read them all."""
    from support import cea_day

    desk = cea_day()
    for i in range(20):
        desk.order(f"b{i}", "A", "B1", "CEA21", "buy", 10, "50.00")
    for i in range(1, 19):
        desk.send("order.cancel", order_id=f"b{i}", actor="B1", account="A")
    desk.order("s1", "S", "B2", "CEA21", "sell", 4, "50.00")                  # 4 of b0's 10
    desk.send("order.lift", order_id="s2", actor="B2", account="S", target="b19", quantity=3)
    engine = desk.engines["CEA"]
    level = engine.products["CEA21"].book.bids.levels[5000]
    assert (level.quantity, level.live) == (6 + 7, 2)
    level.queue = Unread(level.queue)
    (quote,) = everything_quotes(engine)
    assert [list(x) for x in quote.bids] == [[5000, 13, 2]]
    check_against_books(engine, quote)


def everything_quotes(engine) -> list[Quote]:
    every = Changes()
    every.every = 0
    return quotes(engine, every)


class Unlisted(dict):
    """A book's index of orders that no quote may walk."""

    def values(self):
        raise AssertionError("the quote walked every resting order")

    __iter__ = items = values


def test_a_gec_quote_reads_its_ladder_not_every_lot_M4_M5():
    """M4, M5, issue 14: the GEC quote's levels and cheapest lots are counted as lots and bids rest, fill and go, so
    a quote does not walk the resting orders (it read every one per batch: 15 ms at 100,000 lots); an addressed
    lot (M5) is not in it."""
    desk = Desk(date="2025-06-16")
    for account, broker in (("S", "B2"), ("A", "B1")):
        desk.open_account(account, broker)
        desk.deposit(account, "GEC", "1000000")
    for n, (province, first) in enumerate((("Gansu", 1), ("Hebei", 1001))):
        desk.send("issue.gec", actor="registry", account="S", project=f"P{n}", province=province,
                  technology="solar", production_month="2025-05", subsidised=False, first_serial=first,
                  last_serial=first + 999)
    desk.open_day("GEC")

    def lot(order_id, first, last, price, **extra):
        desk.order(order_id, "S", "B2", "GEC", "sell", last - first + 1, price, first_serial=first,
                   last_serial=last, **extra)

    lot("l1", 1, 100, "2.00")
    lot("l2", 101, 150, "2.00")
    lot("l3", 151, 200, "1.50", counterparty="A")                # addressed: never quoted
    lot("l4", 1001, 1100, "1.80")
    lot("l5", 1101, 1120, "2.50")
    desk.order("b1", "A", "B1", "GEC", "buy", 30, "1.00")
    desk.order("b2", "A", "B1", "GEC", "buy", 40, "1.90", filter={"provinces": ["Gansu"]})   # rests
    desk.order("b3", "A", "B1", "GEC", "buy", 130, "2.00", filter={"provinces": ["Gansu"]})  # takes l1, 30 of l2
    desk.send("order.lift", order_id="t1", actor="B1", account="A", target="l4", quantity=25)
    lot("l6", 201, 210, "1.00")                                  # fills 10 of b2, the best bid (in part)
    desk.send("order.cancel", order_id="l5", actor="B2", account="S")
    engine = desk.engines["GEC"]
    (before,) = everything_quotes(engine)
    check_against_books(engine, before)
    engine.lots.check()
    engine.lots.orders = Unlisted(engine.lots.orders)
    (quote,) = everything_quotes(engine)
    assert encode(quote) == encode(before)
    assert [list(x) for x in quote.bids] == [[190, 30, 1], [100, 30, 1]]
    assert [list(x) for x in quote.asks] == [[180, 75, 1], [200, 20, 1]]
    assert [list(x) for x in quote.lots] == [["Gansu", "solar", 200, 20], ["Hebei", "solar", 180, 75]]


def test_U3_a_batchs_quotes_are_as_of_its_latest_command_time_not_its_last_records():
    """A surrender's relayed vote carries its surrender's time and may end a matcher's batch, after a trade the
    gateway sequenced later: the quotes showing that trade are stamped with the trade's command time."""
    from types import SimpleNamespace

    from certx.kafka.batch import as_of
    trade, vote = SimpleNamespace(timestamp=1_000_500), SimpleNamespace(timestamp=1_000_000)
    assert as_of([trade, vote]) == 1_000_500
