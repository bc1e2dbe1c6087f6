"""A command that makes an engine raise anything but a refusal is a bug, and the engine's state may be half
changed: the matcher and `certx replay` stop (crash-only, README "Running on Kafka": exit 70), and the error says
where that command is, so that an operator can find it, with the engine's error as its cause."""
from __future__ import annotations

from typing import NamedTuple

import pytest

from certx.engine import Engine
from certx.engine.rejection import Fault
from certx.kafka import batch
from certx.replay import Replay
from certx.wire import commands as c
from certx.wire.codec import encode


class Record(NamedTuple):
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


AT = 1_639_620_000_000


def boom(cmd, at):
    raise ZeroDivisionError("a bug")


def test_the_matcher_stops_on_a_failing_command_naming_its_partition_offset_type_and_ref():
    engine = Engine("CEA")
    engine._handlers[c.FundsDeposit] = boom
    opened = c.AccountOpen(id="o1", actor="registry", account="A", broker="B1")
    deposit = c.FundsDeposit(id="d1", actor="bank", account="A", market="CEA", amount=c.Amount(100))
    records = [Record(0, 5, AT, None, encode(opened)), Record(0, 7, AT, None, encode(deposit))]
    with pytest.raises(Fault) as raised:
        batch.run(engine, records, "certx.commands")
    fault = raised.value
    assert (fault.market, fault.place, fault.kind, fault.ref) == ("CEA", "certx.commands[0] offset 7", "funds.deposit",
                                                                   "d1")
    assert isinstance(fault.__cause__, ZeroDivisionError) and "ZeroDivisionError: a bug" in str(fault)


def test_certx_replay_stops_on_a_failing_command_naming_its_line():
    replay = Replay()
    replay.engines["GEC"]._handlers[c.AccountOpen] = boom
    ok = b'{"type":"funds.deposit","id":"d0","actor":"bank","account":"A","market":"CEA","amount":"1",' \
         b'"at":"2021-12-16T09:00:00+08:00"}'
    bad = b'{"type":"account.open","id":"o1","actor":"registry","account":"A","broker":"B1",' \
          b'"at":"2021-12-16T09:00:00+08:00"}'
    replay.feed(ok)
    with pytest.raises(Fault) as raised:
        replay.feed(bad)
    assert (raised.value.market, raised.value.place, raised.value.ref) == ("GEC", "line 2", "o1")
