"""PROTOCOL: brokers, settlement services and market-data readers integrate from the published schemas (`schemas/`),
often by generating classes from them. So everything certx writes must validate against its schema with a standard,
independent validator (jsonschema, Draft 2020-12, formats asserted): the commands the gateway logs, the engines'
events, the settlements, the quotes and the dead letters, in rich runs, and every answer a refusal gets. And the
commands' schema must refuse what the door refuses, or it misleads the integrators who check against it."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from importlib import resources

import msgspec
import pytest
from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker

import support
from certx.days.background import Background
from certx.days.build import build
from certx.engine import Engine
from certx.gateway import Door
from certx.gateway.relay import called_for
from certx.ledger.ledger import Ledger
from certx.replay import Replay
from certx.sample.hourly import year
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.codec import NotAnObject, decode_command, encode
from certx.wire.dead_letter import DeadLetter, dead_letter
from certx.wire.marketdata import Quote
from certx.wire.reasons import DeadLetterReason
from certx.wire.routing import PARTITION
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
    if isinstance(value, str):
        if len(value) != 10:
            raise ValueError(f"{value!r} is not a full date")
        dt.date.fromisoformat(value)
    return True


def _validator(name: str, strict: bool = False) -> Draft202012Validator:
    """The validator of a published schema; `strict` reads as Jackson does by default (FAIL_ON_UNKNOWN_PROPERTIES):
    a field that the schema does not name fails, so nothing certx writes may lie outside its schema."""
    schema = json.loads((ROOT / name).read_text())
    Draft202012Validator.check_schema(schema)
    if strict:
        for definition in schema["$defs"].values():
            if "properties" in definition:
                definition.setdefault("additionalProperties", False)
    return Draft202012Validator(schema, format_checker=FORMATS)


QUIET = Background(listing=1, block=0, auction=1, gec=1)       # a few orders that never trade, not eight a trade

SCHEMAS = {"commands": _validator("commands.schema.json"), "command-log": _validator("command-log.schema.json"),
           "events": _validator("events.schema.json", strict=True),
           "settlements": _validator("settlements.schema.json", strict=True),
           "marketdata": _validator("marketdata.schema.json", strict=True), "dlq": _validator("dlq.schema.json", strict=True)}


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


class Recording(Replay):
    """A replay that keeps everything certx would write for it: each command as the gateway logs it, the engines'
    events, the ledger's settlements and the market-data quotes. It stands in for `support.Replay` too, so that any
    test desk's scenario can be read as it is written."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ledger = Ledger()
        self.messages: list[msgspec.Struct] = []
        admit = self.door.admit

        def logged(*args, **kwargs):
            admitted = admit(*args, **kwargs)
            if not isinstance(admitted, NotAnObject):       # a dead letter alone, which the gateway writes
                self.messages.append(admitted.command)
            return admitted
        self.door.admit = logged

    def feed(self, raw: bytes) -> list[e.Event]:
        events = super().feed(raw)
        self.messages += events
        # the commands the gateway relays in answer (a surrender's vote and decision), as it reads them on Kafka
        self.messages += [cmd for ev in events for _, cmd in called_for(encode(ev), PARTITION[ev.market])]
        self.messages += [s for event in events for s in self.ledger.apply(event)]
        self.messages += self.quotes_of(events)
        return events

    def kinds(self) -> set[str]:
        return {m.__struct_config__.tag for m in self.messages}


def recorded(lines: Iterable[bytes]) -> Recording:
    replay = Recording()
    for line in lines:
        if line.strip():
            replay.feed(line)
    return replay


@pytest.fixture(scope="module")
def sample_day() -> Recording:
    return recorded((resources.files("certx") / "sample" / "trade_day.jsonl").read_bytes().splitlines())


@pytest.fixture(scope="module")
def hourly_year() -> Recording:
    """A data centre's 2025 against six projects' curves (certx.sample.hourly): one 24/7 match."""
    return recorded(year())


def test_a_24_7_match_validates_its_trades_inside_the_allocation_carry_no_position(hourly_year):
    """Issue 13 (README "The 24/7 match"): `gec.allocated` holds its trades, each an ordinary GEC trade left without
    `seq`, `origin` and `market` (the allocation has them). The schema required them of every trade, so the one
    event of every match failed an integrator's validation."""
    assert "gec.allocated" in hourly_year.kinds()
    assert faults(hourly_year.messages) == []


ORDER = {"type": "order.new", "order_id": "o1", "account": "A", "product": "CEA21", "side": "buy", "quantity": 10,
         "price": "50.00"}
DEPOSIT = {"type": "funds.deposit", "id": "d1", "account": "A", "market": "CEA", "amount": "1000.00"}


@pytest.mark.parametrize("command", [
    ORDER, {**ORDER, "price": "1000000.00"}, {**ORDER, "price": "0.01"}, {**ORDER, "price": "0000001"},
    DEPOSIT, {**DEPOSIT, "amount": "1000000000000"},
    {**ORDER, "counterparty": None, "partial": True, "filter": None},      # a term left unset, said so
    {**ORDER, "mode": "block", "quantity": 100_000, "counterparty": "S", "partial": False},
    {**ORDER, "product": "GEC", "side": "sell", "first_serial": 1, "last_serial": 10, "counterparty": "C",
     "partial": False},
    {**ORDER, "product": "GEC", "filter": {"provinces": ["Gansu"]}, "beneficiary": "plant", "pool": None},
    {**ORDER, "product": "GEC", "filter": {"hours": [[0, 6], [18, 24]], "strict": True, "min_share": None}},
    {**ORDER, "product": "GEC", "filter": {"hours_from": "2025-06-01T00:00:00+08:00", "min_share": 90,
                                           "strict": False, "hours": None}},
], ids=["order", "top price", "least price", "leading zeros", "deposit", "top deposit", "unset terms", "block",
        "addressed lot", "GEC bid", "strict hours", "a share of a window"])
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
    {**ORDER, "counterparty": "S"}, {**ORDER, "first_serial": 1, "last_serial": 9},     # M2, M5: not a listing's
    {**ORDER, "partial": False}, {**ORDER, "mode": "block", "quantity": 100_000, "beneficiary": "plant"},
    {**ORDER, "product": "GEC", "counterparty": "S"}, {**ORDER, "product": "GEC", "side": "sell", "filter": {}},
    {**ORDER, "product": "GEC", "side": "sell", "first_serial": 1, "last_serial": 10, "partial": False},
    {**ORDER, "product": "GEC", "side": "sell", "first_serial": 1, "last_serial": 10,
     "pool": {"rule": "fifo", "shares": [{"owner": "O1", "first_serial": 1, "last_serial": 10}]}},
    {**ORDER, "product": "GEC", "filter": {"min_share": 50}}, {**ORDER, "product": "GEC", "filter": {"strict": True}},
    {**ORDER, "product": "GEC", "filter": {"hours": [[0, 6]]}},
    {**ORDER, "product": "GEC", "filter": {"hours": [[0, 6]], "min_share": 50, "strict": True}},
], ids=["extra field", "float", "3 decimals", "control", "zero width", "zero", "zero 2 places", "over the top",
        "seven nines", "zero deposit", "deposit over the top", "fullwidth", "final newline", "naive time",
        "listing counterparty", "listing serials", "listing partial", "block beneficiary", "GEC bid counterparty",
        "GEC lot filter", "GEC public lot not partial", "pool and serials", "share without hours",
        "strict without hours", "hours without share", "share and strict"])
def test_U1_M2_M5_G4_the_command_schema_refuses_what_the_door_refuses(command):
    """PROTOCOL, a strict contract: a sender checking its commands against commands.schema.json must not be told a
    command is good that the door answers `malformed`. Money (U1) is positive and bounded: the schema's pattern
    said only 'up to 7 digits and 2 places', which admits 0 and 9,999,999 yuan. An order's terms are those of its
    kind (M2 block, M5 GEC lot, G4 GEC bid; `certx.wire.commands.TERMS`): the schema admitted a listing order
    with a `counterparty`, which the door refuses so that a bilateral deal never goes public. An hour filter (issue
    13) takes exactly one of `min_share` and `strict`, and neither without hours."""
    assert isinstance(Replay().door.admit(json.dumps(command, ensure_ascii=False).encode(), sender="B1").command,
                      c.Refusal)
    assert refusals("commands", command) != []


def test_the_sample_day_and_official_days_with_auctions_blocks_and_a_compliance_deadline_validate(sample_day):
    """The shipped sample day (listing, block offers and acceptances, GEC scenes, a two-leg surrender, deliberate
    refusals); a CEA day with one-way bidding (M3: 2025-07-16); the 2024 compliance deadline in all three markets
    (C1 surrenders, CCER issuance, GEC lots, bids and lifts)."""
    sample = sample_day
    auction = recorded(build(dt.date(2025, 7, 16), dt.date(2025, 7, 16), markets=("CEA",), background=QUIET))
    deadline = recorded(build(dt.date(2024, 12, 31), dt.date(2024, 12, 31), gec_scale=0.0002, background=QUIET))
    assert {"order.accept", "surrender.held", "surrender.vote", "surrender.decided", "surrender.decide", "surrendered", "units.surrendered",
            "gec.cancelled", "order.rejected", "command.rejected"} <= sample.kinds()
    assert {"auction.opened", "auction.closed", "day.summary"} <= auction.kinds()
    assert {"issue.ccer", "surrender", "settled"} <= deadline.kinds()
    assert faults(sample.messages + auction.messages + deadline.messages) == []


def test_M5_G2_G4_a_busy_gec_and_cea_day_and_the_next_validate(monkeypatch):
    """The snapshot tests' two days, every kind of order in them: bilateral lots (M5) taken in lifts, bids with
    province and age filters and a beneficiary (G4), a broker's auction, a block offer accepted, a band set, and a
    new day that retires expired certificates (G2: `certificates.expired`, `gec.retired`)."""
    from engine.test_snapshot import rest_of_the_days, two_days

    monkeypatch.setattr(support, "Replay", Recording)
    desk = two_days()
    rest_of_the_days(desk)
    assert {"band.scheduled", "certificates.expired", "gec.retired", "auction.opened", "trade"} <= desk.replay.kinds()
    assert faults(desk.replay.messages) == []


def test_an_aggregators_pooled_lot_validates(monkeypatch):
    """Issue 13, aggregators: mandates, a pooled lot under them, bids that take it in part, and a cancel that gives
    what is left back to its owners."""
    from pools.test_pooled_lots import bid, pool_desk, pooled

    monkeypatch.setattr(support, "Replay", Recording)
    desk = pool_desk()
    pooled(desk)
    bid(desk, "b1", "A", 30)
    bid(desk, "b2", "C", 25, filter={"provinces": ["Gansu"]}, beneficiary="plant")
    desk.send("order.cancel", order_id="P", actor="B9", account="AG", market="GEC")
    assert {"mandate.granted", "trade", "order.cancelled", "gec.cancelled"} <= desk.replay.kinds()
    assert faults(desk.replay.messages) == []


def _line(type_: str, time: str = "10:00", day: str = "2021-12-16", **fields) -> bytes:
    return json.dumps({"type": type_, "at": f"{day}T{time}:00+08:00", **fields}).encode()


def _order(order_id: str, account: str = "A", broker: str = "B1", side: str = "buy", quantity: int = 100,
           price: object = "50.00", product: str = "CEA21", **fields) -> bytes:
    return _line("order.new", order_id=order_id, actor=broker, account=account, product=product, side=side,
                 quantity=quantity, price=price, **fields)


REG, OP, BANK = {"actor": "registry"}, {"actor": "operator"}, {"actor": "bank"}
REFUSED = [
    (_line("account.open", id="a1", account="A", broker="B1", **REG), None),
    (_line("account.open", id="a2", account="S", broker="B2", **REG), None),
    (_line("account.open", id="a1", account="X", broker="B1", **REG), "duplicate_command"),
    (_line("account.open", id="a3", account="A", broker="B1", **REG), "duplicate_account"),
    (_line("product.list", id="p1", market="CEA", product="CEA21", reference_price="50.00", **OP), None),
    (_line("product.list", id="p2", market="CEA", product="CEA21", reference_price="50.00", **OP), "duplicate_product"),
    (_line("product.list", id="p3", market="CEA", product="CEA22", **OP), None),
    (_line("funds.deposit", id="d1", account="A", market="CEA", amount="1000000", **BANK), None),
    (_line("issue.cea", id="i1", account="S", product="CEA21", quantity=500_000, **REG), None),
    (_order("early"), "market_closed"),
    (_line("session.open", id="s1", market="CEA", date="2021-12-16", time="09:00", **OP), None),
    (_line("session.open", id="s2", market="CEA", date="2021-12-16", time="09:01", **OP), "session_already_open"),
    (_line("session.open", id="s3", market="CCER", date="2021-12-19", time="09:01", **OP), "date_ahead"),
    (_order("np", product="CEA22"), "no_reference_price"),
    (_order("up", product="CEA99"), "unknown_product"),
    (_order("na", broker="B2"), "not_authorised"),
    (_order("big", quantity=99_999, price="54.00"), "insufficient_funds"),
    (_order("ih", side="sell"), "insufficient_holdings"),
    (_order("band", price="60.00"), "price_out_of_band"),
    (_order("o1"), None), (_order("o1"), "duplicate_order_id"),
    (_line("order.cancel", order_id="nope", actor="B1", account="A", market="CEA"), "unknown_order"),
    (_line("order.cancel", order_id="nope2", actor="B1", account="A"), "unknown_order"),       # at the door
    (_order("bad", price=50.5), "malformed"),
    (b'{"type": "order.new", "order_id": "x\\u0007", "at": "2021-12-16T10:00:00+08:00"}', "malformed"),  # no ref
    (_line("auction.open", id="au1", auction_id="au1", product="CEA21", seller="S", quantity=1000,
           reserve_price="49.00", closes_at="2021-12-16T11:00:00+08:00", **OP), None),
    (_line("auction.bid", order_id="ab1", actor="B1", account="A", auction_id="au1", quantity=100, price="48.00"),
     "below_reserve"),
    (_order("blk", product="GEC", quantity=1, price="5.00", mode="block"), "mode_not_allowed"),
    (_line("issue.gec", id="g1", account="S", project="P1", province="Gansu", technology="wind",
           production_month="2021-10", subsidised=False, first_serial=1, last_serial=100, **REG), None),
    (_line("issue.gec", id="g2", account="S", project="P1", province="Gansu", technology="wind",
           production_month="2021-10", subsidised=False, first_serial=50, last_serial=150, **REG), "double_issuance"),
    (_line("surrender", id="su1", account="A", compliance_year=2021, ccer=5, cea={"CEA21": 1}, **REG),
     "offset_cap_exceeded"),
    (_line("session.close", id="c1", market="CEA", date="2021-12-16", time="15:30", **OP), None),
    (_line("session.open", id="s4", market="CEA", date="2021-12-15", time="15:40", **OP), "stale_date"),
]


def test_every_refusal_and_the_gateways_record_of_it_validate():
    """DOMAIN "Reject reasons", PROTOCOL: an answer for every refused command, with its `ref` and `detail`, and the
    gateway's `gateway.refusal` in the log for what the door refused (malformed, unknown_order)."""
    replay = Recording()
    for raw, reason in REFUSED:
        answers = [ev.reason for ev in replay.feed(raw) if isinstance(ev, e.OrderRejected | e.CommandRejected)]
        assert answers == ([reason] if reason else []), raw
    assert {m.reason for m in replay.messages if isinstance(m, c.Refusal)} == {"malformed", "unknown_order"}
    assert faults(replay.messages) == []


@pytest.mark.parametrize("raw", [
    _order("o9", broker="B2"),                                      # names another actor than its sender
    _order("o9", price="50.001"),
    json.dumps({"type": "order.cancel", "order_id": "o9", "account": "A"}).encode(),    # an order the door never saw
    b'{"type": "session.open", "id": "s9", "market": "CEA", "date": "2021-12-16"}',     # the operator's, from B1
    b'{"type": "order.new", "order_id": "' + b"o" * 200 + b'"}',
], ids=["not_authorised", "malformed", "unknown_order", "operator's command", "id too long"])
def test_a_senders_refused_record_on_kafka_and_its_answer_validate(raw):
    """PROTOCOL: on an inbound topic the gateway takes the actor from the topic; what it refuses goes to the log as
    `gateway.refusal` and its market's engine answers it (certx.kafka.gateway writes `encode(admitted.command)`)."""
    admitted = Door().admit(raw, sender="B1", at=1_639_620_000_000)
    engines = {m: Engine(m) for m in admitted.markets}
    answers = [ev for m in admitted.markets for ev in engines[m].apply(admitted.command, admitted.at)]
    assert answers and all(isinstance(ev, e.OrderRejected | e.CommandRejected) for ev in answers)
    assert faults([admitted.command, *answers]) == []


@pytest.mark.parametrize("value, reason, source, timestamp", [
    (b"[1, 2]", DeadLetterReason.malformed, "certx.in.B1", 1_639_620_000_000),
    (b"\xff" * 10_000, DeadLetterReason.malformed, "certx.replay", 1_639_620_000_000),
    (None, DeadLetterReason.malformed, "certx.in.B1", None),           # a compression bomb: offsets, no value
    (b'{"type": "quote"}', DeadLetterReason.not_a_command, "certx.commands", 0),
    (b"", DeadLetterReason.malformed, "certx.events", 5),
])
def test_a_dead_letter_validates(value, reason, source, timestamp):
    """DESIGN 7: what the services write to `certx.dlq`, built as they build it (certx.wire.dead_letter)."""
    assert faults([dead_letter(value, reason, "why", source, 0, 7, timestamp, "gateway")]) == []


FILTER = {"provinces": ["Gansu"], "exclude_provinces": ["Yunnan"], "technologies": ["wind"], "subsidised": False,
          "production_from": "2025-01", "production_to": "2025-06", "max_age_months": 12}
# Each command as PROTOCOL.md and the README list its fields, every field they name set.
DOCUMENTED = {
    "session.open": {"id": "s1", "actor": "operator", "market": "CEA", "date": "2021-12-16"},
    "session.close": {"id": "s2", "actor": "operator", "market": "CEA", "date": "2021-12-16"},
    "product.list": {"id": "p1", "actor": "operator", "market": "CEA", "product": "CEA21", "reference_price": "48.00"},
    "band.set": {"id": "b1", "actor": "operator", "product": "CEA21", "mode": "listing", "ratio": "0.05"},
    "account.open": {"id": "a1", "actor": "registry", "account": "A", "broker": "B1"},
    "issue.cea": {"id": "i1", "actor": "registry", "account": "A", "product": "CEA21", "quantity": 1000},
    "issue.ccer": {"id": "i2", "actor": "registry", "account": "A", "product": "CCER", "project": "P1",
                   "vintage": 2023, "quantity": 1000},
    "issue.gec": {"id": "i3", "actor": "registry", "account": "A", "project": "P1", "province": "Gansu",
                  "technology": "wind", "production_month": "2025-06", "subsidised": False, "first_serial": 1,
                  "last_serial": 100, "issue_date": "2025-07-01"},
    "surrender": {"id": "r1", "actor": "registry", "account": "A", "compliance_year": 2024, "cea": {"CEA24": 950},
                  "ccer": 50},
    "funds.deposit": {"id": "f1", "actor": "bank", "account": "A", "market": "CEA", "amount": "54.22"},
    "funds.withdraw": {"id": "f2", "actor": "bank", "account": "A", "market": "CEA", "amount": "54.22"},
    "order.new": {"order_id": "o1", "actor": "B1", "account": "A", "product": "CEA21", "side": "buy",
                  "quantity": 100, "price": "54.22", "mode": "listing", "market": "CEA"},
    "order.new block": {"order_id": "o2", "actor": "B1", "account": "A", "product": "CEA21", "side": "sell",
                        "quantity": 100_000, "price": "54.22", "mode": "block", "counterparty": "C", "partial": False},
    "order.new GEC sell": {"order_id": "o3", "actor": "B1", "account": "A", "product": "GEC", "side": "sell",
                           "quantity": 100, "price": "3.00", "first_serial": 1, "last_serial": 100,
                           "counterparty": "C", "partial": True},
    "order.new GEC buy": {"order_id": "o4", "actor": "B1", "account": "A", "product": "GEC", "side": "buy",
                          "quantity": 10, "price": "3.00", "beneficiary": "plant",
                          "filter": {**FILTER, "hours": [[0, 6], [18, 24]], "hours_from": "2025-06-01T00:00:00+08:00",
                                     "hours_to": "2025-07-01T00:00:00+08:00", "min_share": 90}},
    "order.new pool": {"order_id": "o5", "actor": "B9", "account": "AG", "product": "GEC", "side": "sell",
                       "quantity": 20, "price": "2.00", "pool": {"rule": "pro_rata", "shares": [
                           {"owner": "O1", "first_serial": 1, "last_serial": 10},
                           {"owner": "O2", "first_serial": 101, "last_serial": 110}]}},
    "order.lift": {"order_id": "l1", "actor": "B1", "account": "A", "target": "o3", "quantity": 5,
                   "beneficiary": "plant"},
    "order.accept": {"order_id": "k1", "actor": "B3", "account": "C", "target": "o2", "quantity": 100_000},
    "order.cancel": {"order_id": "o1", "actor": "B1", "account": "A"},
    "auction.open": {"id": "x1", "actor": "operator", "auction_id": "X1", "product": "CEA21", "seller": "S",
                     "quantity": 10_000, "reserve_price": "45.00", "closes_at": "2021-12-16T14:30:00+08:00",
                     "market": "CEA"},
    "auction.bid": {"order_id": "x2", "actor": "B1", "account": "A", "auction_id": "X1", "quantity": 100,
                    "price": "46.00"},
    "curve.attach": {"id": "cv1", "actor": "registry", "project": "P1", "production_month": "2025-02",
                     "kwh": [100] * 672},
    "mandate.grant": {"id": "m1", "actor": "registry", "agent": "AG", "owner": "O1", "project": "P1",
                      "filing_code": "F-1", "valid_from": "2025-01-01", "valid_to": "2025-12-31"},
    "gec.match": {"order_id": "dc-2025", "actor": "B1", "account": "A", "start": "2025-01-01T00:00:00+08:00",
                  "loads": [158, 154], "filter": FILTER, "price_cap": "5.00", "budget": "1000000",
                  "beneficiary": "dc-01 campus"},
}


@pytest.mark.parametrize("kind", DOCUMENTED)
def test_every_command_protocol_and_the_readme_show_validates_and_the_door_admits_it(kind):
    """PROTOCOL "Commands" and README "Fields added": each command with every field they name."""
    command = {"type": kind.split()[0], **DOCUMENTED[kind]}
    assert refusals("commands", command) == []
    assert isinstance(decode_command(json.dumps(command).encode()), c.AnyCommand.__args__)


def test_what_certx_writes_validates_against_the_asyncapi_payloads_read_as_draft_7(sample_day, hourly_year):
    """DESIGN 5: the AsyncAPI document's Schema Object is a superset of JSON Schema draft 7 (AsyncAPI 3.0), so its
    tools read a tuple as draft 7 writes it, `items: [...]`. They read msgspec's `prefixItems` (draft 2020-12) as an
    unknown word beside `items: false`, which admits no array but the empty one: every serial range, band and book
    level, so every GEC `issued` or `trade` and nearly every quote, failed."""
    document = json.loads((ROOT / "asyncapi.json").read_text())
    messages = document["components"]["messages"]
    payload = {"events": "event", "settlements": "settlement", "marketdata": "quote", "dlq": "deadLetter",
               "command-log": "loggedCommand"}
    readers = {kind: Draft7Validator({**document, **messages[name]["payload"]}, format_checker=FORMATS)
               for kind, name in payload.items()}
    written = sample_day.messages + hourly_year.messages
    written += [dead_letter(b"[]", DeadLetterReason.malformed, "", "certx.in.B1", 0, 1, None, "gateway")]
    assert {schema_of(m) for m in written} == set(payload)
    failed = [(m.__struct_config__.tag, error.message[:120]) for m in written
              for error in readers[schema_of(m)].iter_errors(json.loads(encode(m)))]
    assert failed[:5] == []         # (the first five of them, if any)
    senders = Draft7Validator({**document, **messages["command"]["payload"]}, format_checker=FORMATS)
    assert [kind for kind, command in DOCUMENTED.items()
            if not senders.is_valid({"type": kind.split()[0], **command})] == []
