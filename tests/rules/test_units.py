"""U1–U3 (units, time, determinism) and the wire codec (PROTOCOL: money, a strict contract)."""
from __future__ import annotations

import time

import msgspec
import pytest

from certx.money import Fen
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.codec import Malformed, NotAnObject, decode_command, decode_event, encode, encode_lines
from support import Desk, cea_day, only, rejected

AT = "2021-12-16T10:00:00+08:00"


def order_line(**override) -> bytes:
    """A well-formed CEA buy as raw JSON. A bytes value is pasted verbatim (a float, say); ... drops the field."""
    fields = {"type": "order.new", "at": AT, "actor": "B1", "order_id": "o1", "account": "A",
              "product": "CEA21", "side": "buy", "quantity": 10, "price": "54.22"}
    fields.update(override)
    body = ",".join(f'"{k}":' + (v.decode() if isinstance(v, bytes) else msgspec.json.encode(v).decode())
                    for k, v in fields.items() if v is not ...)
    return ("{" + body + "}").encode()


# --- U1: prices are integer fen from decoding on; decimal strings (or integer yuan), at most 2 places ----

def test_U1_decimal_string_price_is_integer_fen_once_decoded():
    cmd = decode_command(order_line(price="54.22"))
    assert isinstance(cmd, c.OrderNew)
    assert isinstance(cmd.price, int) and cmd.price == 5422


def test_U1_integer_yuan_price_is_accepted_as_fen():
    cmd = decode_command(order_line(price=54))
    assert isinstance(cmd, c.OrderNew) and cmd.price == 5400


def test_U1_one_decimal_place_is_whole_fen():
    cmd = decode_command(order_line(price="54.2"))
    assert isinstance(cmd, c.OrderNew) and cmd.price == 5420


def test_U1_engine_reserves_in_integer_fen():
    desk = cea_day("50.00")
    desk.order("b1", "A", "B1", "CEA21", "buy", 10, "54.22")
    wallet = desk.engines["CEA"].wallets["A"]
    assert wallet.cash_held == 54_220
    assert wallet.cash == 1_000_000_000 - 54_220


def test_U1_float_price_is_refused_as_malformed():
    bad = decode_command(order_line(price=b"54.2200000001"))
    assert isinstance(bad, Malformed)
    assert "float" in bad.detail and "price" in bad.detail


def test_U1_float_price_is_answered_malformed_and_changes_nothing_in_the_engine():
    desk = cea_day("50.00")
    (answer,) = desk.raw(order_line(price=b"54.2200000001"))
    assert isinstance(answer, e.OrderRejected) and answer.reason == "malformed" and answer.ref == "o1"
    assert "price" in answer.detail and answer.account == "A"
    assert desk.engines["CEA"].wallets["A"].cash_held == 0
    assert not desk.engines["CEA"].products["CEA21"].book.orders


def test_U1_three_decimal_places_are_refused():
    bad = decode_command(order_line(price="54.222"))
    assert isinstance(bad, Malformed)
    assert "price" in bad.detail and "2 decimal" in bad.detail


@pytest.mark.parametrize("price", ["0", "-1.00", "1e3", "54,22", " 54.22", ""])
def test_U1_non_positive_or_non_decimal_price_is_malformed(price):
    bad = decode_command(order_line(price=price))
    assert isinstance(bad, Malformed) and "price" in bad.detail


def test_U1_money_is_written_back_as_a_decimal_string():
    desk = cea_day("50.00")
    desk.order("s1", "S", "B2", "CEA21", "sell", 10, "54.2")
    events = desk.order("b1", "A", "B1", "CEA21", "buy", 10, "54.22")
    trade = only(events, e.Trade)[0]
    wire = msgspec.json.decode(encode(trade))
    assert wire["price"] == "54.20"
    accepted = msgspec.json.decode(encode(only(events, e.OrderAccepted)[0]))
    assert accepted["price"] == "54.22"


def test_U1_money_round_trips_through_the_codec():
    event = e.FundsDeposited(account="A", amount=Fen(10_000_000_001), seq=0, origin=e.Origin(0, 0, 0), market="CEA")
    raw = encode(event)
    assert b'"amount":"100000000.01"' in raw
    back = decode_event(raw)
    assert back.amount == 10_000_000_001 and encode(back) == raw


def test_U1_deposit_amount_decodes_exactly():
    desk = Desk()
    desk.open_account("A", "B1")
    desk.deposit("A", "CEA", "0.01")
    desk.deposit("A", "CEA", "0.02")
    assert desk.engines["CEA"].wallets["A"].cash == 3      # 0.1 + 0.2 in fen, no float drift


# --- U2: quantities are whole units ----------------------------------------------------------------

@pytest.mark.parametrize("quantity", [b"1.5", b"100.0", b'"100"'])
def test_U2_fractional_or_text_quantity_is_malformed(quantity):
    bad = decode_command(order_line(quantity=quantity))
    assert isinstance(bad, Malformed) and "quantity" in bad.detail


def test_U2_negative_quantity_is_malformed():
    bad = decode_command(order_line(quantity=-5))
    assert isinstance(bad, Malformed) and "quantity" in bad.detail


def test_U2_whole_units_move_on_a_trade():
    desk = cea_day("50.00")
    desk.order("s1", "S", "B2", "CEA21", "sell", 7, "50.00")
    desk.order("b1", "A", "B1", "CEA21", "buy", 7, "50.00")
    cea = desk.engines["CEA"]
    assert cea.wallets["A"].positions["CEA21"].locked == 7
    assert cea.wallets["S"].positions["CEA21"].free == 1_000_000 - 7


# --- U3: time comes from the log; the same log replays to the same events --------------------------

def test_U3_session_hours_follow_the_command_time_not_the_clock():
    desk = cea_day("50.00")
    # the same order, stamped 09:29 and 09:30 China time (01:29Z / 01:30Z) on the log's date
    early = desk.raw(order_line(order_id="o1", at="2021-12-16T01:29:00Z"))
    late = desk.raw(order_line(order_id="o2", at="2021-12-16T01:30:00Z"))
    assert rejected(early) == "market_closed"
    assert rejected(late) is None and only(late, e.OrderAccepted)


def a_day_of_commands() -> list[bytes]:
    """A log with trades, a lift, a block, a cancel, an expiry and two closes."""
    lines: list[dict] = []
    ids = iter(range(1000))

    def add(day: str, time: str, type_: str, **f) -> None:
        if "order_id" not in f:
            f["id"] = f"c{next(ids)}"
        lines.append({"type": type_, "at": f"2021-12-{day}T{time}:00+08:00", **f})

    add("16", "08:00", "account.open", actor="registry", account="A", broker="B1")
    add("16", "08:00", "account.open", actor="registry", account="S", broker="B2")
    add("16", "08:00", "product.list", actor="operator", market="CEA", product="CEA21", reference_price="50.00")
    add("16", "08:00", "funds.deposit", actor="bank", account="A", market="CEA", amount="10000000")
    add("16", "08:00", "issue.cea", actor="registry", account="S", product="CEA21", quantity=500_000)
    add("16", "09:00", "session.open", actor="operator", market="CEA", date="2021-12-16")
    sell = dict(actor="B2", account="S", product="CEA21", side="sell")
    buy = dict(actor="B1", account="A", product="CEA21", side="buy")
    add("16", "09:31", "order.new", order_id="s1", quantity=100, price="50.10", **sell)
    add("16", "09:32", "order.new", order_id="s2", quantity=200, price="50.05", **sell)
    add("16", "09:33", "order.new", order_id="s3", quantity=300, price="50.20", **sell)
    add("16", "09:34", "order.new", order_id="b1", quantity=250, price="50.15", **buy)
    add("16", "09:35", "order.lift", order_id="b2", actor="B1", account="A", market="CEA", target="s3", quantity=40)
    add("16", "09:36", "order.cancel", order_id="s3", actor="B2", account="S", market="CEA")
    add("16", "13:10", "order.new", order_id="k1", mode="block", quantity=100_000, price="45.00", **sell)
    add("16", "13:11", "order.accept", order_id="k2", actor="B1", account="A", market="CEA", target="k1",
        quantity=100_000)
    add("16", "13:12", "order.new", order_id="b3", quantity=10, price="49.00", **buy)
    add("16", "15:30", "session.close", actor="operator", market="CEA", date="2021-12-16")
    add("17", "09:00", "session.open", actor="operator", market="CEA", date="2021-12-17")
    add("17", "15:30", "session.close", actor="operator", market="CEA", date="2021-12-17")
    return [msgspec.json.encode(line) for line in lines]


def replay(lines: list[bytes]) -> bytes:
    desk = Desk()
    out = []
    for line in lines:
        out += desk.raw(line)
    assert not desk.replay.summary.malformed, desk.replay.summary.malformed
    return encode_lines(out)


def test_U3_same_log_gives_byte_identical_events():
    lines = a_day_of_commands()
    first, second = replay(lines), replay(lines)
    assert first.count(b'"type":"trade"') >= 4 and b'"type":"day.summary"' in first   # a real day, not empty
    assert first == second


def test_U3_replay_never_reads_the_wall_clock(monkeypatch):
    lines = a_day_of_commands()
    expected = replay(lines)
    def no_clock(*_a, **_k):
        raise AssertionError("the engine read the wall clock")
    for name in ("time", "time_ns", "monotonic", "monotonic_ns", "localtime", "gmtime"):
        monkeypatch.setattr(time, name, no_clock)
    assert replay(lines) == expected


# --- the codec: decoding never raises; every refusal says what was wrong ---------------------------

GARBAGE = {
    "empty": b"",
    "truncated": b'{"type":"order.new"',
    "not json": b"hello",
    "bad utf-8 bytes": b"\xff\xfe\x00",
    "json null": b"null",
    "json array": b"[1,2]",
    "json string": b'"order.new"',
    "huge number": b"1e999999",
    "lone surrogate": b'{"type":"order.new","order_id":"\\ud800"}',
    # the best-effort id lookup must survive these too
    "bad utf-8 inside a string": b'{"type":"order.new","order_id":"o\xb2"}',
    "bad utf-8 top-level string": b'"\xb2B"',
    "deeply nested array": b"[" * 100_000,
    "deeply nested field": b'{"type":"order.new","junk":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
}


@pytest.mark.parametrize("raw", list(GARBAGE.values()), ids=list(GARBAGE))
def test_codec_decoding_never_raises_on_bad_bytes(raw):
    result = decode_command(raw)
    assert isinstance(result, (Malformed, NotAnObject)) and result.detail


def test_codec_unknown_type_tag_is_malformed_naming_the_type():
    bad = decode_command(order_line(type="order.teleport"))
    assert isinstance(bad, Malformed) and "type" in bad.detail and "order.teleport" in bad.detail


def test_codec_auction_bid_decodes_with_its_price_in_fen():
    # M3 is built (tests/rules/test_auction.py): auction commands are part of the contract
    bid = decode_command(b'{"type":"auction.bid","actor":"B1","order_id":"x","account":"A","auction_id":"a",'
                         b'"quantity":1,"price":"1.00"}')
    assert not isinstance(bid, Malformed) and bid.price == 100 and bid.auction_id == "a"
    bad = decode_command(b'{"type":"auction.bid","actor":"B1","order_id":"x","account":"A","auction_id":"a",'
                         b'"quantity":1,"price":1.001}')
    assert isinstance(bad, Malformed)


@pytest.mark.parametrize("field", ["quantity", "price", "account", "side"])
def test_codec_missing_field_is_malformed_naming_the_field(field):
    bad = decode_command(order_line(**{field: ...}))
    assert isinstance(bad, Malformed) and f"`{field}`" in bad.detail


def test_codec_malformed_keeps_the_order_id_so_the_broker_can_match_it():
    bad = decode_command(order_line(order_id="mine-7", quantity=-5))
    assert isinstance(bad, Malformed) and bad.ref == "mine-7"


def test_codec_bad_enum_is_malformed():
    bad = decode_command(order_line(side="hold"))
    assert isinstance(bad, Malformed) and "side" in bad.detail


def test_codec_command_without_time_is_malformed_in_a_log():
    desk = cea_day()
    (answer,) = desk.raw(order_line(at=...))
    assert answer.reason == "malformed" and "`at`" in answer.detail
