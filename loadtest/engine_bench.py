"""Benchmark of the pure engine, from decoded command to events (issue 2, figures (a) and (b)).

(a) CEA listing: a mixed flow of limit orders near the mid (about 10% crossing) and cancels of random
    earlier orders, some already filled.
(b) GEC: lots of serial ranges against bids with attribute filters.

    python -m loadtest.engine_bench [--orders 1000000] [--gec 200000] [--out loadtest/results/engine.json]

Commands are built and decoded before the clock starts; the figure is engine.apply only. A second figure
includes JSON decoding, for the Kafka path. The GEC flow is also run as the matcher runs it, in batches of 100 and
of 1,000 commands each followed by its quotes (certx.marketdata).
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import platform
import random
import time
from pathlib import Path

from certx.engine import Engine
from certx.marketdata import Changes, quotes
from certx.money import Amount, Price
from certx.wire import commands as c
from certx.wire.codec import decode_command, encode, millis

CST = dt.timezone(dt.timedelta(hours=8))
DAY = dt.date(2021, 12, 16)
AT = millis(dt.datetime.combine(DAY, dt.time(10, 0), CST))
ACCOUNTS = 200


def _setup(engine: Engine, market: str) -> None:
    engine.apply(c.ProductList(id="p", actor="operator", market=market, product="CEA21",
                               reference_price=Price(5000)), AT) if market == "CEA" else None
    for i in range(ACCOUNTS):
        a = f"A{i}"
        engine.apply(c.AccountOpen(id=f"o{a}", actor="registry", account=a, broker=f"B{i % 10}"), AT)
        engine.apply(c.FundsDeposit(id=f"d{a}", actor="bank", account=a, market=market,
                                    amount=Amount(Amount.MAX)), AT)
        if market == "CEA":
            engine.apply(c.IssueCea(id=f"i{a}", actor="registry", account=a, product="CEA21",
                                    quantity=c.MAX_QUANTITY), AT)
    engine.apply(c.SessionOpen(id="s", actor="operator", market=market, date=DAY), AT)


def listing_flow(n: int, seed: int = 1, broker: int | None = None) -> list[c.Command]:
    """75% limit orders near the mid, about 10% of them crossing; 25% cancels of random earlier orders. With
    `broker` (k), only the accounts broker Bk holds (A<k>, A<k+10>, ...), as one sender on Kafka would send."""
    rng = random.Random(seed)
    mid = 5000
    cmds: list[c.Command] = []
    placed: list[tuple[str, str, str]] = []
    mine = list(range(ACCOUNTS)) if broker is None else list(range(broker, ACCOUNTS, 10))
    for k in range(n):
        if placed and rng.random() < 0.25:
            oid, account, broker_ = placed[rng.randrange(len(placed))]
            cmds.append(c.OrderCancel(order_id=oid, actor=broker_, account=account))
            continue
        i = mine[rng.randrange(len(mine))]
        account, broker = f"A{i}", f"B{i % 10}"
        buy = rng.random() < 0.5
        if rng.random() < 0.10:
            price = mid + rng.randint(1, 20) if buy else mid - rng.randint(1, 20)   # crosses
        else:
            price = mid - rng.randint(1, 60) if buy else mid + rng.randint(1, 60)   # rests
        oid = f"L{k}"
        cmds.append(c.OrderNew(order_id=oid, actor=broker, account=account, product="CEA21",
                               side="buy" if buy else "sell", quantity=rng.randint(1, 500), price=Price(price)))
        placed.append((oid, account, broker))
    return cmds


def gec_flow(n: int, seed: int = 2) -> tuple[list[c.Command], list[c.Command]]:
    """Issuance, then lots (10 k-certificate ranges) and filtered bids in equal numbers."""
    rng = random.Random(seed)
    provinces = ["Gansu", "Qinghai", "Inner Mongolia", "Xinjiang", "Hebei", "Yunnan", "Sichuan", "Jiangsu"]
    techs = ["wind", "solar", "offshore wind", "biomass", "hydro"]
    setup: list[c.Command] = []
    flow: list[c.Command] = []
    serial = 1
    held: list[list] = []
    for i in range(ACCOUNTS):
        for b in range(5):
            month = f"{2020 + b % 2}-{rng.randint(1, 12):02d}"
            size = 10_000 * (n // (ACCOUNTS * 5) + 10)
            setup.append(c.IssueGec(id=f"g{i}-{b}", actor="registry", account=f"A{i}", project=f"P{i}-{b}",
                                    province=rng.choice(provinces), technology=rng.choice(techs),
                                    production_month=month, subsidised=rng.random() < 0.3,
                                    first_serial=serial, last_serial=serial + size - 1))
            held.append([f"A{i}", serial, serial + size - 1])
            serial += size
    for k in range(n):
        if rng.random() < 0.5:
            h = held[rng.randrange(len(held))]
            account, first = h[0], h[1]
            size = rng.randint(100, 10_000)
            if first + size - 1 > h[2]:
                continue
            h[1] += size
            i = int(account[1:])
            flow.append(c.OrderNew(order_id=f"G{k}", actor=f"B{i % 10}", account=account, product="GEC",
                                   side="sell", quantity=size, price=Price(rng.randint(100, 800)),
                                   first_serial=first, last_serial=first + size - 1))
        else:
            i = rng.randrange(ACCOUNTS)
            f = c.GecFilter(provinces=rng.sample(provinces, 3)) if rng.random() < 0.5 else \
                c.GecFilter(technologies=[rng.choice(techs)], max_age_months=21)
            flow.append(c.OrderNew(order_id=f"G{k}", actor=f"B{i % 10}", account=f"A{i}", product="GEC",
                                   side="buy", quantity=rng.randint(100, 20_000), price=Price(rng.randint(100, 800)),
                                   filter=f, beneficiary=f"Corp{i}"))
    return setup, flow


def run(engine: Engine, cmds: list[c.Command]) -> tuple[float, int]:
    gc.collect()
    gc.disable()
    apply = engine.apply
    events = 0
    t0 = time.perf_counter()
    for cmd in cmds:
        events += len(apply(cmd, AT))
    elapsed = time.perf_counter() - t0
    gc.enable()
    return elapsed, events


def run_quoted(engine: Engine, cmds: list[c.Command], batch: int) -> tuple[float, int]:
    """As the matcher runs them: in batches, each followed by the quotes of what it changed (certx.marketdata)."""
    gc.collect()
    gc.disable()
    apply = engine.apply
    quoted = 0
    t0 = time.perf_counter()
    for i in range(0, len(cmds), batch):
        changes = Changes()
        for cmd in cmds[i:i + batch]:
            changes.note(apply(cmd, AT))
        quoted += len(quotes(engine, changes))
    elapsed = time.perf_counter() - t0
    gc.enable()
    return elapsed, quoted


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--gec", type=int, default=200_000)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "engine.json"))
    args = ap.parse_args()

    results: dict = {"machine": platform.platform(), "python": platform.python_version(),
                     "date": dt.date.today().isoformat()}

    flow = listing_flow(args.orders)
    engine = Engine("CEA")
    _setup(engine, "CEA")
    elapsed, events = run(engine, flow)
    book = engine.products["CEA21"].book
    results["a_cea_listing"] = {
        "commands": len(flow), "events": events, "seconds": round(elapsed, 3),
        "commands_per_s": round(len(flow) / elapsed), "trades": engine.trades,
        "resting_at_end": len(book.orders), "crossed_at_end": book.crossed(),
    }

    raw = [encode(cmd) for cmd in flow]
    engine = Engine("CEA")
    _setup(engine, "CEA")
    gc.disable()
    t0 = time.perf_counter()
    for line in raw:
        engine.apply(decode_command(line), AT)
    elapsed = time.perf_counter() - t0
    gc.enable()
    results["a_cea_listing_with_json_decode"] = {"commands_per_s": round(len(raw) / elapsed)}

    setup, flow = gec_flow(args.gec)
    engine = Engine("GEC")
    _setup(engine, "GEC")
    for cmd in setup:
        engine.apply(cmd, AT)
    elapsed, events = run(engine, flow)
    results["b_gec"] = {
        "commands": len(flow), "events": events, "seconds": round(elapsed, 3),
        "commands_per_s": round(len(flow) / elapsed), "trades": engine.trades,
        "lots_resting": len(engine.lots.lots), "bids_resting": len(engine.lots.bids),
        "certificates_traded": engine.cancelled.count(),
    }
    for batch in (100, 1_000):
        engine = Engine("GEC")
        _setup(engine, "GEC")
        for cmd in setup:
            engine.apply(cmd, AT)
        elapsed, quoted = run_quoted(engine, flow, batch)
        results[f"b_gec_quoted_every_{batch}"] = {"commands_per_s": round(len(flow) / elapsed), "quotes": quoted}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
