"""Aggregators on the real stack (issue 13, item 5): an agent's pooled lots of three distributed-PV projects sold
through the gateway and the matcher, a matcher killed after snapshots that hold a pooled lot and restored from
them, the committed events equal to the embedded replay's byte for byte (U3); the projector settles each fill as
its owners' trades, so PostgreSQL shows each owner paid its part (A4) and the cancellations naming each project in
the buyers' beneficiaries' names (G1), and a certificate's provenance names its project and the agent."""
from __future__ import annotations

import pytest

from certx.store import open_store
from certx.wire import events as e
from tests.kafka.conftest import through_a_restore
from tests.kafka.test_hours import line
from tests.kafka.test_projector import engine_events, wait_settled

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

BROKER = {"O1": "B2", "O2": "B2", "O3": "B2", "AG": "B9", "A": "B1", "C": "B3"}
PROJECT = {"O1": "PV-1", "O2": "PV-2", "O3": "PV-3"}


def order(at: str, order_id: str, account: str, side: str, quantity: int, price: str, **terms) -> bytes:
    return line(at, type="order.new", order_id=order_id, actor=BROKER[account], account=account, product="GEC",
                side=side, quantity=quantity, price=price, **terms)


def pool(rule: str, *shares: tuple[str, int, int]) -> dict:
    return {"rule": rule, "shares": [{"owner": o, "first_serial": f, "last_serial": l} for o, f, l in shares]}


def first_half() -> list[bytes]:
    out = [line("08:00", type="account.open", id=f"o-{a}", actor="registry", account=a, broker=b)
           for a, b in BROKER.items()]
    out += [line("08:01", type="funds.deposit", id=f"d-{a}", actor="bank", account=a, market="GEC", amount="10000")
            for a in ("A", "C")]
    for owner, first in (("O1", 1), ("O2", 101), ("O3", 201)):
        out += [line("08:02", type="issue.gec", id=f"i-{owner}", actor="registry", account=owner,
                     project=PROJECT[owner], province="Gansu", technology="solar", production_month="2025-05",
                     subsidised=False, first_serial=first, last_serial=first + 99),
                line("08:03", type="mandate.grant", id=f"m-{owner}", actor="registry", agent="AG", owner=owner,
                     project=PROJECT[owner], filing_code=f"DPV-{owner}", valid_from="2025-06-01",
                     valid_to="2026-05-31")]
    out += [line("09:00", type="session.open", id="s-open", actor="operator", market="GEC", date="2025-06-16"),
            order("10:00", "P", "AG", "sell", 100, "2.00", pool=pool("pro_rata", ("O1", 1, 60), ("O2", 101, 130),
                                                                      ("O3", 201, 210))),
            order("10:01", "b1", "A", "buy", 50, "2.00", beneficiary="A data centre")]
    return out


def second_half() -> list[bytes]:
    return [line("10:30", type="order.lift", order_id="x1", actor="B3", account="C", market="GEC", target="P",
                 quantity=7),
            order("10:31", "P2", "AG", "sell", 20, "1.80", pool=pool("fifo", ("O2", 131, 140), ("O1", 61, 70))),
            order("10:32", "P3", "AG", "sell", 5, "1.80", pool=pool("fifo", ("O1", 65, 69))),     # in P2: refused
            order("10:33", "b2", "C", "buy", 15, "1.90", beneficiary="C works"),
            line("15:30", type="session.close", id="s-close", actor="operator", market="GEC", date="2025-06-16")]


def test_A4_G1_M4_a_pooled_lot_through_kafka_allocated_back_to_its_projects_owners(
        as_, topics, gateway, matchers, pg_dsn, projectors):
    operator, lines = as_("operator"), first_half() + second_half()
    got = through_a_restore(operator, topics, matchers, first_half(), second_half())

    events = engine_events(lines)
    assert [ev.reason for ev in events if isinstance(ev, e.OrderRejected)] == ["insufficient_holdings"]
    trades = [(t.buy_order, t.seller, t.agent, t.project, int(t.price), [tuple(r) for r in t.serials])
              for t in events if isinstance(t, e.Trade)]
    assert trades == [
        ("b1", "O1", "AG", "PV-1", 200, [(1, 30)]),         # pro rata, 60 : 30 : 10 of 100
        ("b1", "O2", "AG", "PV-2", 200, [(101, 115)]),
        ("b1", "O3", "AG", "PV-3", 200, [(201, 205)]),
        ("x1", "O1", "AG", "PV-1", 200, [(31, 34)]),        # 4.2, 2.1, 0.7: the one left over to O3
        ("x1", "O2", "AG", "PV-2", 200, [(116, 117)]),
        ("x1", "O3", "AG", "PV-3", 200, [(206, 206)]),
        ("b2", "O2", "AG", "PV-2", 180, [(131, 140)]),      # FIFO, in the order listed
        ("b2", "O1", "AG", "PV-1", 180, [(61, 65)])]

    projector = projectors(pg_dsn)
    projector.wait_started()
    wait_settled(pg_dsn, {p: len(v) for p, v in got.items()})
    store = open_store(pg_dsn)
    try:
        paid = {a: store.holdings(a)["cash"].get("GEC") for a in ("O1", "O2", "O3", "AG")}
        data_centre = store.retirements("A data centre")
        works = store.retirements("C works")
        lifted = store.retirements("C")
        provenance = store.certificate(103)
        left = {o: [tuple(r) for r in store.holdings(o)["gec"]["serials"]] for o in ("O1", "O2", "O3")}
    finally:
        store.close()
    assert paid == {"O1": "77.00", "O2": "52.00", "O3": "12.00", "AG": None}
    assert [(r["serials"], r["project"]) for r in data_centre] == \
        [([1, 30], "PV-1"), ([101, 115], "PV-2"), ([201, 205], "PV-3")]
    assert [(r["serials"], r["project"]) for r in lifted] == \
        [([31, 34], "PV-1"), ([116, 117], "PV-2"), ([206, 206], "PV-3")]
    assert [(r["serials"], r["project"]) for r in works] == [([61, 65], "PV-1"), ([131, 140], "PV-2")]
    assert provenance["project"] == "PV-2" and provenance["status"] == "cancelled"
    [traded] = [h for h in provenance["history"] if h["step"] == "traded"]
    assert (traded["seller"], traded["agent"], traded["buyer"]) == ("O2", "AG", "A")
    # what no one bought is its owner's again after the close (D2)
    assert left == {"O1": [(35, 60), (66, 100)], "O2": [(118, 130), (141, 200)], "O3": [(207, 300)]}
