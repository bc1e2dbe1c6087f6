"""What the market page shows, folded from the feed: pure (no I/O, no clock; times are the records' own).

The page shows, per product, its latest quote (the five-level book, the day, the bands), the last trades (the
tape), the last prices of the day (the chart of the price against its band) and the day's close once it is
published; and, per market, the last settled trades and GEC cancellations. All of it is bounded: the board
keeps the latest quote and close per product, and the last few of everything else.

Two parts:
- `Board` holds facts, bounded, and does nothing else: the server's state is a board, and so is what each
  browser has not been sent yet (its outbox). A slow browser's outbox conflates as the board does: a newer quote
  replaces the older, the tape keeps its last prints. So an outbox never grows past the board's bounds, and a
  page that merges what it is sent (`View`) ends up holding what the server holds (`Board.absorb` is that merge,
  which page.js does the same way).
- `Market` turns the feed's messages into facts, once, against the server's board: it drops a stale or
  repeated message (a quote, event or settlement at or below its market's last seq: a settlement republished
  after a projector's crash), and it knows when a quote shows a new last price (a point on the chart).
"""
from __future__ import annotations

import datetime as dt
from collections import deque
from typing import Union

import msgspec

from certx.money import Fen
from certx.wire import events as e
from certx.wire import settlements as st
from certx.wire.marketdata import Quote

PRINTS = 12             # trades on the tape, per product
POINTS = 600            # last prices on the chart, per product
SETTLEMENTS = 8         # rows of the settlement panel, per market


class Print(msgspec.Struct, kw_only=True, gc=False):
    """A trade as the tape shows it: no accounts, no orders."""

    at: int                 # the trade's time: its event's record timestamp (the command's, the exchange's), ms
    trade_id: str
    product: str
    mode: str
    price: Fen
    quantity: int


class Point(msgspec.Struct, kw_only=True, gc=False):
    """A new last listing price of a product (from its quotes), at the time of the batch it came from."""

    at: int
    product: str
    date: dt.date | None    # the trading day: the chart shows today's points against today's band
    price: Fen


class Limits(msgspec.Struct, kw_only=True):
    """The board's bounds, sent with the whole board: the page keeps what the server keeps."""

    prints: int = PRINTS
    points: int = POINTS
    settlements: int = SETTLEMENTS


Settlement = Union[st.Settled, st.GecCancelled]
Fact = Union[Quote, Print, Point, e.DaySummary, st.Settled, st.GecCancelled]


class View(msgspec.Struct, kw_only=True):
    """What one message to a page holds: the whole board (`reset`: replace what you hold) or what changed since
    the last message. Lists are oldest first; a page appends them and keeps the last `limits` of each."""

    reset: bool
    limits: Limits | None
    quotes: list[Quote]
    closes: list[e.DaySummary]
    prints: list[Print]
    points: list[Point]
    settlements: list[Settlement]   # by market, then oldest first


class Board:
    """Facts, bounded: the latest quote and close of each product, its last prints and points, each market's
    last settlements."""

    __slots__ = ("quotes", "closes", "prints", "points", "settlements")

    def __init__(self) -> None:
        self.quotes: dict[str, Quote] = {}
        self.closes: dict[str, e.DaySummary] = {}
        self.prints: dict[str, deque[Print]] = {}
        self.points: dict[str, deque[Point]] = {}
        self.settlements: dict[str, deque[Settlement]] = {}

    def put(self, fact: Fact) -> None:
        match fact:
            case Quote():
                self.quotes[fact.product] = fact
            case Print():
                self.prints.setdefault(fact.product, deque(maxlen=PRINTS)).append(fact)
            case Point():
                self.points.setdefault(fact.product, deque(maxlen=POINTS)).append(fact)
            case e.DaySummary():
                self.closes[fact.product] = fact
            case st.Settled() | st.GecCancelled():
                self.settlements.setdefault(fact.market, deque(maxlen=SETTLEMENTS)).append(fact)

    def __bool__(self) -> bool:
        return bool(self.quotes or self.closes or self.prints or self.points or self.settlements)

    def size(self) -> int:
        """Facts held: at most products × (2 + PRINTS + POINTS) + markets × SETTLEMENTS."""
        return (len(self.quotes) + len(self.closes) + sum(map(len, self.prints.values()))
                + sum(map(len, self.points.values())) + sum(map(len, self.settlements.values())))

    def view(self, reset: bool) -> View:
        return View(reset=reset, limits=Limits() if reset else None,
                    quotes=[self.quotes[p] for p in sorted(self.quotes)],
                    closes=[self.closes[p] for p in sorted(self.closes)],
                    prints=[x for p in sorted(self.prints) for x in self.prints[p]],
                    points=[x for p in sorted(self.points) for x in self.points[p]],
                    settlements=[x for m in sorted(self.settlements) for x in self.settlements[m]])

    def take(self) -> View:
        """An outbox's message: what it holds, which it then forgets."""
        view = self.view(reset=False)
        self.__init__()
        return view

    def absorb(self, view: View) -> None:
        """Merge a message as the page does: a reset first forgets everything."""
        if view.reset:
            self.__init__()
        for facts in (view.quotes, view.closes, view.prints, view.points, view.settlements):
            for fact in facts:
                self.put(fact)


class Market:
    """The server's board, and the facts each message of the feed adds to it (to pass on to every outbox)."""

    def __init__(self) -> None:
        self.board = Board()
        self.seq: dict[tuple[str, str], int] = {}      # (stream, market) -> the last seq taken

    def _fresh(self, stream: str, market: str, seq: int) -> bool:
        key = (stream, market)
        if seq <= self.seq.get(key, -1):
            return False
        self.seq[key] = seq
        return True

    def quote(self, q: Quote, at: int) -> list[Fact]:
        """A quote (certx.marketdata); `at` its record's timestamp, the batch's latest command time."""
        held = self.board.quotes.get(q.product)
        if held is not None and q.seq <= held.seq:
            return []
        facts: list[Fact] = [q]
        if q.last is not None and (held is None or (held.date, held.last, held.listing_volume)
                                   != (q.date, q.last, q.listing_volume)):
            facts.append(Point(at=at, product=q.product, date=q.date, price=q.last))
        return self._put(facts)

    def event(self, event: e.Event, at: int) -> list[Fact]:
        """An engine event (certx.events): its trades go on the tape, its day summaries are the closes."""
        if not self._fresh("events", event.market, event.seq):
            return []
        match event:
            case e.Trade():
                return self._put([_print(event, at)])
            case e.Allocated():         # a 24/7 match: its trades are in it
                return self._put([_print(trade, at) for trade in event.trades])
            case e.DaySummary():
                return self._put([event])
        return []

    def settlement(self, s: st.Settlement) -> list[Fact]:
        """A settlement event (certx.settlements): settled trades and GEC cancellations go on the panel."""
        if not self._fresh("settlements", s.market, s.seq) or not isinstance(s, (st.Settled, st.GecCancelled)):
            return []
        return self._put([s])

    def _put(self, facts: list[Fact]) -> list[Fact]:
        for fact in facts:
            self.board.put(fact)
        return facts


def _print(trade: e.Trade, at: int) -> Print:
    return Print(at=at, trade_id=trade.trade_id, product=trade.product, mode=trade.mode, price=trade.price,
                 quantity=trade.quantity)
