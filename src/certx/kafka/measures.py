"""What an operator measures while recorded days are replayed through the real stack (gateway, matcher, projector,
PostgreSQL): each command from its send to its first committed answer on `certx.events`, each trade from its
command's send to its `settled` event on `certx.settlements` (published once the settlement is committed in the
database), the backlogs over time, and each day's summaries as the engine published them.

The figures are written in the report's measures format (certx.report.measures, `certx report --measures`): a
sample every half second (the interval's latency percentiles, the backlogs, the throughput, the replayed day), the
whole run's figures and each day's.

`Measures` is pure bookkeeping fed by the sender (`command`) and by `follow`, which reads both topics
(read_committed, from where they stood when the replay began). The backlogs are the operator's view: commands sent
and not yet answered (the gateway's and the matcher's lag together), trades published and not yet settled (the
projector's). Answers are matched to commands by `ref`: a cancel has the ref of the order it cancels, so a ref
sent again waits for an answer again, and the first event with that ref after its latest send answers it.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter, defaultdict

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition

from certx.kafka.connection import Connection
from certx.kafka.topics import Topics
from certx.report import measures as report
from certx.rules import DEFAULT
from certx.wire import events as e
from certx.wire import settlements as s
from certx.wire.codec import decode_event, decode_settlement, encode
from certx.wire.routing import MARKET_OF

CST = dt.timezone(dt.timedelta(minutes=DEFAULT.utc_offset_minutes))


class _Ids(msgspec.Struct):
    id: str | None = None
    order_id: str | None = None


_ids = msgspec.json.Decoder(_Ids)


def percentiles(values: list[float]) -> dict:
    xs = sorted(values)
    if not xs:
        return {"count": 0}

    def q(p: float) -> float:
        return round(xs[min(len(xs) - 1, int(p * len(xs)))], 2)

    return {"count": len(xs), "p50_ms": q(0.5), "p99_ms": q(0.99), "p99_9_ms": q(0.999), "max_ms": round(xs[-1], 2)}


class Day:
    __slots__ = ("commands", "events", "trades", "settled", "latency", "settle_latency", "rejections", "cash")

    def __init__(self) -> None:
        self.commands = self.events = self.trades = self.settled = 0
        self.latency: list[float] = []
        self.settle_latency: list[float] = []
        self.rejections: Counter = Counter()
        self.cash = [0, 0]              # traded value, settled cash (fen)


class Measures:
    def __init__(self) -> None:
        self.started = time.time()
        self.days: dict[str, Day] = defaultdict(Day)
        self.sent_at: dict[str, tuple[float, str]] = {}       # ref -> (wall s, day) of its latest send
        self.waiting: set[str] = set()                        # refs sent and not answered since
        self.answered = 0
        self.trade_of: dict[str, str] = {}                    # trade id -> its command's ref
        self.early: dict[str, tuple[s.Settled, float]] = {}   # settled before its trade was read (two topics)
        self.summaries: list[dict] = []
        self.samples: list[report.Sample] = []
        self.sent = self.trades = self.settled = 0
        self.day = ""
        self.interval: list[float] = []                       # latencies since the last sample
        self.last_sample = (self.started, 0)                  # (wall s, answered) at the last sample

    # --- fed by the sender and by `follow` --------------------------------------------------------------

    def command(self, raw: bytes, at: int | None, wall: float) -> None:
        try:
            ids = _ids.decode(raw)
        except msgspec.DecodeError:
            return
        ref = ids.order_id or ids.id
        self.day = dt.datetime.fromtimestamp(at / 1000, CST).date().isoformat() if at is not None else self.day
        self.sent += 1
        self.days[self.day].commands += 1
        if ref:
            self.sent_at[ref] = (wall, self.day)
            self.waiting.add(ref)

    def event(self, ev: e.Event, wall: float) -> None:
        sent = self.sent_at.get(ev.ref)
        day = self.days[sent[1] if sent else "unattributed"]
        day.events += 1
        if ev.ref in self.waiting:
            self.waiting.discard(ev.ref)
            self.answered += 1
            day.latency.append((wall - sent[0]) * 1000)
            self.interval.append(day.latency[-1])
        if isinstance(ev, e.Trade):
            self.trades += 1
            day.trades += 1
            day.cash[0] += ev.price * ev.quantity
            self.trade_of[ev.trade_id] = ev.ref
            if ev.trade_id in self.early:
                self.settlement(*self.early.pop(ev.trade_id))
        elif isinstance(ev, (e.OrderRejected, e.CommandRejected)):
            day.rejections[ev.reason] += 1
        elif isinstance(ev, e.DaySummary):
            self.summaries.append(msgspec.json.decode(encode(ev)))

    def settlement(self, st: s.Settlement, wall: float) -> None:
        if not isinstance(st, s.Settled):
            return
        if st.trade_id not in self.trade_of:
            # the reader fetches the two topics independently: it may see a settlement before its trade
            self.early[st.trade_id] = (st, wall)
            return
        ref = self.trade_of[st.trade_id]
        sent = self.sent_at.get(ref) if ref else None
        day = self.days[sent[1] if sent else "unattributed"]
        self.settled += 1
        day.settled += 1
        day.cash[1] += st.cash
        if sent is not None:
            day.settle_latency.append((wall - sent[0]) * 1000)

    def sample(self, wall: float | None = None) -> report.Sample:
        wall = time.time() if wall is None else wall
        then, answered = self.last_sample
        got = percentiles(self.interval)
        point = report.Sample(
            at=dt.datetime.fromtimestamp(wall, dt.timezone.utc).isoformat(timespec="milliseconds"),
            latency_ms=report.Latency(got["p50_ms"], got["p99_ms"], got["p99_9_ms"], got["max_ms"])
            if self.interval else None,
            matcher_lag=len(self.waiting), projector_lag=self.trades - self.settled,
            throughput=round((self.answered - answered) / (wall - then), 1) if wall > then else None,
            day=self.day or None)
        self.samples.append(point)
        self.interval = []
        self.last_sample = (wall, self.answered)
        return point

    def caught_up(self) -> bool:
        return not self.waiting and self.settled >= self.trades

    def describe(self) -> str:
        return (f"day {self.day} lag {len(self.waiting):,} cmd, "
                f"{self.trades - self.settled:,} unsettled")

    # --- the figures ----------------------------------------------------------------------------------------

    def figures(self, speed: float | None, source: str = "") -> report.Measures:
        seconds = max(time.time() - self.started, 1e-9)
        days = {}
        for date, d in sorted(self.days.items()):
            days[date] = {"commands": d.commands, "events": d.events, "trades": d.trades, "settled": d.settled,
                          "latency": percentiles(d.latency), "settle_latency": percentiles(d.settle_latency),
                          "rejections": dict(sorted(d.rejections.items())),
                          "traded_value_fen": d.cash[0], "settled_cash_fen": d.cash[1]}
        every = [x for d in self.days.values() for x in d.latency]
        settle = [x for d in self.days.values() for x in d.settle_latency]
        run = {
            "speed": speed or "max", "seconds": round(seconds, 2), "commands": self.sent,
            "answered": self.answered, "unanswered": len(self.waiting), "trades": self.trades, "settled": self.settled,
            "commands_per_s": round(self.sent / seconds), "latency": percentiles(every),
            "settle_latency": percentiles(settle),
            "peak_matcher_lag": max((p.matcher_lag or 0 for p in self.samples), default=0),
            "peak_projector_lag": max((p.projector_lag or 0 for p in self.samples), default=0),
            "settled_equals_trades": self.settled == self.trades and all(
                d.cash[0] == d.cash[1] for date, d in self.days.items() if date != "unattributed"),
            "summaries": self.summaries,
        }
        return report.Measures(source=source, samples=self.samples, run=run, days=days)


async def follow(kafka: Connection, topics: Topics, measures: Measures, stop: asyncio.Event,
                 every_s: float = 0.5) -> None:
    """Read `certx.events` and `certx.settlements` (read_committed) from where they end now, into `measures`,
    until `stop` is set; a backlog sample every `every_s`."""
    consumer = AIOKafkaConsumer(isolation_level="read_committed", enable_auto_commit=False, fetch_max_wait_ms=20,
                                max_partition_fetch_bytes=8 * 1024 * 1024, **kafka.aiokafka())
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in (topics.events, topics.settlements) for p in MARKET_OF]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        sampled = time.monotonic()
        while not stop.is_set():
            fetched = await consumer.getmany(timeout_ms=50, max_records=20_000)
            wall = time.time()
            for tp, records in fetched.items():
                for r in records:
                    if tp.topic == topics.events:
                        measures.event(decode_event(r.value), wall)
                    else:
                        measures.settlement(decode_settlement(r.value), wall)
            if time.monotonic() - sampled >= every_s:
                measures.sample()
                sampled = time.monotonic()
    finally:
        await consumer.stop()
