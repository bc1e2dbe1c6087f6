"""The operator's measures of a replay through the real stack (certx.kafka.measures): each command from its send
to its first answer, each trade to its settlement, the backlogs, and the days' figures. Pure bookkeeping, tested
on the embedded replay's events of the shipped sample day."""
from __future__ import annotations

import msgspec

from certx.cli import sample_path
from certx.kafka.measures import Measures
from certx.kafka.submit import recorded_ms
from certx.ledger import Ledger
from certx.replay import Replay
from certx.report import measures as report
from certx.wire import events as e


def test_every_command_is_answered_every_trade_settled_and_the_day_is_counted():
    lines = [x for x in sample_path().read_bytes().splitlines() if x.strip()]
    m, replay, ledger = Measures(), Replay(), Ledger()
    wall, trades = 1000.0, 0
    for line in lines:
        m.command(line, recorded_ms(line), wall)
        assert m.sample(wall).matcher_lag >= 1, "a command sent waits for its answer"
        for ev in replay.feed(line):
            trades += isinstance(ev, e.Trade)
            wall += 0.001
            m.event(ev, wall)
            for st in ledger.apply(ev):
                m.settlement(st, wall + 0.002)
        wall += 0.01
    last = m.sample(wall + 1)
    assert m.caught_up() and last.matcher_lag == 0 and last.projector_lag == 0
    figures = m.figures(speed=600)
    run, day = figures.run, figures.days["2021-12-16"]
    assert trades > 100 and day["commands"] == len(lines) and day["trades"] == trades == day["settled"]
    assert day["traded_value_fen"] == day["settled_cash_fen"] and run["settled_equals_trades"]
    assert run["latency"]["count"] == len(lines), "each send answered once, a cancel's too"
    assert 1.0 <= run["latency"]["p50_ms"] <= run["latency"]["max_ms"]
    assert run["settle_latency"]["count"] == trades
    assert {s["product"] for s in run["summaries"]} == {"CEA", "CCER", "GEC"}
    assert day["rejections"]["price_out_of_band"] == 2
    assert report.decode(msgspec.json.encode(figures)) == figures, "what certx report --measures reads"


def test_a_ref_sent_again_waits_for_an_answer_again():
    """A cancel carries the ref of the order it cancels: its answer is the first event after it was sent."""
    m = Measures()
    m.command(b'{"type":"order.new","order_id":"o1","at":"2021-12-16T10:00:00+08:00"}', None, 1.0)
    m.event(e.OrderAccepted(order_id="o1", account="A", product="CEA", side="buy", quantity=1, price=1, ref="o1",
                            market="CEA", seq=0, origin=e.Origin(0, 0, 0)), 1.010)
    m.command(b'{"type":"order.cancel","order_id":"o1","at":"2021-12-16T10:01:00+08:00"}', None, 2.0)
    assert m.sample().matcher_lag == 1
    m.event(e.OrderCancelled(order_id="o1", account="A", remaining=1, ref="o1", market="CEA", seq=1,
                             origin=e.Origin(0, 1, 0)), 2.020)
    assert m.sample().matcher_lag == 0
    assert sorted(round(x) for x in m.days[""].latency) == [10, 20]


def test_a_settlement_read_before_its_trade_waits_for_it():
    """`follow` fetches certx.events and certx.settlements independently, so a backlog of events can put a trade's
    settlement first: it is counted, with its own time, once its trade is read, and the day's cash still agrees."""
    lines = [x for x in sample_path().read_bytes().splitlines() if x.strip()]
    m, replay, ledger = Measures(), Replay(), Ledger()
    wall = 1000.0
    for line in lines:
        m.command(line, recorded_ms(line), wall)
        events = replay.feed(line)
        settled_at = wall + 0.005
        for ev in events:                       # every settlement of the command first, its events after
            for st in ledger.apply(ev):
                m.settlement(st, settled_at)
        for ev in events:
            m.event(ev, wall + 0.050)
        wall += 0.1
    run, day = m.figures(speed=None).run, m.figures(speed=None).days["2021-12-16"]
    assert m.caught_up() and not m.early
    assert run["settled"] == run["trades"] > 100 and run["settled_equals_trades"]
    assert day["traded_value_fen"] == day["settled_cash_fen"]
    assert run["settle_latency"]["count"] == run["trades"] and run["settle_latency"]["max_ms"] <= 5.01
