"""The strict contract's duplicate keys (PROTOCOL: a repeated key is malformed): the gateway's quick count of
colons never lets a repeat through, whatever the keys and strings hold (colons, escapes, nesting)."""
from __future__ import annotations

import json

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from certx.wire.codec import _keys_all_read, decode_command

# Short texts from an alphabet rich in what the count could trip on; written out by hand below, so that keys may
# repeat and strings may be escaped.
TEXT = st.text(alphabet=":ab\\\"\u00e9 ", max_size=4)


def written(text: str, escape: bool) -> str:
    """`text` as a JSON string: plainly, or with every character escaped (both read back as `text`)."""
    return "".join(f"\\u{ord(ch):04x}" for ch in text).join('""') if escape else json.dumps(text, ensure_ascii=False)


@st.composite
def objects(draw, depth: int = 0) -> str:
    pairs = draw(st.lists(st.tuples(TEXT, st.booleans()), max_size=5))
    if pairs and draw(st.booleans()):
        pairs.append(pairs[draw(st.integers(0, len(pairs) - 1))])          # a key again, maybe spelt otherwise
    out = []
    for key, escape in pairs:
        kind = draw(st.integers(0, 3 if depth < 2 else 1))
        if kind == 0:
            value = written(draw(TEXT), draw(st.booleans()))
        elif kind == 1:
            value = str(draw(st.integers(-10, 10)))
        elif kind == 2:
            value = draw(objects(depth + 1))
        else:
            value = "[" + ",".join(draw(st.lists(objects(depth + 1), max_size=2))) + "]"
        out.append(f"{written(key, escape)}{draw(st.sampled_from(['', ' ']))}:{value}")
    return "{" + ",".join(out) + "}"


def repeats(raw: bytes) -> bool:
    found = False

    def pairs_hook(pairs):
        nonlocal found
        found |= len({k for k, _ in pairs}) != len(pairs)
        return dict(pairs)
    json.loads(raw, object_pairs_hook=pairs_hook)
    return found


@settings(max_examples=500, deadline=None)
@given(objects())
def test_the_quick_count_passes_no_repeated_key(text):
    raw = text.encode()
    obj = msgspec.json.decode(raw)
    if _keys_all_read(raw, obj):
        assert not repeats(raw)
    if repeats(raw):
        detail = getattr(decode_command(raw), "detail", "")
        assert "duplicate key" in detail
