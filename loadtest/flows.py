"""Command flows as `.jsonl` lines, for the Kafka tests and benchmarks: a trading day across the three
markets, shaped like the engine benchmark's (limit orders near the mid, some crossing, cancels of earlier
orders), with GEC lots and filtered bids. Deterministic for a seed."""
from __future__ import annotations

import datetime as dt
import random

import msgspec

CST = dt.timezone(dt.timedelta(hours=8))


def _line(cmd: dict, at: dt.datetime) -> bytes:
    return msgspec.json.encode({**cmd, "at": at.isoformat()})


def trading_day(orders: int, seed: int = 7, date: dt.date = dt.date(2024, 3, 12), accounts: int = 20,
                close: bool = True, start: dt.time = dt.time(9, 30), spacing_ms: int = 1) -> list[bytes]:
    """Set-up, `orders` order commands spread over the three markets, then the close (if `close`)."""
    rng = random.Random(seed)
    at = dt.datetime.combine(date, dt.time(8, 0), CST)
    lines: list[bytes] = []
    for i in range(accounts):
        a, b = f"A{i}", f"B{i % 4}"
        lines.append(_line({"type": "account.open", "id": f"open-{a}", "actor": "registry", "account": a, "broker": b}, at))
        for market in ("CEA", "CCER", "GEC"):
            lines.append(_line({"type": "funds.deposit", "id": f"dep-{market}-{a}", "actor": "bank", "account": a,
                                "market": market, "amount": "100000000"}, at))
        lines.append(_line({"type": "issue.cea", "id": f"cea-{a}", "actor": "registry", "account": a,
                            "product": "CEA24", "quantity": 10_000_000}, at))
        lines.append(_line({"type": "issue.ccer", "id": f"ccer-{a}", "actor": "registry", "account": a,
                            "product": "CCER", "project": f"P-CCER-{i}", "vintage": 2023, "quantity": 1_000_000}, at))
        lines.append(_line({"type": "issue.gec", "id": f"gec-{a}", "actor": "registry", "account": a,
                            "project": f"P-GEC-{i}", "province": rng.choice(["Gansu", "Qinghai", "Hebei", "Yunnan"]),
                            "technology": rng.choice(["wind", "solar", "hydro"]), "production_month": "2023-11",
                            "subsidised": False, "first_serial": 1 + i * 10_000_000,
                            "last_serial": (i + 1) * 10_000_000}, at))
    lines.append(_line({"type": "product.list", "id": "list-CEA24", "actor": "operator", "market": "CEA",
                        "product": "CEA24", "reference_price": "90.00"}, at))
    lines.append(_line({"type": "product.list", "id": "list-CCER", "actor": "operator", "market": "CCER",
                        "product": "CCER"}, at))
    for market in ("CEA", "CCER", "GEC"):
        lines.append(_line({"type": "session.open", "id": f"open-{market}", "actor": "operator", "market": market,
                            "date": date.isoformat()}, at))
    at = dt.datetime.combine(date, start, CST)
    step = dt.timedelta(milliseconds=spacing_ms)
    placed: dict[str, list[tuple[str, str, str]]] = {"CEA": [], "CCER": [], "GEC": []}
    gec_next = {i: 1 + i * 10_000_000 for i in range(accounts)}
    for k in range(orders):
        at += step
        market = rng.choices(("CEA", "CCER", "GEC"), weights=(6, 2, 2))[0]
        i = rng.randrange(accounts)
        account, broker = f"A{i}", f"B{i % 4}"
        if placed[market] and rng.random() < 0.25:
            oid, acc, brk = rng.choice(placed[market])
            lines.append(_line({"type": "order.cancel", "order_id": oid, "actor": brk, "account": acc,
                                "market": market}, at))
            continue
        oid = f"{market}-{k}"
        if market == "GEC":
            if rng.random() < 0.5:
                size = rng.randint(10, 2_000)
                first = gec_next[i]
                gec_next[i] += size
                cmd = {"side": "sell", "quantity": size, "first_serial": first, "last_serial": first + size - 1,
                       "price": f"{rng.randint(100, 800) / 100:.2f}"}
            else:
                cmd = {"side": "buy", "quantity": rng.randint(10, 5_000), "price": f"{rng.randint(100, 800) / 100:.2f}",
                       "filter": rng.choice([{}, {"technologies": ["wind", "solar"]}, {"max_age_months": 21},
                                             {"exclude_provinces": ["Hebei"]}]), "beneficiary": f"Corp-{i}"}
            cmd.update(product="GEC")
        else:
            mid = 9000 if market == "CEA" else 8000
            buy = rng.random() < 0.5
            off = -rng.randint(1, 20) if rng.random() < 0.1 else rng.randint(1, 60)
            price = mid - off if buy else mid + off
            cmd = {"side": "buy" if buy else "sell", "quantity": rng.randint(1, 500), "price": f"{price / 100:.2f}",
                   "product": "CEA24" if market == "CEA" else "CCER"}
        lines.append(_line({"type": "order.new", "order_id": oid, "actor": broker, "account": account, **cmd}, at))
        placed[market].append((oid, account, broker))
    if close:
        at = dt.datetime.combine(date, dt.time(15, 30), CST)
        for market in ("CEA", "CCER", "GEC"):
            lines.append(_line({"type": "session.close", "id": f"close-{market}", "actor": "operator",
                                "market": market, "date": date.isoformat()}, at))
    return lines
