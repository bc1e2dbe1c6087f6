"""How a fill of a pooled lot is shared among its owners: by a rule fixed when the lot is listed, so that an owner
knows in advance what a fill gives it, and the same log always gives the same shares.

- `fifo`: the owners in the order the lot lists them, each emptied before the next is touched.
- `pro_rata`: each owner in proportion to what it still has in the lot, rounded down, and the certificates left
  over by the rounding one each to the largest remainders, earlier owners first at equal remainders (Hamilton's
  method): a certificate is never split, every share is within one certificate of the exact proportion, and no
  owner gives more than it has.
"""
from __future__ import annotations

from typing import Literal

Rule = Literal["fifo", "pro_rata"]


def shares(rule: Rule, remaining: list[int], quantity: int) -> list[int]:
    """How many certificates each owner gives to a fill of `quantity` (at most the lot's remaining)."""
    total = sum(remaining)
    if not 0 <= quantity <= total:
        raise ValueError(f"a fill of {quantity} from a pool of {total}")
    if rule == "fifo" or not quantity:
        out = []
        for have in remaining:
            take = min(have, quantity)
            out.append(take)
            quantity -= take
        return out
    exact = [quantity * have for have in remaining]          # × 1/total: kept integral, compared as such
    out = [x // total for x in exact]
    left = quantity - sum(out)
    # the largest remainders first, earlier owners first at equal ones
    for i in sorted(range(len(remaining)), key=lambda i: (-(exact[i] % total), i))[:left]:
        out[i] += 1
    return out
