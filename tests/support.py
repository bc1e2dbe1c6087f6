"""A test driver that speaks the wire: each command is a dict, encoded to JSON and decoded by the real
codec, then routed and applied exactly as `certx replay` does. Tests read as the messages brokers send."""
from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from certx.engine import image, snapshot
from certx.replay import Replay
from certx.rules import DEFAULT, Rules
from certx.wire import events as e

CST = dt.timezone(dt.timedelta(hours=8))


class Desk:
    """All three market engines, fed one wire command at a time."""

    def __init__(self, rules: Rules = DEFAULT, date: str = "2021-12-16") -> None:
        self.replay = Replay(rules)
        self.date = dt.date.fromisoformat(date)
        self.time = "10:00"
        self._ids = 0

    @property
    def engines(self):
        return self.replay.engines

    def at(self, time: str | None = None) -> str:
        hh, mm = (time or self.time).split(":")
        return dt.datetime.combine(self.date, dt.time(int(hh), int(mm)), CST).isoformat()

    def send(self, type_: str, *, time: str | None = None, **fields: Any) -> list[e.Event]:
        """Send one command; returns its events. Fails the test if the command is malformed."""
        if "order_id" not in fields and "id" not in fields:
            self._ids += 1
            fields["id"] = f"c{self._ids}"
        before = len(self.replay.summary.malformed)
        result = self.replay.feed(msgspec.json.encode({"type": type_, "at": self.at(time), **fields}))
        assert len(self.replay.summary.malformed) == before, self.replay.summary.malformed[-1]
        return result

    def raw(self, line: bytes) -> list[e.Event]:
        return self.replay.feed(line)

    # --- the usual set-up, each step a real command ------------------------------------------

    def open_account(self, account: str, broker: str) -> None:
        self.send("account.open", actor="registry", account=account, broker=broker)

    def list_product(self, product: str, reference: str | None, market: str = "CEA") -> list[e.Event]:
        fields = {"reference_price": reference} if reference is not None else {}
        return self.send("product.list", actor="operator", market=market, product=product, **fields)

    def deposit(self, account: str, market: str, amount: str) -> None:
        self.send("funds.deposit", actor="bank", account=account, market=market, amount=amount)

    def issue_cea(self, account: str, product: str, quantity: int) -> None:
        self.send("issue.cea", actor="registry", account=account, product=product, quantity=quantity)

    def open_day(self, market: str = "CEA", date: str | None = None) -> list[e.Event]:
        if date:
            self.date = dt.date.fromisoformat(date)
        return self.send("session.open", actor="operator", market=market, date=self.date.isoformat(), time="09:00")

    def close_day(self, market: str = "CEA") -> list[e.Event]:
        return self.send("session.close", actor="operator", market=market, date=self.date.isoformat(), time="15:30")

    def order(self, order_id: str, account: str, broker: str, product: str, side: str, quantity: int,
              price: str, **extra: Any) -> list[e.Event]:
        return self.send("order.new", order_id=order_id, actor=broker, account=account, product=product,
                         side=side, quantity=quantity, price=price, **extra)


def cea_day(reference: str = "50.00") -> Desk:
    """A CEA day ready to trade: buyer A (broker B1) with 10 M yuan, seller S (broker B2) with 1 Mt of CEA21,
    CEA21 listed at `reference`, the session open, the clock at 10:00."""
    desk = Desk()
    desk.open_account("A", "B1")
    desk.open_account("S", "B2")
    desk.list_product("CEA21", reference)
    desk.deposit("A", "CEA", "10000000")
    desk.issue_cea("S", "CEA21", 1_000_000)
    desk.open_day("CEA")
    return desk


def only(events: list[e.Event], kind: type) -> list:
    return [ev for ev in events if isinstance(ev, kind)]


def rejected(events: list[e.Event]) -> str | None:
    """The reason if the command was refused (and then it must be the only event)."""
    bad = [ev for ev in events if isinstance(ev, (e.OrderRejected, e.CommandRejected))]
    if bad:
        assert len(events) == 1, f"a refusal is the only output: {events}"
        return bad[0].reason
    return None


def engine_state(engine) -> image.State:
    """Everything a command may change in one engine, as a snapshot holds it, but the two counters every command
    advances, refused or not: its position in the market's command stream and the next event seq."""
    saved = msgspec.msgpack.decode(snapshot.state(engine), type=image.State)
    return msgspec.structs.replace(saved, engine=msgspec.structs.replace(saved.engine, commands=0, seq=0))
