"""What the market page shows (issue 14.2), folded from the sample day's feed as the embedded replay makes it
(its quotes, events and settlements), without servers: the board keeps the latest of what it must and a bounded
few of the rest; a stale or repeated message changes nothing; and a page's outbox, however it is cut into
messages, conflates to exactly what the server holds, never more than the board's bounds."""
from __future__ import annotations

from collections import Counter

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certx.cli import sample_path
from certx.ledger import Ledger
from certx.ledger.journal import Journal
from certx.replay import Replay
from certx.web.board import POINTS, PRINTS, SETTLEMENTS, Board, Market, Point, Print
from certx.wire import events as e
from certx.wire import settlements as s
from certx.wire.codec import encode
from certx.wire.marketdata import Quote

Message = tuple[str, msgspec.Struct, int]        # ("quote" | "event" | "settlement", message, its record's time)


def sample_feed(lines: list[bytes]) -> list[Message]:
    """The feed of one command a batch, as the topics would carry it: each command's events, then its quotes,
    then the settlements of its events."""
    replay, journal, out = Replay(), Journal(Ledger()), []
    for events in replay.each_line(lines):
        out += [("event", ev, replay.at) for ev in events]
        out += [("quote", q, replay.at) for q in replay.quotes_of(events)]
        out += [("settlement", x, replay.at) for ev in events for x in journal.add(ev, at=replay.at)]
    return out


FEED = sample_feed(sample_path().read_bytes().splitlines())
BEFORE_CLOSE = sample_feed([line for line in sample_path().read_bytes().splitlines()
                            if b'"session.close"' not in line])


def take(market: Market, message: Message) -> list:
    kind, body, at = message
    if kind == "quote":
        return market.quote(body, at)
    if kind == "event":
        return market.event(body, at)
    return market.settlement(body)


def fold(feed: list[Message]) -> Market:
    market = Market()
    for message in feed:
        take(market, message)
    return market


def test_the_board_holds_each_products_latest_quote_and_last_trades():
    board = fold(BEFORE_CLOSE).board
    quotes = [body for kind, body, _ in BEFORE_CLOSE if kind == "quote"]
    assert board.quotes == {q.product: q for q in quotes}            # the last of each product
    assert set(board.quotes) == {"CEA", "CCER", "GEC"}
    trades = [body for kind, body, _ in BEFORE_CLOSE if kind == "event" and isinstance(body, e.Trade)]
    for product, prints in board.prints.items():
        mine = [t for t in trades if t.product == product][-PRINTS:]
        assert [p.trade_id for p in prints] == [t.trade_id for t in mine]
        assert [(p.price, p.quantity, p.mode) for p in prints] == [(t.price, t.quantity, t.mode) for t in mine]
    assert len(board.prints["CEA"]) == PRINTS                          # CEA traded more than that
    for market in ("CEA", "CCER", "GEC"):
        settled = [x for kind, x, _ in BEFORE_CLOSE if isinstance(x, (s.Settled, s.GecCancelled)) and x.market == market]
        assert list(board.settlements[market]) == settled[-SETTLEMENTS:]
    assert {type(x) for x in board.settlements["GEC"]} == {s.Settled, s.GecCancelled}


def test_a_tape_print_names_no_account_and_no_order():
    """The tape is market data, as the quotes are: who traded is the settlement panel's business."""
    assert set(Print.__struct_fields__) == {"at", "trade_id", "product", "mode", "price", "quantity"}


def test_a_24_7_matchs_trades_are_on_the_tape():
    """Issue 13: a match's trades come inside its `gec.allocated`, not as `trade` events: the tape printed none."""
    from rules.test_gec import lot
    from rules.test_hours import hours_desk
    from rules.test_match import allocated, day_one, match

    desk = hours_desk()
    lot(desk, "sun", "S", 1, 124, "5.00")
    allocation = allocated(match(desk, day_one(h10=1000, h11=1000)))
    market = Market()
    market.event(allocation, 0)
    assert [(p.trade_id, p.mode, p.quantity) for p in market.board.prints["GEC"]] == \
        [(t.trade_id, t.mode, t.quantity) for t in allocation.trades] != []


def test_the_day_summaries_are_the_closes():
    """D4: after the close, each product's day summary (its close) is on the board, and every quote reads closed."""
    board = fold(FEED).board
    summaries = {x.product: x for kind, x, _ in FEED if isinstance(x, e.DaySummary)}
    assert board.closes == summaries and board.closes["CEA"].close is not None
    assert {q.session for q in board.quotes.values()} == {"closed"}


def test_a_point_is_a_new_last_price():
    """The chart's points are the quotes whose last listing price or volume moved: here (one command a batch) the
    last listing trade of each command that made any, and none for a quote that only moved the book."""
    market = fold(BEFORE_CLOSE)
    points = [x for x in market.board.points["CEA"]]
    last_of_each_command = {t.origin.offset: t for _, t, _ in BEFORE_CLOSE
                            if isinstance(t, e.Trade) and t.product == "CEA" and t.mode == "listing"}
    assert [p.price for p in points] == [t.price for t in last_of_each_command.values()][-POINTS:]
    quote = market.board.quotes["CEA"]
    book_only = msgspec.structs.replace(quote, seq=quote.seq + 1, bids=quote.bids[1:])
    assert market.quote(book_only, 0) == [book_only]                    # no point: the last price did not move


@pytest.mark.parametrize("kind", ["quote", "event", "settlement"])
def test_a_stale_or_repeated_message_changes_nothing(kind):
    """A quote at or below its product's seq, an event or settlement at or below its market's: a settlement the
    projector published again after a crash (same origin, same seq) is on the panel once."""
    market = fold(FEED)
    before = encode(market.board.view(reset=True))
    for message in [m for m in FEED if m[0] == kind][-50:]:
        assert take(market, message) == []
    assert encode(market.board.view(reset=True)) == before


def test_only_trades_and_day_summaries_of_the_events_are_taken():
    kinds = Counter(type(x).__name__ for kind, body, at in FEED if kind == "event"
                    for x in Market().event(body, at))
    assert set(kinds) <= {"Print", "DaySummary"}
    assert all(Market().settlement(x) == [] for _, x, _ in FEED
               if isinstance(x, (s.GecRetired, s.UnitsSurrendered, s.SettlementRejected)))


cuts = st.lists(st.integers(min_value=0, max_value=len(FEED)), max_size=40).map(sorted)


@settings(max_examples=60, deadline=None)
@given(cuts)
def test_an_outbox_conflates_to_what_the_server_holds(cut_at):
    """However a page's messages are cut (a slow page: many facts between two sends; a fast one: few), merging
    them as the page does (`Board.absorb`, page.js's `absorb`) gives exactly the server's board, and an outbox
    never holds more than the board's bounds."""
    market, page, outbox = Market(), Board(), Board()
    page.absorb(market.board.view(reset=True))                         # what a page gets when it connects
    bound = 3 * (2 + PRINTS + POINTS + SETTLEMENTS)
    cuts_left = list(cut_at)
    for i, message in enumerate(FEED):
        for fact in take(market, message):
            outbox.put(fact)
        assert outbox.size() <= bound
        while cuts_left and cuts_left[0] == i:
            cuts_left.pop(0)
            page.absorb(outbox.take())
    page.absorb(outbox.take())
    assert encode(page.view(reset=True)) == encode(market.board.view(reset=True))


def test_a_page_that_never_reads_holds_one_quote_per_product():
    """The slowest page: the whole day in one outbox, conflated to the latest quote of each product."""
    outbox, market = Board(), Market()
    for message in FEED:
        for fact in take(market, message):
            outbox.put(fact)
    view = outbox.take()
    assert [q.product for q in view.quotes] == sorted(market.board.quotes)
    assert all(isinstance(q, Quote) for q in view.quotes) and not outbox
    assert sum(1 for kind, _, _ in FEED if kind == "quote") > 100 * len(view.quotes)
    assert all(isinstance(p, Point) for p in view.points)
    per_market = Counter(x.market for _, x, _ in FEED if isinstance(x, (s.Settled, s.GecCancelled)))
    assert len(view.settlements) == sum(min(n, SETTLEMENTS) for n in per_market.values())
