"""The strict contract (PROTOCOL): a JSON object that breaks it is answered `malformed` with its `ref` and a
`detail` naming the field, and changes nothing; bytes that are not a JSON object have no command to answer and
go to the dead letters alone. Every answer carries `ref`; a resent command never applies twice. With DOMAIN U1
and U2 (money and quantities), A1 (who may act) and A2 (cash per market)."""
from __future__ import annotations

import json
import tracemalloc

import msgspec
import pytest

from certx.engine import Engine
from certx.money import MAX_MARKET_CASH
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.codec import MAX_RECORD, Malformed, NotAnObject, decode_command
from support import cea_day, engine_state, rejected

AT = "2021-12-16T10:00:00+08:00"


def order(**override) -> dict:
    fields = {"type": "order.new", "at": AT, "actor": "B1", "order_id": "o1", "account": "A", "product": "CEA21",
              "side": "buy", "quantity": 10, "price": "50.00"}
    fields.update(override)
    return fields


def answer(desk, raw: bytes) -> e.Event:
    (only_answer,) = desk.raw(raw)
    return only_answer


def engines_state(desk) -> list:
    return [engine_state(engine) for engine in desk.engines.values()]


@pytest.mark.parametrize("field, value", [("counterpart", "gen-02"), ("partail", False), ("Actor", "registry")])
def test_an_unknown_field_is_malformed_naming_it_and_changes_nothing(field, value):
    """`"counterpart"` once made an addressed block offer public, `"partail": false` a partial one whole."""
    desk = cea_day()
    before = engines_state(desk)
    ev = answer(desk, msgspec.json.encode(order(**{field: value})))
    assert isinstance(ev, e.OrderRejected) and ev.reason == "malformed" and ev.ref == "o1"
    assert f"`{field}`" in ev.detail
    assert engines_state(desk) == before


@pytest.mark.parametrize("term, value, kind", [
    ("counterparty", "gen-02", {}), ("partial", False, {}), ("first_serial", 1, {}), ("beneficiary", "X", {}),
    ("filter", {"provinces": ["Gansu"]}, {}), ("filter", {"provinces": ["Gansu"]}, {"mode": "block"}),
    ("first_serial", 1, {"mode": "block", "quantity": 100_000}),
])
def test_a_term_its_kind_of_order_has_no_use_for_is_malformed_not_ignored(term, value, kind):
    """M2, M4, M5: `counterparty` and `partial` are terms of block offers and GEC lots, the serials of GEC lots, a
    filter and a beneficiary of GEC bids. Set anywhere else they would be ignored, so they are refused."""
    desk = cea_day()
    before = engines_state(desk)
    ev = answer(desk, msgspec.json.encode(order(**kind, **{term: value})))
    assert isinstance(ev, e.OrderRejected) and ev.reason == "malformed" and ev.ref == "o1"
    assert f"`{term}` is not a term" in ev.detail
    assert engines_state(desk) == before


def test_a_duplicate_key_is_malformed_whichever_comes_last():
    desk = cea_day()
    raw = msgspec.json.encode(order())[:-1] + b',"actor":"B2"}'
    ev = answer(desk, raw)
    assert ev.reason == "malformed" and "duplicate key `actor`" in ev.detail and ev.ref == "o1"
    nested = msgspec.json.encode(order(filter={"provinces": ["Gansu"]})).replace(
        b'"provinces"', b'"provinces":["Hebei"],"provinces"')
    assert "duplicate key `provinces`" in decode_command(nested).detail


def test_a_duplicate_key_is_found_behind_escapes_and_colons_in_strings():
    """The gateway counts colons to skip the slow exact check: neither an escaped colon nor a colon in a value
    may hide a repeated key from it."""
    raw = msgspec.json.encode(order())[:-1]
    escaped_colon = raw + b',"actor":"B2","note":"\\u003a"}'          # one colon fewer in the bytes than read
    assert "duplicate key `actor`" in decode_command(escaped_colon).detail
    escaped_key = raw + b',"\\u0061ctor":"B2"}'                        # the same key, spelt with an escape
    assert "duplicate key `actor`" in decode_command(escaped_key).detail
    colon_in_value = raw + b',"actor":"B2","note":"10:00"}'
    assert "duplicate key `actor`" in decode_command(colon_in_value).detail
    with_colons = msgspec.json.encode(order(order_id="o:1"))                # no repeat: read as it is
    assert decode_command(with_colons).order_id == "o:1"


def test_a_refused_command_is_answered_with_its_own_id_not_a_stray_order_id():
    """PROTOCOL: `ref` is the command's `id` (`order_id` for orders). A deposit carrying a stray `order_id` was
    answered with that as its ref, telling the sender that some order of that id was refused."""
    desk = cea_day()
    deposit = {"type": "funds.deposit", "at": AT, "actor": "bank", "id": "d1", "account": "A", "market": "CEA",
               "amount": "1", "order_id": "o7"}
    ev = answer(desk, msgspec.json.encode(deposit))
    assert ev.reason == "malformed" and "`order_id`" in ev.detail and ev.ref == "d1"
    ev = answer(desk, msgspec.json.encode(order(id="x7")))
    assert ev.reason == "malformed" and "`id`" in ev.detail and ev.ref == "o1"


@pytest.mark.parametrize("name", ["A\x00", "A\n", "\x1b[31mA", "A\x7f", "A\x85", "x" * 129, "",
                                  "B1\u200b", "A\u202e1B", "A\u2028", "\ufeffA", "A\u2066B", "A\u00adB",
                                  "B1\ufe0f", "A\u3164", "A\u034fB", "\u115fA", "A\u180bB", "A\uffa0"])
@pytest.mark.parametrize("escaped", [False, True])
def test_a_name_with_a_control_character_or_over_128_characters_is_malformed_and_never_echoed(name, escaped):
    """A NUL byte in an account name once stopped settlement for good (PostgreSQL refuses it). A zero-width space
    ("B1\u200b" looks like "B1"), a bidi override or isolate, a line separator, a BOM or a soft hyphen print as
    nothing or reorder what follows on an operator's screen: refused alike, written as UTF-8 (a DEL as itself) or
    escaped."""
    desk = cea_day()

    def written(cmd: dict) -> bytes:
        raw = msgspec.json.encode(cmd)
        return json.dumps(json.loads(raw), ensure_ascii=True).encode() if escaped else raw

    ev = answer(desk, written(order(account=name)))
    assert ev.reason == "malformed" and "`$.account`" in ev.detail
    assert ev.account == "", "a name the contract refuses is never published"
    ev = answer(desk, written(order(order_id=name)))
    assert ev.reason == "malformed" and ev.ref == ""


def test_a_record_laid_out_over_lines_with_names_in_any_script_is_admitted():
    """PROTOCOL: JSON objects. Tabs, line feeds and carriage returns between a record's tokens are JSON's
    whitespace, not a name's characters: a pretty-printed order naming its account in Chinese is admitted."""
    raw = json.dumps(order(account="碳排放权交易"), ensure_ascii=False, indent="\t").replace("\n", "\r\n").encode()
    assert b"\t" in raw and b"\r\n" in raw
    assert isinstance(decode_command(raw), c.OrderNew)


@pytest.mark.parametrize("name", ["B1\U000e0041", "A\U000e0001", "A\U0001d173B", "A\U00013430", "A\U000e0100",
                                  "A\U00013439"])
@pytest.mark.parametrize("escaped", [False, True])
def test_a_name_with_an_astral_format_character_is_malformed_however_it_is_written(name, escaped):
    """The tag block's characters print as nothing: "B1" followed by a hidden tag "A" shows as "B1" on every screen,
    like a zero-width space. The schemas' pattern cannot name them (see ASTRAL_UNSAFE), so the door looks for them
    after the decode, in UTF-8 or escaped as a surrogate pair; a name in CJK Extension B (astral too) is no
    such character."""
    desk = cea_day()
    raw = msgspec.json.encode(order(account=name))
    if escaped:
        raw = json.dumps(json.loads(raw), ensure_ascii=True).encode()
    ev = answer(desk, raw)
    assert ev.reason == "malformed" and "`$.account`" in ev.detail and ev.ref == "o1"
    assert ev.account == "", "a name the contract refuses is never published"
    assert isinstance(decode_command(msgspec.json.encode(order(account="A\U00020000"))), c.OrderNew)


@pytest.mark.parametrize("escaped", [False, True])
def test_a_surrenders_product_with_an_astral_format_character_is_malformed(escaped):
    """A surrender's `cea` is {product: quantity} (PROTOCOL), its products names like any other: one that hides a
    tag "A" ("CEA21" + U+E0041 shows as "CEA21") is refused as a zero-width space there is, in UTF-8 or escaped.
    The door's look for astral format characters read a dict's values and never its keys."""
    surrender = {"type": "surrender", "id": "s1", "account": "S", "compliance_year": 2025, "ccer": 0}
    for product in ("CEA21\U000e0041", "CEA21\U0001d173"):
        raw = msgspec.json.encode({**surrender, "cea": {product: 1_000}})
        if escaped:
            raw = json.dumps(json.loads(raw), ensure_ascii=True).encode()
        refused = decode_command(raw)
        assert isinstance(refused, Malformed) and "`$.cea`" in refused.detail and refused.ref == "s1"
    assert isinstance(decode_command(msgspec.json.encode({**surrender, "cea": {"CEA21": 1_000}})), c.Surrender)


# Default_Ignorable_Code_Point, Unicode 15 (DerivedCoreProperties.txt): Python's unicodedata does not name it.
DEFAULT_IGNORABLE = [(0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
                     (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
                     (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
                     (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF)]


def test_no_name_may_hold_a_control_a_separator_or_what_prints_as_nothing():
    """Every control, format character and line or paragraph separator Python's Unicode knows, and every code
    point Unicode calls default-ignorable (a renderer shows it as nothing: variation selectors, Hangul fillers,
    tags), is refused in a name: by the schemas' pattern in the Basic Multilingual Plane, by the door beyond."""
    import re
    import unicodedata

    from certx.wire.commands import NAME_PATTERN, UNPRINTABLE

    unseen = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF
              and unicodedata.category(chr(cp)) in ("Cc", "Cf", "Zl", "Zp")]
    unseen += [cp for first, last in DEFAULT_IGNORABLE for cp in range(first, last + 1)]
    assert [hex(cp) for cp in unseen if not UNPRINTABLE.search(chr(cp))] == []
    pattern = re.compile(NAME_PATTERN)
    assert [hex(cp) for cp in unseen if cp < 0x10000 and pattern.match(f"A{chr(cp)}")] == []
    assert all(pattern.match(name) and not UNPRINTABLE.search(name) for name in ("碳排放权交易", "A😀", "B1 (上海)"))


def test_an_object_after_a_byte_order_mark_is_answered_with_its_ref_not_only_dead_lettered():
    """PROTOCOL: a record that is a JSON object is answered (`malformed`, its `ref`); only bytes that are not one go
    to the DLQ alone. A byte order mark before the object (RFC 8259 8.1: never sent; a Windows tool adds it) made
    the record a dead letter, and the broker never heard of its order. Bytes after a mark that are no object stay a
    dead letter."""
    desk = cea_day()
    marked = "\ufeff".encode() + msgspec.json.encode(order(order_id="o9"))
    ev = answer(desk, marked)
    assert ev.reason == "malformed" and ev.ref == "o9" and "byte order mark" in ev.detail
    assert isinstance(decode_command("\ufeff".encode() + b"[1, 2]"), NotAnObject)
    assert isinstance(decode_command("\ufeff".encode() + b"{not json"), NotAnObject)


@pytest.mark.parametrize("name", ["碳排放权交易", "Ä-Ölmühle", "B1 (Shanghai)", "A😀", "a" * 128])
def test_a_printable_name_in_any_script_is_admitted(name):
    """The names refused above are refused for what they hide, not for being outside ASCII."""
    desk = cea_day()
    ev = answer(desk, msgspec.json.encode(order(order_id=name)))
    assert getattr(ev, "reason", None) != "malformed" and ev.ref == name


@pytest.mark.parametrize("field, value", [
    ("quantity", 2**70), ("quantity", 10**10 + 1), ("quantity", 0), ("quantity", -5), ("price", 2**70),
    ("price", "1000000.01"), ("price", "12345678.00"), ("price", 1e3), ("price", "NaN"), ("price", "54.222"),
])
def test_U1_U2_numbers_beyond_their_bounds_are_malformed(field, value):
    """Every amount the engine and the read model hold stays inside a 64-bit integer."""
    desk = cea_day()
    ev = answer(desk, msgspec.json.encode(order(**{field: value})))
    assert ev.reason == "malformed" and field in ev.detail


GEC_ISSUE = {"type": "issue.gec", "at": AT, "actor": "registry", "id": "i1", "account": "A", "project": "P",
             "province": "Gansu", "technology": "wind", "production_month": "2025-06", "subsidised": False,
             "first_serial": 1, "last_serial": 10}
BAND = {"type": "band.set", "at": AT, "actor": "operator", "id": "b1", "product": "CEA21", "mode": "listing",
        "ratio": "0.2"}


@pytest.mark.parametrize("line, field, value", [
    (BAND, "ratio", "0.2\n"), (BAND, "ratio", "1.0\n"), (BAND, "ratio", "0.\uff12"),
    (GEC_ISSUE, "production_month", "2025-06\n"), (GEC_ISSUE, "production_month", "\uff12\uff10\uff12\uff15-06"),
    (order(), "price", "\uff15\uff10.\uff10\uff10"), (order(), "price", "\u0665\u0660"),
    ({"type": "funds.deposit", "at": AT, "actor": "bank", "id": "d1", "account": "A", "market": "CEA"}, "amount",
     "\uff11\uff10\uff10"),
])
def test_a_pattern_reads_as_the_published_schema_says_ascii_digits_and_no_final_newline(line, field, value):
    """PROTOCOL: money is a decimal string ("54.22"), months "2025-06"; the schema's patterns (JSON Schema, ECMA
    regular expressions) mean ASCII digits, and `$` the end. Python's `\\d` also matches fullwidth or Arabic-Indic
    digits and its `$` a final newline: the door admitted `"ratio": "0.2\\n"`, which then stopped the engine
    (ValueError reading it), and prices, amounts, months and ratios any other reader of the schema refuses."""
    desk = cea_day()
    before = engines_state(desk)
    ev = answer(desk, msgspec.json.encode({**line, field: value}))
    assert ev.reason == "malformed" and field in ev.detail and ev.ref in ("o1", "b1", "i1", "d1")
    assert engines_state(desk) == before


def test_U1_a_deposit_beyond_its_bound_is_malformed_and_a_market_never_holds_more_than_2_62_fen():
    desk = cea_day()
    line = {"type": "funds.deposit", "at": AT, "actor": "bank", "id": "d1", "account": "A", "market": "CEA"}
    assert answer(desk, msgspec.json.encode({**line, "amount": 2**70})).reason == "malformed"
    big = "1000000000000.00"                                        # the largest deposit: 10^14 fen
    cea = desk.engines["CEA"]
    room = (MAX_MARKET_CASH - cea.cash_total) // 10**14
    for i in range(room):
        cea.cash_total += 10**14                                    # as if deposited, without 46,000 commands
    ev = answer(desk, msgspec.json.encode({**line, "amount": big}))
    assert ev.reason == "over_limit"


def test_a_megabyte_record_is_answered_malformed_with_its_ref():
    desk = cea_day()
    raw = msgspec.json.encode(order(order_id="huge", padding="x" * 1_000_000))
    assert len(raw) > MAX_RECORD
    ev = answer(desk, raw)
    assert ev.reason == "malformed" and ev.ref == "huge" and "bytes" in ev.detail


def test_a_megabyte_record_is_refused_without_being_read_whole():
    """MAX_RECORD (an attack, not a command): a megabyte of empty objects, read whole before its size was checked,
    built 24 MB and cost 40 ms, ten thousand listing orders' worth of the door's time, only to be refused. It is
    refused having read only what its answer needs (memory stands for the time here: a test asserts no time)."""
    raw = msgspec.json.encode(order(order_id="huge", padding=[{}] * 330_000))
    assert len(raw) > 2**20 - 2**16
    tracemalloc.start()
    try:
        bad = decode_command(raw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(bad, Malformed) and bad.ref == "huge" and bad.account == "A" and "bytes" in bad.detail
    assert peak < len(raw) // 4
    assert isinstance(decode_command(b"[" + b"{}," * 400_000 + b"{}]"), NotAnObject)
    assert isinstance(decode_command(raw[:-1]), NotAnObject)


def test_deep_nesting_inside_an_object_is_answered_and_outside_one_is_not_an_object():
    desk = cea_day()
    ev = answer(desk, b'{"type":"order.new","order_id":"deep","junk":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert ev.reason == "malformed" and ev.ref == "deep"
    assert isinstance(decode_command(b"[" * 100_000), NotAnObject)


@pytest.mark.parametrize("kind", [[], {}, {"a": 1}, ["order.new"]])
def test_a_type_that_is_an_array_or_an_object_is_answered_malformed_not_raised(kind):
    """PROTOCOL: a record that is a JSON object is answered `malformed` with its `ref`. A `type` that is not a
    string once raised (an unhashable value looked up among the contract's types): the gateway stopped, and read
    the same record again on its restart, so one 13-byte record from any broker stopped the exchange's intake."""
    desk = cea_day()
    before = engines_state(desk)
    ev = answer(desk, msgspec.json.encode(order(type=kind)))
    assert ev.reason == "malformed" and ev.ref == "o1"
    assert isinstance(decode_command(b'{"type":[]}'), Malformed)
    assert engines_state(desk) == before


@pytest.mark.parametrize("field, number", [("quantity", b"1e999"), ("price", b"-1e400"), ("quantity", b"9" * 4301),
                                           ("note", b"1e999")])
def test_a_number_too_large_to_read_is_answered_malformed_naming_its_field_not_dead_lettered(field, number):
    """PROTOCOL: a record that is a JSON object is answered `malformed`, with its `ref` and a `detail` naming the
    field; only bytes that are not a JSON object go to the dead letters alone. `1e999` and a 4,301-digit integer
    are JSON, but beyond what the reader holds (a float, 4,300 digits): such an order once went to the dead
    letters unanswered, its sender never told."""
    desk = cea_day()
    before = engines_state(desk)
    fields = msgspec.json.encode(order(**{field: 0}))
    ev = answer(desk, fields.replace(f'"{field}":0'.encode(), f'"{field}":'.encode() + number))
    assert isinstance(ev, e.OrderRejected) and ev.reason == "malformed" and ev.ref == "o1" and ev.account == "A"
    assert f"`{field}`" in ev.detail or f"$.{field}" in ev.detail
    assert engines_state(desk) == before
    assert isinstance(decode_command(b"[1e999]"), NotAnObject) and isinstance(decode_command(b'{"a":1e999'),
                                                                                NotAnObject)


@pytest.mark.parametrize("raw", [b"", b"null", b"[1]", b'"order.new"', b"\xff\xfe", b"{", b"1e999999"])
def test_bytes_that_are_not_a_json_object_get_no_answer_but_are_counted(raw):
    desk = cea_day()
    assert desk.raw(raw) == []
    assert desk.replay.summary.malformed[-1].reason == "malformed"


def test_a_sender_cannot_send_the_gateways_refusal_record():
    bad = decode_command(b'{"type":"gateway.refusal","actor":"B1","ref":"x","reason":"malformed","order":true}')
    assert isinstance(bad, Malformed) and "gateway.refusal" in bad.detail


def test_every_answer_carries_the_commands_ref():
    """Success answers to registry, bank and operator commands included."""
    desk = cea_day()
    for events in (desk.send("funds.deposit", id="dep-9", actor="bank", account="A", market="CEA", amount="1"),
                   desk.send("issue.cea", id="iss-9", actor="registry", account="A", product="CEA21", quantity=1),
                   desk.send("band.set", id="band-9", actor="operator", product="CEA21", mode="listing",
                             ratio="0.2"),
                   desk.order("o9", "A", "B1", "CEA21", "buy", 1, "50.00")):
        ref = events[0].ref
        assert ref.endswith("9") and all(ev.ref == ref for ev in events)


@pytest.mark.parametrize("type_, fields", [
    ("funds.deposit", {"actor": "bank", "account": "A", "market": "CEA", "amount": "100"}),
    ("issue.cea", {"actor": "registry", "account": "A", "product": "CEA21", "quantity": 7}),
    ("band.set", {"actor": "operator", "product": "CEA21", "mode": "block", "ratio": "0.2"}),
])
def test_a_resent_command_is_refused_duplicate_command_and_applies_once(type_, fields):
    desk = cea_day()
    first = desk.send(type_, id="same", **fields)
    assert rejected(first) is None
    before = engines_state(desk)
    again = desk.send(type_, id="same", **fields)
    assert rejected(again) == "duplicate_command" and again[0].ref == "same"
    assert engines_state(desk) == before


def test_a_resent_account_open_is_answered_once_and_refused_in_every_market():
    desk = cea_day()
    desk.send("account.open", id="acct-Z", actor="registry", account="Z", broker="B1")
    again = desk.send("account.open", id="acct-Z", actor="registry", account="Z2", broker="B1")
    assert rejected(again) == "duplicate_command"
    assert all("Z2" not in engine.wallets for engine in desk.engines.values())


def test_the_same_id_from_another_sender_is_another_command():
    desk = cea_day()
    desk.send("band.set", id="same", actor="operator", product="CEA21", mode="block", ratio="0.2")
    assert rejected(desk.send("funds.deposit", id="same", actor="bank", account="A", market="CEA",
                              amount="1")) is None


def test_an_engine_refuses_a_command_for_another_market_saying_so_and_never_issues_cea_in_ccer():
    ccer = Engine("CCER")
    ccer.apply(c.AccountOpen(id="a", actor="registry", account="A", broker="B1"), 0)
    (ev,) = ccer.apply(c.IssueCea(id="i", actor="registry", account="A", product="CEA21", quantity=5), 0)
    assert isinstance(ev, e.CommandRejected) and ev.reason == "wrong_market" and "CEA" in ev.detail
    assert "CEA21" not in ccer.wallets["A"].positions
    (ev,) = ccer.apply(c.OrderCancel(order_id="x", actor="B1", account="A", market="GEC"), 0)
    assert ev.reason == "wrong_market"
