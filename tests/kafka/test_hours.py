"""Hours on GECs on the real stack (issue 13, items 1 and 2): a curve attached, bids with hours taking serials from
the middle of lots, a matcher killed after snapshots that hold the curve, a lot in several ranges and a bid with
hours, and restored from them; the committed events equal the embedded replay's byte for byte (U3), and the
projector cancels in PostgreSQL exactly the serials each trade took, in the buyer's beneficiary's name (G1)."""
from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from certx.store import open_store
from certx.wire import events as e
from certx.wire.codec import decode_event
from tests.kafka.conftest import through_a_restore
from tests.kafka.test_projector import engine_events, wait_settled

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

CST = dt.timezone(dt.timedelta(hours=8))


def line(at: str, **command) -> bytes:
    return msgspec.json.encode({"at": dt.datetime.fromisoformat(f"2025-06-16T{at}:00").replace(tzinfo=CST).isoformat(),
                                **command})


def sun(hours: int) -> list[int]:
    """1,000 kWh in each hour 10:00-14:00 China time: four certificates a day, each inside one hour."""
    return [1_000 if 10 <= h % 24 < 14 else 0 for h in range(hours)]


def gec_order(at: str, order_id: str, account: str, side: str, quantity: int, price: str, **terms) -> bytes:
    broker = {"S": "B2", "A": "B1", "C": "B3"}[account]
    return line(at, type="order.new", order_id=order_id, actor=broker, account=account, product="GEC", side=side,
                quantity=quantity, price=price, **terms)


def first_half() -> list[bytes]:
    out = [line("08:00", type="account.open", id=f"o-{a}", actor="registry", account=a, broker=b)
           for a, b in (("S", "B2"), ("A", "B1"), ("C", "B3"))]
    out += [line("08:01", type="funds.deposit", id=f"d-{a}", actor="bank", account=a, market="GEC", amount="10000")
            for a in ("A", "C")]
    out += [line("08:02", type="issue.gec", id="i-may", actor="registry", account="S", project="SUN",
                 province="Gansu", technology="solar", production_month="2025-05", subsidised=False, first_serial=1,
                 last_serial=124),
            line("08:03", type="curve.attach", id="h-may", actor="registry", project="SUN", production_month="2025-05",
                 kwh=sun(744)),
            line("09:00", type="session.open", id="s-open", actor="operator", market="GEC", date="2025-06-16"),
            gec_order("10:00", "L1", "S", "sell", 124, "2.00", first_serial=1, last_serial=124),
            gec_order("10:01", "b1", "A", "buy", 6, "2.00", filter={"hours": [[10, 12]], "strict": True},
                      beneficiary="A data centre"),
            gec_order("10:02", "b2", "C", "buy", 50, "1.50", filter={"hours": [[13, 14]], "min_share": 100})]
    return out


def second_half() -> list[bytes]:
    return [gec_order("10:30", "L2", "S", "sell", 4, "1.20", first_serial=121, last_serial=124),   # in L1: refused
            gec_order("10:31", "b3", "A", "buy", 3, "2.00",
                      filter={"hours_from": "2025-05-02T12:00:00+08:00", "hours_to": "2025-05-03T11:00:00+08:00",
                              "strict": True}, beneficiary="A data centre"),
            line("10:32", type="order.lift", order_id="x1", actor="B3", account="C", market="GEC", target="L1",
                 quantity=2),
            line("15:30", type="session.close", id="s-close", actor="operator", market="GEC", date="2025-06-16")]


def test_G1_G4_M4_hours_through_kafka_a_matcher_restored_from_snapshots_with_hours_and_the_settled_serials(
        as_, topics, gateway, matchers, pg_dsn, projectors):
    operator, lines = as_("operator"), first_half() + second_half()
    got = through_a_restore(operator, topics, matchers, first_half(), second_half())

    events = engine_events(lines)
    trades = [ev for ev in events if isinstance(ev, e.Trade)]
    assert [(t.buy_order, [tuple(r) for r in t.serials]) for t in trades] == [
        ("b1", [(1, 2), (5, 6), (9, 10)]),                  # 10:00-12:00 of May 1st to 3rd
        ("b3", [(7, 8)]),                                  # 2nd 12:00-14:00 (the 3rd's 10:00 is b1's)
        ("x1", [(3, 4)])]                                  # a lift: the lowest left
    assert any(isinstance(ev, e.CurveAttached) for ev in map(decode_event, got[2]))
    projector = projectors(pg_dsn)
    projector.wait_started()
    wait_settled(pg_dsn, {p: len(v) for p, v in got.items()})
    store = open_store(pg_dsn)
    try:
        cancelled = store.retirements("A data centre")
    finally:
        store.close()
    assert [tuple(r["serials"]) for r in cancelled] == [(1, 2), (5, 6), (7, 8), (9, 10)]
    assert {r["owner"] for r in cancelled} == {"A"} and {r["project"] for r in cancelled} == {"SUN"}
