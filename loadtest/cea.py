"""The CEA market the Kafka benchmarks trade in: its set-up as commands, sessions that last all day, and the
three forms a command takes on the way in.

- On `certx.commands` (the log, written by the gateway only): the command Struct encoded (certx.wire.codec),
  with its `actor` set and no `at`; the command time is the record timestamp.
- On the operator's replay path `certx.replay`: the same with `at`, which the gateway keeps (recorded days).
- On a sender's inbound topic `certx.in.<name>`: as a broker writes it; the gateway takes the actor from the
  topic and stamps the broker's append time.
"""
from __future__ import annotations

import collections
import datetime as dt
import gc
import time
from pathlib import Path

import msgspec

from certx.engine import Engine
from certx.kafka import batch
from certx.money import Amount, Price
from certx.rules import DEFAULT, Rules
from certx.wire import commands as c
from certx.wire.codec import encode
from loadtest.cluster import kind_of
from loadtest.engine_bench import ACCOUNTS

CST = dt.timezone(dt.timedelta(hours=8))
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def setup_commands(day: dt.date) -> list[c.Command]:
    """What the CEA engine needs before trading: a product with a reference price, funded accounts holding
    allowances (account A<i> with broker B<i % 10>), a session open on `day`."""
    cmds: list[c.Command] = [c.ProductList(id="p", actor="operator", market="CEA", product="CEA21",
                                           reference_price=Price(5000))]
    for i in range(ACCOUNTS):
        a = f"A{i}"
        cmds.append(c.AccountOpen(id=f"o{a}", actor="registry", account=a, broker=f"B{i % 10}"))
        cmds.append(c.FundsDeposit(id=f"d{a}", actor="bank", account=a, market="CEA", amount=Amount(Amount.MAX)))
        cmds.append(c.IssueCea(id=f"i{a}", actor="registry", account=a, product="CEA21", quantity=c.MAX_QUANTITY))
    cmds.append(c.SessionOpen(id="s", actor="operator", market="CEA", date=day))
    return cmds


def all_day_rules() -> Rules:
    """DOMAIN's rules with the CEA listing and block sessions over the whole day, so that commands stamped with
    the exchange's clock (the gateway's) are accepted at any hour."""
    day = ((0, 1440),)
    return msgspec.structs.replace(DEFAULT, cea=msgspec.structs.replace(DEFAULT.cea, listing_sessions=day,
                                                                        block_sessions=day))


def write_rules(path: Path) -> Path:
    path.write_bytes(msgspec.json.encode(all_day_rules()))
    decoded = msgspec.json.decode(path.read_bytes(), type=Rules)          # as certx.cli.load_rules does
    assert decoded == all_day_rules(), "rules file does not round-trip"
    return path


def logged(cmds: list[c.Command]) -> list[bytes]:
    """The canonical form on `certx.commands`: as the gateway writes it (actor set, no `at`)."""
    return [encode(cmd) for cmd in cmds]


def replayed(cmds: list[c.Command], stamps: list[int]) -> list[bytes]:
    """The operator's replay form: each command with its recorded time in `at`."""
    return [encode(msgspec.structs.replace(cmd, at=(EPOCH + dt.timedelta(milliseconds=ms)).astimezone(CST)))
            for cmd, ms in zip(cmds, stamps)]


def day_of(ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, CST).date()


def expected_run(values: list[bytes], stamps: list[int], rules: Rules) -> tuple[dict[str, int], float, float]:
    """The events an uninterrupted matcher must publish for these records (by type), from the engine in process
    through certx.kafka.batch.run (decode, apply, encode) in 10,000-record batches, and that path's rate per
    wall second and per CPU second (garbage collector off): the matcher's ceiling, no Kafka at all."""
    Rec = collections.namedtuple("Rec", "partition offset timestamp key value")
    records = [Rec(0, i, ts, b"CEA", v) for i, (v, ts) in enumerate(zip(values, stamps))]
    engine = Engine("CEA", rules)
    kinds: collections.Counter = collections.Counter()
    gc.collect()
    gc.disable()            # as engine_bench: this process holds every record, so collections cost more here
    t0, c0 = time.perf_counter(), time.process_time()
    outs = [batch.run(engine, records[i:i + 10_000], "commands") for i in range(0, len(records), 10_000)]
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    gc.enable()
    for out in outs:
        assert not out.dead, "a pre-loaded command did not decode"
        kinds.update(kind_of(v).type for v in out.events)
    return dict(kinds), len(records) / elapsed, len(records) / cpu


def split_batch_run(values: list[bytes], stamps: list[int], rules: Rules) -> dict:
    """batch.run's three parts timed apart on the same records, in CPU µs per command: decoding the command,
    Engine.apply, encoding its events."""
    from certx.wire.codec import decode_logged

    gc.collect()
    gc.disable()
    t0 = time.process_time()
    cmds = [decode_logged(v) for v in values]
    t1 = time.process_time()
    engine = Engine("CEA", rules)
    apply = engine.apply
    produced = [apply(cmd, ts) for cmd, ts in zip(cmds, stamps)]
    t2 = time.process_time()
    for events in produced:
        for ev in events:
            encode(ev)
    t3 = time.process_time()
    gc.enable()
    n = len(values)
    return {"decode_us": round((t1 - t0) / n * 1e6, 2), "engine_apply_us": round((t2 - t1) / n * 1e6, 2),
            "encode_events_us": round((t3 - t2) / n * 1e6, 2)}
