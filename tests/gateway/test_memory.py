"""The door's memory read back from the command log at a start (certx.gateway.memory), pure: what a restarted
gateway remembers of the day is what the live one did, shared fairly among senders (DOMAIN D2, A1)."""
from __future__ import annotations

import random

import msgspec

from certx.gateway import Door
from certx.gateway.memory import LogOrder, learned, recall
from certx.wire.codec import encode
from certx.wire.routing import MARKET_OF

NOW = 1_790_000_000_000
MARKETS = [MARKET_OF[p] for p in sorted(MARKET_OF)]


def raw(**fields) -> bytes:
    return msgspec.json.encode(fields)


def order(order_id: str, product: str) -> bytes:
    return raw(type="order.new", order_id=order_id, account="A", product=product, side="buy", quantity=1,
               price="1.00")


class Day:
    """A live door and the command log it writes, each market's partition as (record time, value)."""

    def __init__(self, remember: int) -> None:
        self.door = Door(remember)
        self.log: dict[str, list[tuple[int, bytes]]] = {m: [] for m in MARKETS}
        self.at = NOW

    def send(self, value: bytes, sender: str) -> None:
        self.at += 1
        admitted = self.door.admit(value, sender, self.at)
        for market in admitted.markets:
            self.log[market].append((admitted.at, encode(admitted.command)))

    def opening(self) -> dict[str, int]:
        """The operator opens every market: where each partition's day begins."""
        for m in MARKETS:
            self.send(raw(type="session.open", id=f"open-{m}", market=m, date="2026-09-22"), "operator")
        return {m: len(records) - 1 for m, records in self.log.items()}


def rebuilt(log: dict[str, list[tuple[int, bytes]]], starts: dict[str, int], remember: int, fetch: int) -> Door:
    """A new door fed each partition from its day's start, `fetch` records of a partition at a time, as the
    gateway's reader does."""
    door, order_ = Door(remember), LogOrder(MARKETS)
    at = dict(starts)
    while order_.reading:
        for market in order_.empty():
            records = log[market][at[market]:at[market] + fetch]
            at[market] += len(records)
            order_.add(market, [(t, v) for t, v in records if learned(v)])
            if at[market] >= len(log[market]):
                order_.finished(market)
        for market, value in order_.ready():
            recall(door, market, value)
    return door


def memory(door: Door) -> tuple:
    return (list(door.targets.items()), door.owners, list(door.reused.items()),
            {s: list(ids) for s, ids in door.targets._of.items()})


def test_D2_A1_the_memory_read_back_from_a_days_log_with_another_brokers_flood_is_the_live_doors():
    """B1 rests orders in GEC and CEA, B2 floods more orders than the door remembers into CEA and CCER (and
    reuses one of B1's ids), then B1 sends one more. Live, B2 forgets its own oldest orders only. Read back from the
    day's opening (only orders since it can still be targeted: D2), in log order, the memory is the same, and
    B1's cancels without a market, and bids in its auction, are routed (A1, M3); the last `remember` records of each partition, as the gateway
    read them before, held none of B1's CEA or GEC orders."""
    day = Day(remember=20)
    for k in range(5):
        day.send(order(f"yesterday-{k}", "CEA21"), "B2")          # before the opening: expired (D2)
    starts = day.opening()
    day.send(order("b1-gec", "GEC"), "B1")
    day.send(order("b1-cea", "CEA21"), "B1")
    day.send(raw(type="auction.open", id="b1-au", auction_id="b1-au", product="CCER", seller="A", quantity=1,
                 reserve_price="1.00", closes_at="2026-09-22T15:00:00+08:00"), "B1")
    for k in range(50):
        day.send(order(f"flood-{k}", "CEA21" if k % 2 else "CCER"), "B2")
        if k == 10:
            day.send(order("b1-gec", "CCER"), "B2")            # B2 reuses B1's id: the second memory
    day.send(order("b1-ccer", "CCER"), "B1")
    assert {"b1-gec", "b1-cea", "b1-au", "b1-ccer"} <= set(day.door.targets)

    for fetch in (1, 3, 1000):
        door = rebuilt(day.log, starts, 20, fetch)
        assert memory(door) == memory(day.door), f"read {fetch} records of a partition at a time"
    for order_id, market in (("b1-gec", "GEC"), ("b1-cea", "CEA"), ("b1-ccer", "CCER")):
        cancel = door.admit(raw(type="order.cancel", order_id=order_id, account="A"), "B1", day.at + 1)
        assert cancel.markets == (market,), order_id
    bid = door.admit(raw(type="auction.bid", order_id="bid", account="B", auction_id="b1-au", quantity=1,
                         price="1.00"), "B3", day.at + 1)
    assert bid.markets == ("CCER",)
    own = door.admit(raw(type="order.cancel", order_id="b1-gec", account="A"), "B2", day.at + 1)
    assert own.markets == ("CCER",)

    tails = {m: max(0, len(records) - 20) for m, records in day.log.items()}
    before = rebuilt(day.log, tails, 20, 1000)
    assert "b1-cea" not in before.targets, "the flood's tail of CEA held no earlier order"


def test_D2_A1_any_days_memory_read_back_is_the_live_doors():
    """Random days: senders of every size, orders and auctions in every market, ids reused by other senders, a
    memory much smaller than the day, read back a few records at a time: always the live door's memory (A1)."""
    products = ("CEA21", "CCER", "GEC")
    for seed in range(30):
        rng = random.Random(seed)
        day = Day(remember=rng.randint(5, 40))
        starts = day.opening()
        senders = [f"B{k}" for k in range(rng.randint(1, 5))]
        weights = [rng.randint(1, 20) for _ in senders]
        for k in range(rng.randint(50, 300)):
            sender = rng.choices(senders, weights)[0]
            order_id = f"o{rng.randint(0, 80)}" if rng.random() < 0.3 else f"{sender}-{k}"
            if rng.random() < 0.1:
                day.send(raw(type="auction.open", id=order_id, auction_id=order_id, product="CEA21", seller="A",
                             quantity=1, reserve_price="1.00", closes_at="2026-09-22T15:00:00+08:00"), sender)
            else:
                day.send(order(order_id, rng.choice(products)), sender)
        assert memory(rebuilt(day.log, starts, day.door.remember, rng.randint(1, 50))) == memory(day.door), seed


def test_the_markets_records_are_merged_in_log_order_waiting_for_a_partition_still_being_read():
    """By record time, equal times in the order the markets are given; nothing is ready while a partition still
    being read has nothing buffered, since its next record may come first."""
    merged = LogOrder(["CEA", "CCER", "GEC"])
    merged.add("CEA", [(1, b"a1"), (3, b"a3"), (5, b"a5")])
    merged.add("GEC", [(3, b"g3")])
    assert list(merged.ready()) == [] and merged.empty() == ["CCER"]
    merged.add("CCER", [(2, b"c2"), (3, b"c3")])
    assert list(merged.ready()) == [("CEA", b"a1"), ("CCER", b"c2"), ("CEA", b"a3"), ("CCER", b"c3")]
    assert merged.empty() == ["CCER"], "CCER's next record may be of time 3 too, and go before GEC's"
    merged.finished("CCER")
    assert list(merged.ready()) == [("GEC", b"g3")]
    merged.finished("GEC")
    assert list(merged.ready()) == [("CEA", b"a5")] and merged.reading == {"CEA"}


def test_only_what_the_door_learns_is_decoded_at_a_start():
    """Orders and auctions, as the gateway writes them; a refusal of an order, a cancel or a session command
    is passed over unread."""
    door = Door()
    admitted = [door.admit(v, s, NOW) for v, s in (
        (order("o1", "GEC"), "B1"), (order("o2", "GEC").replace(b'"buy"', b'"hold"'), "B1"),
        (raw(type="order.cancel", order_id="o1", account="A"), "B1"),
        (raw(type="auction.open", id="au1", auction_id="au1", product="CEA21", seller="A", quantity=1, reserve_price="1.00",
             closes_at="2026-09-22T15:00:00+08:00"), "operator"),
        (raw(type="session.open", id="s", market="CEA", date="2026-09-22"), "operator"))]
    assert [learned(encode(a.command)) for a in admitted] == [True, False, False, True, False]
