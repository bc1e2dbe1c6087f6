"""When a record reached the exchange (DOMAIN U3, DESIGN stage 0), pure: a record an open transaction held back
is dated no earlier than it was last seen held, a sender's records keep their order, and a batch is sequenced in
the order its records arrived across senders (M1's time priority)."""
from __future__ import annotations

from typing import NamedTuple

from hypothesis import given, strategies as st

from certx.gateway.arrival import Held, arrivals, in_arrival_order


class Rec(NamedTuple):
    offset: int


def dated(held: Held, offsets: list[int], times: list[int], source: str = "B1") -> list[int]:
    return [a.at for a in arrivals(source, 0, [Rec(o) for o in offsets], times, held.sighted(source))]


def test_U3_a_record_never_held_is_dated_by_its_append_time():
    held = Held()
    held.observe("B1", 5, 5, 900)          # stable = high: nothing held
    assert dated(held, [5, 6], [1000, 1001]) == [1000, 1001]
    assert held.sighted("B1") is None


def test_U3_a_held_record_is_dated_no_earlier_than_it_was_last_seen_held():
    held = Held()
    held.observe("B1", 10, 11, 2_000)      # offset 10 appended, its transaction open
    held.observe("B1", 10, 12, 9_000)      # still open, and 11 appended behind it
    assert dated(held, [10, 11, 12], [1_000, 5_000, 9_500]) == [9_000, 9_000, 9_500]


def test_U3_a_record_seen_held_before_it_was_appended_keeps_its_append_time():
    held = Held()
    held.observe("B1", 10, 11, 2_000)
    assert dated(held, [11], [3_000]) == [3_000]


def test_U3_sightings_end_with_the_records_they_held():
    held = Held()
    held.observe("B1", 10, 12, 2_000)
    held.observe("B1", 12, 14, 3_000)      # 10 and 11 committed; 12 and 13 held by the next transaction
    held.passed("B1", 12)
    assert held.sighted("B1") == [(12, 14, 3_000)]
    held.passed("B1", 14)
    assert held.sighted("B1") is None


def test_U3_a_senders_records_keep_their_order_when_clocks_differ_by_a_millisecond():
    assert dated(Held(), [1, 2, 3], [1_001, 1_000, 1_002]) == [1_001, 1_001, 1_002]


def test_M1_a_batch_is_sequenced_in_the_order_its_records_arrived_across_senders():
    b1 = arrivals("in.B1", 0, [Rec(0), Rec(1)], [1_000, 1_003], None)
    b2 = arrivals("in.B2", 0, [Rec(7), Rec(8)], [1_001, 1_003], None)
    order = [(a.topic, a.record.offset) for a in in_arrival_order([b1, b2])]
    assert order == [("in.B1", 0), ("in.B2", 7), ("in.B1", 1), ("in.B2", 8)], "ties by topic"
    assert in_arrival_order([b1]) == b1


# A partition's history: records appended, alone or in a transaction, transactions committed, and fetches that
# report the last stable and high offsets. Each record's dated time must lie between the last sighting that held
# it and the time it became readable: never earlier than the exchange saw it held, never later than it could
# be read (or its append time, when it never was held).
steps = st.lists(st.tuples(st.sampled_from(["append", "append_in_txn", "commit", "fetch"]),
                           st.integers(min_value=0, max_value=50)), max_size=60)


@given(steps)
def test_U3_dated_between_the_last_sighting_held_and_the_time_it_became_readable(history):
    held, now = Held(), 1_000
    appended: list[int] = []
    readable: dict[int, int] = {}
    open_from: int | None = None            # the first offset of the open transaction
    last_held: dict[int, int] = {}
    for step, pause in history + [("commit", 1)]:
        now += pause
        high = len(appended)
        if step == "append":
            appended.append(now)
            if open_from is None:
                readable[high] = now
        elif step == "append_in_txn":
            appended.append(now)
            open_from = high if open_from is None else open_from
        elif step == "commit" and open_from is not None:
            readable.update((o, now) for o in range(open_from, high))
            open_from = None
        elif step == "fetch":
            stable = high if open_from is None else open_from
            held.observe("B1", stable, high, now)
            last_held.update((o, now) for o in range(stable, high))
    offsets = list(range(len(appended)))
    got = dated(held, offsets, appended)
    for o, at in zip(offsets, got):
        assert at == max([appended[o], last_held.get(o, 0)] + got[:o][-1:])
        assert at <= readable[o] or (o > 0 and at == got[o - 1]), "never later than readable, save to keep order"
    assert got == sorted(got)
