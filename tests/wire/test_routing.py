"""Which market each command is for (certx.wire.routing; PROTOCOL: the gateway routes each command to its market's
partition from the command itself). `markets` looks the answer up by the command's type, so every type the log
may hold must have its answer: one from the table, or its own `market` field."""
from __future__ import annotations

import datetime as dt
import typing

import msgspec
import pytest

from certx.money import Amount, Price
from certx.wire import commands as c
from certx.wire.routing import MARKETS, home, markets

LOGGED = typing.get_args(c.LoggedCommand)


def test_every_command_the_log_may_hold_has_a_route():
    """A type left out of the table falls back to its own `market`: it must have one, else a new command type would
    fail at the door and in the engine on its first record instead of here."""
    from certx.wire.routing import _ROUTE
    for kind in LOGGED:
        assert kind in _ROUTE or "market" in kind.__struct_fields__, kind.__name__


ORDER = dict(actor="B1", account="A1")
ANSWERS = [
    (c.OrderNew(order_id="o", **ORDER, product="CEA21", side="buy", quantity=1, price=Price(5000)), ("CEA",)),
    (c.OrderNew(order_id="o", **ORDER, product="CCER-1-2024", side="buy", quantity=1, price=Price(5000)), ("CCER",)),
    (c.OrderNew(order_id="o", **ORDER, product="GEC", side="buy", quantity=1, price=Price(5000)), ("GEC",)),
    (c.OrderNew(order_id="o", **ORDER, product="NOPE", side="buy", quantity=1, price=Price(5000)), ()),
    (c.OrderNew(order_id="o", **ORDER, market="GEC", product="CEA21", side="buy", quantity=1, price=Price(5000)),
     ("GEC",)),
    (c.OrderCancel(order_id="o", **ORDER), None),
    (c.OrderCancel(order_id="o", **ORDER, market="CCER"), ("CCER",)),
    (c.OrderLift(order_id="o", **ORDER, target="t", quantity=1), None),
    (c.OrderAccept(order_id="o", **ORDER, target="t", quantity=1), None),
    (c.AccountOpen(id="i", actor="registry", account="A1", broker="B1"), MARKETS),
    (c.IssueCea(id="i", actor="registry", account="A1", product="CEA21", quantity=1), ("CEA",)),
    (c.FundsDeposit(id="i", actor="bank", account="A1", market="CCER", amount=Amount(1)), ("CCER",)),
    (c.SessionOpen(id="i", actor="operator", market="GEC", date=dt.date(2025, 1, 2)), ("GEC",)),
    (c.BandSet(id="i", actor="operator", product="CEA21", mode="listing", ratio="0.1"), ("CEA",)),
    (c.Surrender(id="i", actor="registry", account="A1", compliance_year=2024, ccer=1), ("CCER",)),
    (c.Surrender(id="i", actor="registry", account="A1", compliance_year=2024), ("CEA",)),
    (c.Surrender(id="i", actor="registry", account="A1", compliance_year=2024, cea={"CEA21": 1}, ccer=1),
     ("CEA", "CCER")),
    (c.Refusal(reason="malformed"), None),
    (c.SurrenderDecide(ref="s", market="CEA", decision="commit"), ("CEA",)),
]


@pytest.mark.parametrize("cmd, expected", ANSWERS, ids=lambda v: type(v).__name__ if isinstance(v, msgspec.Struct) else "")
def test_each_command_goes_where_its_own_fields_say(cmd, expected):
    assert markets(cmd) == expected


def test_a_command_sent_to_several_markets_is_answered_by_one():
    assert home(c.AccountOpen(id="i", actor="registry", account="A1", broker="B1")) == "CEA"
    assert home(c.Surrender(id="i", actor="registry", account="A1", compliance_year=2024, ccer=1)) == "CCER"
    assert home(c.OrderCancel(order_id="o", **ORDER)) is None
