"""DOMAIN "Reject reasons" and DESIGN (one enumeration of result codes): every refusal names a member of
certx.wire.reasons, never a bare word; the schemas list the members; a member is its bare word on the wire."""
from __future__ import annotations

import ast
import json
from enum import StrEnum
from pathlib import Path

import pytest

import certx
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire import settlements as s
from certx.wire.codec import decode_event, encode
from certx.wire.dead_letter import dead_letter
from certx.wire.reasons import DeadLetterReason, Reason, SettlementReason
from certx.wire.schema import ROOT

SOURCE = Path(certx.__file__).parent
VOCABULARIES = (Reason, SettlementReason, DeadLetterReason)
# The calls that refuse, and where their reason goes: (argument index, its enumeration).
REFUSING = {"Rejected": (0, Reason), "Refused": (0, SettlementReason), "dead_letter": (1, DeadLetterReason)}


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text())) for path in sorted(SOURCE.rglob("*.py"))
            if path.name != "reasons.py"]


def _called(node: ast.Call) -> str:
    return node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")


def test_every_refusal_names_a_member_of_its_vocabulary():
    """`raise Rejected(Reason.lot_size, …)`, never `Rejected("lot_size", …)`: a misspelt member fails here, not
    on the day the refusal first happens."""
    found, wrong = 0, []
    for path, module in _modules():
        for node in ast.walk(module):
            if isinstance(node, ast.Call) and _called(node) in REFUSING:
                index, vocabulary = REFUSING[_called(node)]
                reason = node.args[index]
                found += 1
                if not (isinstance(reason, ast.Attribute) and isinstance(reason.value, ast.Name)
                        and reason.value.id == vocabulary.__name__ and reason.attr in vocabulary.__members__):
                    wrong.append(f"{path.relative_to(SOURCE)}:{node.lineno} {ast.unparse(reason)}")
    assert found > 80, "the scan no longer finds the refusals"
    assert not wrong, wrong


def test_no_reason_is_written_as_a_bare_word():
    """The door's refusals, the replay's count of malformed lines, the sample's deliberate refusals: wherever a
    reason is passed, returned, compared or looked up, it is a member. Only docstrings and the keys of a dict
    literal (an output's field names, such as the replay summary's `malformed`) may say the words."""
    words = {r.value for vocabulary in VOCABULARIES for r in vocabulary}
    bare = []
    for path, module in _modules():
        allowed = set()
        for node in ast.walk(module):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) \
                    and ast.get_docstring(node, clean=False) is not None:
                allowed.add(id(node.body[0].value))
            if isinstance(node, ast.Dict):
                allowed.update(id(key) for key in node.keys if key is not None)
        bare += [f"{path.relative_to(SOURCE)}:{node.lineno} {node.value!r}" for node in ast.walk(module)
                 if isinstance(node, ast.Constant) and node.value in words and id(node) not in allowed]
    assert not bare, bare


@pytest.mark.parametrize("vocabulary", VOCABULARIES, ids=lambda v: v.__name__)
def test_each_member_is_named_by_its_word_and_said_somewhere(vocabulary: type[StrEnum]):
    """A member named otherwise than its word, or two members with one word (an enum makes the second an alias
    silently), would be a typo; a member no code names would be listed in the schemas for nothing."""
    assert all(name == member.value for name, member in vocabulary.__members__.items())
    code = "\n".join(path.read_text() for path in SOURCE.rglob("*.py") if path.name != "reasons.py")
    assert [m for m in vocabulary if f"{vocabulary.__name__}.{m.name}" not in code] == []


@pytest.mark.parametrize("schema, definition, vocabulary", [
    ("events.schema.json", "OrderRejected", Reason),
    ("events.schema.json", "CommandRejected", Reason),
    ("command-log.schema.json", "Refusal", Reason),
    ("settlements.schema.json", "SettlementRejected", SettlementReason),
    ("dlq.schema.json", "DeadLetter", DeadLetterReason),
])
def test_the_schemas_list_the_reasons(schema, definition, vocabulary):
    reason = json.loads((ROOT / schema).read_text())["$defs"][definition]["properties"]["reason"]
    assert reason["type"] == "string" and reason["enum"] == [r.value for r in vocabulary]


def test_a_member_is_its_bare_word_on_the_wire():
    """Events, the gateway's refusals, settlements and dead letters encode a member exactly as the word: the
    bytes of the log and of every snapshot are what they were before the enumeration."""
    pairs = [
        (e.OrderRejected(account="A", reason=Reason.lot_size), e.OrderRejected(account="A", reason="lot_size")),
        (e.CommandRejected(command="surrender", reason=Reason.offset_cap_exceeded),
         e.CommandRejected(command="surrender", reason="offset_cap_exceeded")),
        (c.Refusal(actor="B1", reason=Reason.malformed), c.Refusal(actor="B1", reason="malformed")),
        (s.SettlementRejected(trade_id="t1", reason=SettlementReason.not_held),
         s.SettlementRejected(trade_id="t1", reason="not_held")),
        (dead_letter(b"[]", DeadLetterReason.not_a_command, "", "certx.commands", 0, 1, None, "matcher"),
         dead_letter(b"[]", "not_a_command", "", "certx.commands", 0, 1, None, "matcher")),
    ]
    for member, word in pairs:
        assert encode(member) == encode(word)
    decoded = decode_event(encode(e.OrderRejected(account="A", reason=Reason.lot_size, seq=0, market="CEA")))
    assert decoded.reason == Reason.lot_size and type(decoded.reason) is str


def test_a_reader_decodes_a_reason_it_does_not_know_yet():
    """The Structs keep `reason` a string: a newer engine's reason must not make an older projector dead-letter
    the event."""
    decoded = decode_event(encode(e.OrderRejected(account="A", reason="a_reason_of_tomorrow", seq=0, market="CEA")))
    assert decoded.reason == "a_reason_of_tomorrow"
