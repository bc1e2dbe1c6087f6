"""PROTOCOL: brokers, settlement services and market-data readers integrate from the published schemas (`schemas/`),
often by generating classes from them. So everything certx writes must validate against its schema with a standard,
independent validator (jsonschema, Draft 2020-12, formats asserted): the commands the gateway logs, the engines'
events, the settlements, the quotes and the dead letters, in rich runs, and every answer a refusal gets. And the
commands' schema must refuse what the door refuses, or it misleads the integrators who check against it."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

import msgspec
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from certx.ledger.ledger import Ledger
from certx.replay import Replay
from certx.sample.hourly import year
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.codec import encode
from certx.wire.dead_letter import DeadLetter
from certx.wire.marketdata import Quote
from certx.wire.schema import ROOT

# jsonschema checks `date-time` only with an optional package, and silently passes it without: assert it here,
# as RFC 3339 says (an offset is required), so that a time without one fails as it would in a Java or Go reader.
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if isinstance(value, str) and dt.datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is None:
        raise ValueError(f"{value!r} has no offset")
    return True


@FORMATS.checks("date", raises=ValueError)
def _date(value: object) -> bool:
    if isinstance(value, str) and (len(value) != 10 or not dt.date.fromisoformat(value)):
        raise ValueError(f"{value!r} is not a full date")
    return True


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((ROOT / name).read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FORMATS)


SCHEMAS = {"commands": _validator("commands.schema.json"), "command-log": _validator("command-log.schema.json"),
           "events": _validator("events.schema.json"), "settlements": _validator("settlements.schema.json"),
           "marketdata": _validator("marketdata.schema.json"), "dlq": _validator("dlq.schema.json")}


def schema_of(message: msgspec.Struct) -> str:
    if isinstance(message, e.Positioned):
        return "events" if isinstance(message, e.Event) else "settlements"
    if isinstance(message, Quote):
        return "marketdata"
    if isinstance(message, DeadLetter):
        return "dlq"
    assert isinstance(message, c.Command), message
    return "command-log"


def faults(messages: Iterable[msgspec.Struct]) -> list[str]:
    """What the published schemas say is wrong with each message as certx writes it (its bytes, read back)."""
    found = []
    for message in messages:
        raw = encode(message)
        found += [f"{raw[:120]!r}: {error}" for error in refusals(schema_of(message), json.loads(raw))]
    return found


def refusals(schema: str, instance: object) -> list[str]:
    """Why `schema` refuses `instance`: the errors of the member its `type` names when the schema is a tagged union
    (else only "not valid under any of the given schemas"), and any error of the whole."""
    validator = SCHEMAS[schema]
    if validator.is_valid(instance):
        return []
    member = validator.schema.get("discriminator", {}).get("mapping", {}).get(instance.get("type"))
    errors = []
    if member:
        alone = {k: v for k, v in validator.schema.items() if k not in ("anyOf", "discriminator")}
        errors = list(validator.evolve(schema={**alone, "$ref": member}).iter_errors(instance))
    errors = errors or list(validator.iter_errors(instance))
    return [f"{error.message[:200]} at {'/'.join(map(str, error.absolute_path))}" for error in errors]


class Written:
    """A replay that keeps everything certx would write for it: each command as the gateway logs it, the engines'
    events, the ledger's settlements and the market-data quotes."""

    def __init__(self) -> None:
        self.replay = Replay()
        self.ledger = Ledger()
        self.messages: list[msgspec.Struct] = []
        admit = self.replay.door.admit

        def logged(*args, **kwargs):
            admitted = admit(*args, **kwargs)
            if not isinstance(admitted, msgspec.Struct):        # a dead letter alone, which the gateway writes
                self.messages.append(admitted.command)
            return admitted
        self.replay.door.admit = logged

    def feed(self, lines: Iterable[bytes]) -> Written:
        for line in lines:
            if line.strip():
                events = self.replay.feed(line)
                self.messages += events
                self.messages += [s for event in events for s in self.ledger.apply(event)]
                self.messages += self.replay.quotes_of(events)
        return self

    def kinds(self) -> set[str]:
        return {m.__struct_config__.tag for m in self.messages}


def test_a_24_7_match_validates_its_trades_inside_the_allocation_carry_no_position():
    """Issue 13 (README "The 24/7 match"): `gec.allocated` holds its trades, each an ordinary GEC trade left without
    `seq`, `origin` and `market` (the allocation has them). The schema required them of every trade, so the one
    event of every match failed an integrator's validation."""
    written = Written().feed(year())
    assert "gec.allocated" in written.kinds()
    assert faults(written.messages) == []


ORDER = {"type": "order.new", "order_id": "o1", "account": "A", "product": "CEA21", "side": "buy", "quantity": 10,
         "price": "50.00"}
DEPOSIT = {"type": "funds.deposit", "id": "d1", "account": "A", "market": "CEA", "amount": "1000.00"}


@pytest.mark.parametrize("command", [ORDER, {**ORDER, "price": "1000000.00"}, {**ORDER, "price": "0.01"},
                                     {**ORDER, "price": "0000001"}, DEPOSIT, {**DEPOSIT, "amount": "1000000000000"}],
                         ids=["order", "top price", "least price", "leading zeros", "deposit", "top deposit"])
def test_the_command_schema_admits_what_the_door_admits(command):
    assert isinstance(Replay().door.admit(json.dumps(command).encode(), sender="B1").command, c.OrderNew | c.FundsDeposit)
    assert refusals("commands", command) == []


@pytest.mark.parametrize("command", [
    {**ORDER, "colour": "red"},                                  # a field the contract does not name
    {**ORDER, "price": 50.5},                                    # a float
    {**ORDER, "price": "50.001"},                                # three decimals
    {**ORDER, "account": "A\u0007"}, {**ORDER, "account": "A\u200b"},   # a control, what prints as nothing
    {**ORDER, "price": "0"}, {**ORDER, "price": "0.00"},         # U1: a price is positive
    {**ORDER, "price": "1000000.01"}, {**ORDER, "price": "9999999"},    # at most 1,000,000 yuan
    {**DEPOSIT, "amount": "0.00"}, {**DEPOSIT, "amount": "1000000000000.01"},
    {**ORDER, "price": "\uff15\uff10"},                          # fullwidth digits: `\d` to a Python validator
    {**ORDER, "price": "50\n"},                                  # `$` before a final newline, to Python's re
    {**ORDER, "at": "2021-12-16T10:00:00"},                      # a time without its offset
], ids=["extra field", "float", "3 decimals", "control", "zero width", "zero", "zero 2 places", "over the top",
        "seven nines", "zero deposit", "deposit over the top", "fullwidth", "final newline", "naive time"])
def test_U1_the_command_schema_refuses_what_the_door_refuses(command):
    """PROTOCOL, a strict contract: a sender checking its commands against commands.schema.json must not be told a
    command is good that the door answers `malformed`. Money (U1) is positive and bounded: the schema's pattern
    said only 'up to 7 digits and 2 places', which admits 0 and 9,999,999 yuan."""
    assert isinstance(Replay().door.admit(json.dumps(command, ensure_ascii=False).encode(), sender="B1").command,
                      c.Refusal)
    assert refusals("commands", command) != []
