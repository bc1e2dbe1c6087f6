"""DESIGN 5: `schemas/` is generated from the Structs; the checked-in files must not drift from the code."""
import re
from pathlib import Path

import msgspec
import pytest

from certx.wire.schema import ROOT, generate


@pytest.mark.parametrize("name", sorted(generate()))
def test_checked_in_schema_matches_the_structs(name):
    assert (ROOT / name).read_text() == generate()[name], f"run: python -m certx.wire.schema ({name} drifted)"


def test_schemas_are_where_the_contract_says():
    assert ROOT == Path(__file__).resolve().parents[2] / "schemas"


def test_event_positions_are_required_on_the_wire():
    events = msgspec.json.decode(generate()["events.schema.json"])
    for name in ("Trade", "OrderAccepted", "DaySummary"):
        assert {"seq", "origin", "market"} <= set(events["$defs"][name]["required"])


def test_money_is_a_decimal_string_in_the_contract():
    events = msgspec.json.decode(generate()["events.schema.json"])
    assert events["$defs"]["Trade"]["properties"]["price"]["type"] == "string"


def test_the_command_schema_is_strict_and_says_what_it_is():
    """PROTOCOL: a strict contract. Every command object refuses unknown fields; names, money and quantities
    carry their bounds; the schema names its dialect and its id."""
    commands = msgspec.json.decode(generate()["commands.schema.json"])
    assert commands["$schema"].startswith("https://json-schema.org/") and commands["$id"].endswith("commands.schema.json")
    defs = commands["$defs"]
    for name in ("OrderNew", "FundsDeposit", "IssueGec", "Surrender", "GecFilter"):
        assert defs[name]["additionalProperties"] is False, name
    order = defs["OrderNew"]["properties"]
    assert order["account"]["maxLength"] == 128 and "\\u0000" in order["account"]["pattern"]
    assert order["quantity"]["maximum"] == 10**10 and order["quantity"]["minimum"] == 1
    price = re.compile(order["price"]["pattern"])
    assert price.search("1000000.00") and price.search("0.01") and price.search("54.22")
    assert not any(price.search(p) for p in ("0", "0.00", "1000000.01", "9999999", "54.221", "\uff15\uff14", "54\n"))
    assert "gateway.refusal" not in generate()["commands.schema.json"], "senders cannot send the gateway's refusals"
