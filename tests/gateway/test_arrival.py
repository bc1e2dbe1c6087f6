"""When a record reached the exchange (DOMAIN U3, DESIGN stage 0), pure: a record an open transaction held back
is dated no earlier than it was last seen held, a sender's records keep their order, and a batch is sequenced in
the order its records arrived across senders (M1's time priority)."""
from __future__ import annotations

from typing import NamedTuple

from hypothesis import given, strategies as st

from certx.gateway.arrival import KEPT, Held, Unsequenced, arrivals, in_arrival_order


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


def test_U3_sightings_kept_with_the_position_date_the_records_after_a_restart_as_before():
    """A gateway that starts after a crash reads the sightings its predecessor committed with the position: a
    record its sender committed while no gateway ran is dated no earlier than it was last seen held."""
    held = Held()
    held.observe("B1", 10, 12, 2_000)
    held.observe("B1", 12, 14, 9_000)
    after = Held()
    after.restore("B1", held.kept("B1"))
    assert dated(after, [10, 12, 13, 14], [1_000, 1_500, 1_600, 9_500]) == [2_000, 9_000, 9_000, 9_500]
    assert Held().kept("B1") == ""


@given(st.integers(0, 2**62), st.lists(st.tuples(st.integers(0, 50), st.integers(1, 50), st.integers(0, 10**4)),
                                        min_size=KEPT - 5, max_size=3 * KEPT))
def test_U3_sightings_kept_fit_the_metadata_and_date_no_record_later_than_they_did(first, steps):
    """However many sightings a partition has (an open transaction after another), what goes with the position
    fits the broker's 4 KiB and dates each record no later than the sightings in memory did, nor earlier than its
    append time; past KEPT the oldest are merged into one that claims no more than each of them did."""
    held, stable, high, at = Held(), first, first, 1_000
    for more_stable, more_high, later in steps:      # the stable offset and the high watermark only move on
        stable, at = stable + more_stable, at + later
        high = max(high, stable) + more_high
        held.observe("B1", stable, high, at)
    text = held.kept("B1")
    assert len(text.encode()) <= 4096
    after = Held()
    after.restore("B1", text)
    offsets = range(first, high + 2)
    appended = [500] * len(offsets)
    before_crash, after_crash = dated(held, list(offsets), appended), dated(after, list(offsets), appended)
    assert all(500 <= a <= b for a, b in zip(after_crash, before_crash))
    assert after_crash[-3:] == before_crash[-3:]       # the newest sighting kept as it was
    seen = held.sighted("B1")
    covered = [k for k, o in enumerate(offsets) if any(s.stable <= o < s.high for s in seen)]
    assert all(after_crash[k] >= seen[0].at for k in covered), "no record seen held is dated as if never seen"


@given(st.text(max_size=64) | st.binary(max_size=64).map(lambda b: "held/1 " + b.decode("latin-1")))
def test_U3_metadata_that_is_not_sightings_restores_none(text):
    """An older release's empty metadata, or any text not written by `kept`, is no sightings (never an error)."""
    held = Held()
    held.restore("B1", text)
    assert held.sighted("B1") is None or all(s.stable < s.high for s in held.sighted("B1"))


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


# --- across batches: a record is sequenced only once no unread record can have arrived before it ---------------
# A fetch brings each partition's records only so far (max.partition.fetch.bytes, the gateway's max_records), so
# a sender with a backlog (a gateway restarting, or lagging) is read over several batches while a quiet sender's
# later record comes in the first. Sequenced batch by batch, that later record (the operator's session.close at
# 15:00) went into the market ahead of orders that reached the exchange before it (at 14:59).

def test_D1_M1_a_later_record_waits_for_a_backlog_that_arrived_before_it():
    waiting = Unsequenced()
    waiting.add(("in.B1", 0), arrivals("in.B1", 0, [Rec(0), Rec(1)], [1_000, 1_001], None))
    waiting.add(("in.operator", 0), arrivals("in.operator", 0, [Rec(0)], [1_005], None))
    first = waiting.release(behind=[("in.B1", 0)])          # B1 has committed records not read yet
    assert [(a.topic, a.record.offset) for a in first] == [("in.B1", 0)], "B1's next may share 1_001's millisecond"
    assert waiting.first(("in.operator", 0)) == 0, "its position is committed before it: read again after a crash"
    floor = waiting.last(("in.B1", 0))
    waiting.add(("in.B1", 0), arrivals("in.B1", 0, [Rec(2), Rec(3)], [1_004, 1_009], None, floor))
    second = waiting.release(behind=[])                      # B1 read to its end
    assert [(a.topic, a.record.offset) for a in second] == [("in.B1", 1), ("in.B1", 2), ("in.operator", 0),
                                                           ("in.B1", 3)]
    assert waiting.first(("in.operator", 0)) is None and not waiting


def test_M1_a_record_seen_after_a_later_one_was_sequenced_is_dated_no_earlier_than_it():
    """B0's partition showed nothing unread, so B1's record of 1_010 went into the market; B0's record of 1_007 was
    appended before it but readable only after (the broker stamps before a fetch can see, and partitions are not
    read at one instant). It is sequenced next, dated 1_010: a market's times never go backwards (M1, M3)."""
    waiting = Unsequenced()
    waiting.add(("in.B1", 0), arrivals("in.B1", 0, [Rec(0)], [1_010], None))
    assert [a.at for a in waiting.release(behind=[])] == [1_010]
    waiting.add(("in.B0", 0), arrivals("in.B0", 0, [Rec(0), Rec(1)], [1_007, 1_012], None))
    waiting.add(("in.B2", 0), arrivals("in.B2", 0, [Rec(0)], [1_009], None))
    assert [(a.topic, a.at) for a in waiting.release(behind=[])] == [("in.B0", 1_010), ("in.B2", 1_010),
                                                                     ("in.B0", 1_012)]


@given(st.integers(0, 10**15), st.text(max_size=24) | st.integers().map(lambda n: f"latest/1 {n}"))
def test_M1_the_last_time_sequenced_goes_with_the_position_and_nothing_else_moves_it(at, other):
    """A restarted gateway carries on from the last time its predecessor sequenced (so a record caught in the
    race above after a restart is not dated before the last command written); text it did not write changes
    nothing, and a restore never takes the time back."""
    waiting = Unsequenced()
    waiting.add(("in.B1", 0), arrivals("in.B1", 0, [Rec(0)], [at], None))
    waiting.release(behind=[])
    after = Unsequenced()
    after.restore(waiting.kept())
    assert after.latest == at
    after.restore(other)
    assert after.latest >= at and (after.latest == at or other == f"latest/1 {after.latest}")


def test_U3_a_senders_records_keep_their_order_across_batches():
    waiting = Unsequenced()
    waiting.add(("in.B1", 0), arrivals("in.B1", 0, [Rec(0)], [1_001], None))
    later = arrivals("in.B1", 0, [Rec(1)], [1_000], None, waiting.last(("in.B1", 0)))   # the broker's clock stepped back
    assert [a.at for a in later] == [1_001]


# Senders' partitions, each a run of records with nondecreasing append times, read a few records at a time in any
# interleaving of fetches: the records are sequenced exactly as if all had been read in one batch.
partitions = st.lists(st.lists(st.integers(min_value=0, max_value=20), max_size=12), min_size=1, max_size=4)


@given(partitions, st.lists(st.tuples(st.integers(min_value=0, max_value=3), st.integers(min_value=1, max_value=4)),
                            max_size=40))
def test_M1_records_are_sequenced_in_arrival_order_whatever_the_fetches_bring(gaps, fetches):
    times = [[1_000 + sum(g[:i + 1]) for i in range(len(g))] for g in gaps]
    read = [0] * len(times)
    waiting, sequenced = Unsequenced(), []
    for which, count in fetches + [(p, len(t)) for p, t in enumerate(times)]:
        p = which % len(times)
        chunk = range(read[p], min(read[p] + count, len(times[p])))
        if chunk:
            waiting.add((f"in.B{p}", 0), arrivals(f"in.B{p}", 0, [Rec(o) for o in chunk],
                                                 [times[p][o] for o in chunk], None, waiting.last((f"in.B{p}", 0))))
            read[p] = chunk.stop
        behind = [(f"in.B{q}", 0) for q in range(len(times)) if read[q] < len(times[q])]
        sequenced += [(a.at, a.topic, a.record.offset) for a in waiting.release(behind)]
    everything = sorted((t, f"in.B{p}", o) for p, ts in enumerate(times) for o, t in enumerate(ts))
    assert sequenced == everything and not waiting


def test_M1_a_sender_read_past_the_frontier_is_ahead_and_the_one_at_it_is_not():
    """The gateway stops fetching a partition with many records waiting only if it is ahead: the one the frontier
    is at must be read on, or a batch appended in one millisecond would wait for ever."""
    waiting = Unsequenced()
    waiting.add(("in.B1", 0), arrivals("in.B1", 0, [Rec(o) for o in range(5)], [1_000] * 5, None))
    waiting.add(("in.B2", 0), arrivals("in.B2", 0, [Rec(0)], [1_007], None))
    assert waiting.release(behind=[("in.B1", 0), ("in.B2", 0)]) == []
    assert not waiting.ahead(("in.B1", 0)) and waiting.ahead(("in.B2", 0))
