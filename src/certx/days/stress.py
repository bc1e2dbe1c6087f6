"""A built range N times over, for a stress test (`certx days build --copies N`): the load-test issue's stress
day is the busiest real day (2021-12-16) at ten times its activity.

Each command that belongs to a participant is sent N times at the same instant, copy k (k ≥ 1) with its ids and
its accounts renamed `<name>.c<k>`: N times the accounts, their allowances and cash, and N times the orders, lifts
and acceptances, all on the one real book of each product. The market's own commands (sessions, listings, bands)
are sent once. Copies post the same prices at the same times, so a taker may meet another copy's resting order;
a lift or an acceptance names its own copy's target. The day summaries are then no longer the official rows (the
volumes about N times theirs), which is why this is a stress stream and not a replay.

GEC issuance cannot be copied: the serials of a certificate are unique (DOMAIN G1), so a stream with `issue.gec`
is refused rather than turned into refusals.
"""
from __future__ import annotations

from typing import Iterable, Iterator

import msgspec

# the market's commands: once, whatever N
ONCE = frozenset({"session.open", "session.close", "product.list", "band.set"})
# the fields that name a participant's thing (ids and accounts), renamed per copy
RENAMED = ("id", "order_id", "target", "auction_id", "account", "counterparty", "seller", "beneficiary")


class _Type(msgspec.Struct):
    type: str = ""


_type = msgspec.json.Decoder(_Type).decode


def copies(lines: Iterable[bytes], n: int) -> Iterator[bytes]:
    """Each line, then its copies 1..n-1 right after it (same `at`, so the stream stays in time order)."""
    if n < 1:
        raise ValueError(f"copies must be at least 1, not {n}")
    for line in lines:
        yield line
        if n == 1:
            continue
        kind = _type(line).type
        if kind in ONCE:
            continue
        if kind == "issue.gec":
            raise ValueError("GEC issuance cannot be copied: each certificate's serial is unique (G1); "
                             "build the stress stream without GEC (--markets CEA,CCER)")
        command = msgspec.json.decode(line)
        for k in range(1, n):
            copy = dict(command)
            for name in RENAMED:
                if isinstance(copy.get(name), str):
                    copy[name] = f"{copy[name]}.c{k}"
            yield msgspec.json.encode(copy)
