"""DESIGN 6: a set of serials kept as ranges behaves as the set of its serials, through every add, remove, copy and
take of the lowest (the GEC lots of issue 13 are such sets, taken from their lowest serials or their middle)."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from certx.registry.serials import RangeSet

ops = st.lists(st.tuples(st.sampled_from(["add", "remove", "lowest", "copy"]), st.integers(0, 60),
                         st.integers(0, 12)), max_size=60)


def serials(ranges) -> list[int]:
    return [s for a, b in ranges for s in range(a, b + 1)]


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 40), st.integers(0, 20), ops)
def test_a_range_set_is_the_set_of_its_serials(first, size, steps):
    ranges, model = RangeSet.of(first, first + size), set(range(first, first + size + 1))
    for op, at, length in steps:
        wanted = set(range(at, at + length + 1))
        if op == "add" and not wanted & model:
            ranges.add(at, at + length)
            model |= wanted
        elif op == "remove" and wanted <= model:
            ranges.remove(at, at + length)          # inside one range, by the contract: its serials are all held
            model -= wanted
        elif op == "lowest":
            taken = ranges.lowest(length)
            assert serials(taken) == sorted(model)[:length]
            for a, b in taken:
                ranges.remove(a, b)
            model -= set(serials(taken))
        elif op == "copy":
            other = ranges.copy()
            other.add(1_000, 1_000)
            assert 1_000 not in serials(ranges)
        assert serials(ranges) == sorted(model) and ranges.count() == len(model)
        listed = list(ranges)
        assert all(b + 1 < c for (_, b), (c, _) in zip(listed, listed[1:])), f"not merged: {listed}"
        if model:
            assert ranges.span() == (min(model), max(model))
