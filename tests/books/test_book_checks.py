"""Each book's `check()` holds on a book the engine's way of changing it leaves, and fails on one broken by hand:
the property tests (tests/properties) call it after every command, so it must be able to fail."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from certx.books.auction import Auction, SealedBid
from certx.books.block import BlockBoard, Offer
from certx.books.gec import Bid, Eligibility, GecBook, Lot
from certx.books.priority import PriceTime
from certx.books.listing import ListingBook, Resting
from certx.registry.issuance import Batch


def fails_its_check(book, breaks: Callable, message: str) -> None:
    """Break `book` by hand: its check() must say so."""
    breaks(book)
    with pytest.raises(AssertionError, match=message):
        book.check()


# --- listing (M1) ----------------------------------------------------------------------------------------------

def listing() -> ListingBook:
    """Two bid levels and two ask levels, one of them two orders deep, after a match, a lift and a cancel."""
    book = ListingBook("CEA21")
    for order in (Resting("b1", "A", True, 5000, 10), Resting("b2", "A", True, 4990, 10),
                  Resting("b3", "B", True, 5000, 5), Resting("s1", "S", False, 5010, 10),
                  Resting("s2", "T", False, 5020, 10), Resting("s3", "S", False, 5010, 7),
                  Resting("s4", "T", False, 5030, 3)):
        book.rest(order)
    book.match(True, 5010, 12)                  # takes s1 and 2 of s3
    book.take(book.orders["b2"], 4)
    book.cancel(book.orders["s4"])
    return book


def _swap_first_two(book: ListingBook) -> None:
    queue = book.bids.levels[5000].queue
    queue[0], queue[1] = queue[1], queue[0]


LISTING_BREAKS: dict[str, tuple[Callable[[ListingBook], None], str]] = {
    "crossed": (lambda b: b.rest(Resting("b9", "A", True, 5010, 1)), "crossed"),
    "an order not indexed": (lambda b: b.orders.pop("b3"), "not indexed"),
    "an indexed order resting nowhere": (lambda b: b.orders.__setitem__("x", Resting("x", "A", True, 4000, 1)),
                                         "orders indexed"),
    "a level's count": (lambda b: setattr(b.asks.levels[5010], "live", 2), "counts 2 live"),
    "time priority": (_swap_first_two, "time priority"),
    "an order filled in place": (lambda b: setattr(b.orders["s2"], "remaining", 0), "empty level"),
    "an order at another price": (lambda b: setattr(b.orders["b1"], "price", 4990), "does not belong"),
    "level keys out of order": (lambda b: b.bids.keys.reverse(), "out of order"),
}


def test_a_listing_book_as_the_engine_leaves_it_checks():
    listing().check()


@pytest.mark.parametrize("broken", LISTING_BREAKS)
def test_a_broken_listing_book_fails_its_check(broken):
    fails_its_check(listing(), *LISTING_BREAKS[broken])


# --- block (M2) ------------------------------------------------------------------------------------------------

def board() -> BlockBoard:
    board = BlockBoard()
    for offer in (Offer("k1", "S", "CEA21", False, 4800, 100_000, None, True),
                  Offer("k2", "A", "CEA21", True, 4700, 150_000, "T", False)):
        board.offers[offer.order_id] = offer
    return board


def test_a_block_board_checks():
    board().check()


@pytest.mark.parametrize("breaks, message", [
    (lambda b: setattr(b.offers["k1"], "remaining", 0), "0 at 4800 fen rests"),
    (lambda b: b.offers.__setitem__("k3", b.offers["k2"]), "filed as k3"),
], ids=["an offer taken in full", "an offer under another id"])
def test_a_broken_block_board_fails_its_check(breaks, message):
    fails_its_check(board(), breaks, message)


# --- one-way bidding (M3) --------------------------------------------------------------------------------------

def auction() -> Auction:
    auction = Auction("u1", "CEA21", "S", 5_000, 5000, 0)
    auction.bids += [SealedBid("a1", "A", 5100, 3_000), SealedBid("a2", "B", 5000, 5_000)]
    return auction


def test_an_auction_checks():
    auction().check()


@pytest.mark.parametrize("breaks, message", [
    (lambda a: setattr(a.bids[1], "price", 4999), "below the reserve"),
    (lambda a: setattr(a.bids[0], "quantity", 5_001), "bids for 5001"),
    (lambda a: a.bids.append(SealedBid("a1", "T", 5200, 1)), "twice"),
], ids=["a bid below the reserve", "a bid for more than is sold", "a bid id twice"])
def test_a_broken_auction_fails_its_check(breaks, message):
    fails_its_check(auction(), breaks, message)


# --- GEC (M4) --------------------------------------------------------------------------------------------------

BATCH = Batch("P1", "Gansu", "wind", "2025-06", False, 1, 100, 2027 * 12 + 5)


def gec() -> GecBook:
    book = GecBook()
    book.rest(Lot("l1", "S", 30, 1, 40, BATCH, 1))
    book.rest(Lot("l2", "T", 25, 41, 60, BATCH, 2))
    book.rest(Lot("l4", "T", 26, 61, 70, BATCH, 6, counterparty="A", partial=False))     # M5: not in the buckets
    book.rest(Bid("g1", "A", 20, 10, Eligibility(None), "A", 3))
    book.rest(Bid("g2", "B", 22, 5, Eligibility(None), "B", 4))
    book.take(book.orders["l1"], 10)
    return book


def test_a_gec_book_checks():
    gec().check()


GEC_BREAKS: dict[str, tuple[Callable[[GecBook], None], str]] = {
    "an empty lot resting": (lambda b: b.orders["l2"].serials.remove(41, 60), "counts 20"),
    "a lot counting what it has not": (lambda b: setattr(b.orders["l2"], "remaining", 21), "counts 21"),
    "two lots on one serial": (lambda b: b.rest(Lot("l3", "S", 35, 55, 70, BATCH, 5)), "share serials"),
    "a lot's second range on another's": (lambda b: _second_range(b.orders["l2"], 65, 66), "share serials"),
    "an addressed lot in the buckets": (lambda b: b.lots.add(b.orders["l4"]), "not the public lots"),
    "a public lot left out of the buckets": (lambda b: b.lots.remove(b.orders["l2"]), "not the public lots"),
    "a lot beyond its batch": (lambda b: _second_range(b.orders["l1"], 101, 101), "outside"),
    "a bid with nothing to buy": (lambda b: setattr(b.orders["g1"], "remaining", 0), "nothing to buy"),
    "an indexed bid not in the bids": (lambda b: b.orders.__setitem__("g3", Bid("g3", "A", 21, 1, Eligibility(None),
                                                                             "A", 6)), "not the indexed"),
    "a bid out of priority": (lambda b: setattr(b.orders["g1"], "price", 23), "out of priority"),
    "a bid filed in a cell its filter does not name": (
        lambda b: b.bids.filed.setdefault(("Gansu", None), PriceTime(highest=True)).add(b.orders["g1"]),
        "not the resting bids' cells"),
    "a cell's queue counting a bid it does not hold": (lambda b: setattr(b.bids.filed[(None, None)], "size", 3),
                                                       "3 orders counted, 2 resting"),
    "the bids counting one more": (lambda b: setattr(b.bids, "size", 3), "3 bids counted, 2 resting"),
}


def _second_range(lot: Lot, first: int, last: int) -> None:
    lot.serials.add(first, last)
    lot.remaining += last - first + 1


@pytest.mark.parametrize("broken", GEC_BREAKS)
def test_a_broken_gec_book_fails_its_check(broken):
    fails_its_check(gec(), *GEC_BREAKS[broken])
