"""Hostile records, as an attacker or a broken client would send them, interleaved with a known good day: for the
test that nothing is lost and nothing stops (tests/kafka/test_hostile.py) and the benchmark of how fast they are
survived (loadtest/kafka_bench.py).

Each hostile record is one of: bytes that are not a JSON object (to the dead letters), or a JSON object that breaks
the contract or resends an id already used (to be answered with a refusal). Every JSON object carries a ref of its
own ("h<n>"), except the ones whose id is itself what is broken, and the resends, which carry the id they resend.
Deterministic for a seed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import msgspec

from certx.wire.codec import decode_command
from certx.wire import commands as c

MEGABYTE_EVERY = 5_000      # one record of ~900 kB in this many (the broker's record limit is 1 MB)


@dataclass
class Mix:
    lines: list[bytes] = field(default_factory=list)       # good and hostile, in the order they are sent
    good: list[bytes] = field(default_factory=list)        # the good day alone
    not_objects: list[bytes] = field(default_factory=list)  # hostile records that are not JSON objects
    refs: list[str] = field(default_factory=list)          # the ref of each hostile JSON object ("" if unreadable)


def _object(rng: random.Random, n: int, at: str) -> tuple[bytes, str]:
    """A JSON object that breaks the contract, and the ref its answer will carry."""
    ref = f"h{n}"
    base = {"type": "order.new", "at": at, "actor": "B1", "order_id": ref, "account": "A1", "product": "CEA24",
            "side": "buy", "quantity": 10, "price": "90.00"}
    enc = msgspec.json.encode
    kind = n % 16
    if kind == 0:
        return enc({**base, "type": "order.teleport"}), ref
    if kind == 1:
        return enc({**base, "counterpart": "A2"}), ref                          # an unknown field
    if kind == 2:
        return enc({**base, "quantity": "ten"}), ref                            # a wrong type
    if kind == 3:
        return enc(base).replace(b'"90.00"', b"90.000000001"), ref              # a float price
    if kind == 4:
        return enc({**base, "quantity": rng.choice([2**70, 10**30, 2**63])}), ref  # huge integers
    if kind == 5:
        return enc({**base, "quantity": -rng.randint(1, 10**9)}), ref           # negative
    if kind == 6:
        return enc({**base, "price": rng.choice(["NaN", "Infinity", "1e3", "0x10"])}), ref
    if kind == 7:
        return enc({**base, "account": "A\x00" + "x" * rng.randint(0, 5)}), ref  # a NUL byte in a name
    if kind == 8:
        return enc({**base, "order_id": "h\x00" + str(n)}), ""                   # ...in the id itself
    if kind == 9:
        return enc(base)[:-1] + b',"actor":"registry"}', ref                     # a duplicate key
    if kind == 10:
        return enc({**base, "filter": {"provinces": [[[[["deep"]]]]]}}), ref     # nesting where none belongs
    if kind == 11:
        return (b'{"type":"order.new","order_id":"' + ref.encode() + b'","x":' + b"[" * 50_000
                + b"]" * 50_000 + b"}"), ref                                     # nested too deeply to read
    if kind == 12:
        return enc({**base, "account": "x" * rng.randint(129, 5_000)}), ref     # an over-long name
    if kind == 13:
        return enc({**base, "type": "gateway.refusal", "reason": "malformed", "order": True}), ref
    if kind == 14:
        return enc({"type": "funds.deposit", "at": at, "actor": "bank", "id": ref, "account": "A1",
                    "market": "CEA", "amount": 1.5}), ref
    return enc({**base, "price": "-1.00"}), ref


def _not_an_object(rng: random.Random, n: int) -> bytes:
    return rng.choice([
        b"", b"null", b"[1,2,3]", b'"order.new"', b"\xff\xfe\x00\x01", b"{", b"1e999999", b"not json at all",
        b"[" * 50_000, bytes(rng.randrange(256) for _ in range(rng.randint(1, 200))),
    ])


def mix(good: list[bytes], hostile: int, seed: int = 1) -> Mix:
    """`good` with `hostile` hostile records spread through it."""
    rng = random.Random(seed)
    out = Mix(good=list(good))
    used = []          # good commands already sent that a resend can repeat
    per_good = hostile / max(len(good), 1)
    made = 0
    last_at = "2024-03-12T08:00:00+08:00"
    for i, line in enumerate(good):
        out.lines.append(line)
        cmd = decode_command(line)
        if isinstance(cmd, (c.FundsDeposit, c.IssueCea, c.AccountOpen)) and cmd.at is not None:
            used.append(cmd)
            last_at = cmd.at.isoformat()
        while made < hostile and made < (i + 1) * per_good:
            made += 1
            out.lines.append(_hostile(rng, made, last_at, used, out))
    while made < hostile:
        made += 1
        out.lines.append(_hostile(rng, made, last_at, used, out))
    return out


def _hostile(rng: random.Random, n: int, at: str, used: list, out: Mix) -> bytes:
    roll = rng.random()
    if n % MEGABYTE_EVERY == 0:
        line = msgspec.json.encode({"type": "order.new", "order_id": f"h{n}", "at": at, "pad": "x" * 900_000})
        out.refs.append(f"h{n}")
        return line
    if roll < 0.2:
        line = _not_an_object(rng, n)
        out.not_objects.append(line)
        return line
    if roll < 0.3 and used:
        # A resent registry or bank command: the same id again, asking for more. Refused duplicate_command.
        again = rng.choice(used)
        changed = msgspec.structs.replace(again, **({"amount": again.amount * 2} if hasattr(again, "amount") else
                                                    {"quantity": again.quantity * 2} if hasattr(again, "quantity")
                                                    else {"broker": "B3"}))
        out.refs.append(again.id)
        return msgspec.json.encode(changed, enc_hook=_money)
    line, ref = _object(rng, n, at)
    out.refs.append(ref)
    return line


def _money(obj):
    from certx import money

    if isinstance(obj, money.Fen):
        return money.text(obj)
    raise NotImplementedError
