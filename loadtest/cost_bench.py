"""An algorithmic-complexity red team (the hostile broker's view): state of size N built with commands the contract
accepts, through `Engine.apply`, then the CPU time (time.process_time) of the command, or the quote, it attacks, at
N = 1e3, 1e4, 1e5. A cost that grows with N, where the attacked command touches a few things, is a finding.

    python -m loadtest.cost_bench [--sizes 1000 10000 100000] [--only NAME ...] [--out loadtest/results/cost.json]

Each attack builds its state with the engine's own commands (accounts, cash, issuance, sessions, orders) and
prints one row a size: what the attacked step cost, CPU milliseconds.

Figures of the first pass (2-CPU shared host, ms CPU at n = 1e3 / 1e4 / 1e5):
- auction_close, auction_due: 11 / 971 / (~100 s) before the heap of closing times; 1.4 / 14 / 194 after. Fixed.
- listing_quote: 0.10 / 0.22 / 1.92 before a level counted its quantity; 0.024 / 0.025 / 0.065 after. Fixed.
- gec_quote: 0.23 / 1.52 / 14.9 before the book's ladder; 0.09 / 0.08 / 0.11 after. Fixed.
- gec_lot_vs_bids: 0.17 / 0.83 / 18.5 while a new lot walked every resting bid priced at or above it and asked each
  filter; flat since the bids are filed by the provinces and technologies they name (certx.books.bids). Fixed.
- gec_lot_vs_bids_by_month: what those cells do not tell apart, bids of the lot's province and technology whose
  production window leaves it out: a new lot still walks them all. Not fixed (see certx.books.bids).
- gec_open_batches: 0.17 / 0.40 / 5.8, once a day. Not fixed: the open reads every batch ever issued for expiry.
- gec_cancelled_insert: 0.10 / 0.09 / 0.18. Not fixed: a list insert's memmove, small up to 1e5 ranges.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import platform
import time
from pathlib import Path

from certx.engine import Engine
from certx.marketdata import Changes, quotes
from certx.money import Amount, Price
from certx.wire import commands as c
from certx.wire.codec import millis
from loadtest.cea import all_day_rules

CST = dt.timezone(dt.timedelta(hours=8))
DAY = dt.date(2025, 6, 16)
AT = millis(dt.datetime.combine(DAY, dt.time(10, 0), CST))
RULES = all_day_rules()


def cpu(step) -> float:
    gc.collect()
    gc.disable()
    t0 = time.process_time()
    step()
    spent = time.process_time() - t0
    gc.enable()
    return spent


def market(name: str) -> Engine:
    """A market with two accounts (H the hostile one, broker BH; N a neighbour, broker BN), rich in cash and, on CEA,
    in allowances; its session open."""
    engine = Engine(name, RULES)
    if name == "CEA":
        engine.apply(c.ProductList(id="p", actor="operator", market="CEA", product="CEA21",
                                   reference_price=Price(5000)), AT)
    for a, b in (("H", "BH"), ("N", "BN")):
        engine.apply(c.AccountOpen(id=f"o{a}", actor="registry", account=a, broker=b), AT)
        engine.apply(c.FundsDeposit(id=f"d{a}", actor="bank", account=a, market=name,
                                    amount=Amount(10 ** 14)), AT)
        if name == "CEA":
            engine.apply(c.IssueCea(id=f"i{a}", actor="registry", account=a, product="CEA21",
                                    quantity=c.MAX_QUANTITY), AT)
    engine.apply(c.SessionOpen(id="s", actor="operator", market=name, date=DAY), AT)
    return engine


def ok(events) -> None:
    bad = [ev for ev in events if type(ev).__name__.endswith("Rejected")]
    assert not bad, bad


def gec_issue(engine: Engine, account: str, first: int, last: int, month: str = "2025-05",
              province: str = "Shandong", project: str = "P") -> None:
    ok(engine.apply(c.IssueGec(id=f"g{first}", actor="registry", account=account, project=project,
                               province=province, technology="solar", production_month=month, subsidised=False,
                               first_serial=first, last_serial=last), AT))


# --- the attacks ----------------------------------------------------------------------------------------------

def gec_quote(n: int) -> float:
    """The GEC quote after one batch, against n resting lots the batch did not touch (H lists n lots of one
    certificate each); the batch is N's single lot."""
    engine = market("GEC")
    gec_issue(engine, "H", 1, n)
    for i in range(n):
        ok(engine.apply(c.OrderNew(order_id=f"h{i}", actor="BH", account="H", product="GEC", side="sell",
                                   quantity=1, price=Price(1000 + i % 500), first_serial=i + 1,
                                   last_serial=i + 1), AT))
    gec_issue(engine, "N", 10 ** 9, 10 ** 9 + 99, province="Hebei", project="Q")
    changes = Changes()
    changes.note(engine.apply(c.OrderNew(order_id="n", actor="BN", account="N", product="GEC", side="sell",
                                         quantity=100, price=Price(900), first_serial=10 ** 9,
                                         last_serial=10 ** 9 + 99), AT))
    return cpu(lambda: quotes(engine, changes))


def listing_quote(n: int) -> float:
    """A CEA quote after one batch when the best bid level holds one live order and n cancelled ones behind it
    (H rests and cancels n orders at the best price: each cancel is O(1), the dead entry stays queued)."""
    engine = market("CEA")
    ok(engine.apply(c.OrderNew(order_id="first", actor="BH", account="H", product="CEA21", side="buy",
                               quantity=1, price=Price(5000)), AT))
    for i in range(n):
        ok(engine.apply(c.OrderNew(order_id=f"h{i}", actor="BH", account="H", product="CEA21", side="buy",
                                   quantity=1, price=Price(5000)), AT))
        ok(engine.apply(c.OrderCancel(order_id=f"h{i}", actor="BH", account="H"), AT))
    changes = Changes()
    changes.note(engine.apply(c.OrderNew(order_id="n", actor="BN", account="N", product="CEA21", side="sell",
                                         quantity=1, price=Price(5100)), AT))
    return cpu(lambda: quotes(engine, changes))


def auctions(n: int, closes: dt.datetime) -> Engine:
    """A CEA engine with n open auctions of one allowance each (H's), no bids, all closing at `closes`."""
    engine = market("CEA")
    for i in range(n):
        ok(engine.apply(c.AuctionOpen(id=f"a{i}", actor="BH", auction_id=f"a{i}", product="CEA21", seller="H",
                                      quantity=1, reserve_price=Price(5000), closes_at=closes), AT))
    return engine


def auction_close(n: int) -> float:
    """session.close with n open auctions."""
    engine = auctions(n, dt.datetime.combine(DAY, dt.time(23, 0), CST))
    return cpu(lambda: ok(engine.apply(c.SessionClose(id="x", actor="operator", market="CEA", date=DAY), AT)))


def auction_due(n: int) -> float:
    """The command that comes after n auctions' common closing time (they close before it, M3)."""
    closes = dt.datetime.combine(DAY, dt.time(11, 0), CST)
    engine = auctions(n, closes)
    later = millis(closes) + 1
    return cpu(lambda: engine.apply(c.OrderCancel(order_id="none", actor="BN", account="N"), later))


def _lot_against_bids(n: int, wanting: c.GecFilter) -> float:
    """N's new lot against n resting bids of H with this filter, at a higher price, that refuse it."""
    engine = market("GEC")
    for i in range(n):
        ok(engine.apply(c.OrderNew(order_id=f"h{i}", actor="BH", account="H", product="GEC", side="buy",
                                   quantity=1, price=Price(5000), filter=wanting), AT))
    gec_issue(engine, "N", 1, 100)
    lot = c.OrderNew(order_id="n", actor="BN", account="N", product="GEC", side="sell", quantity=100,
                     price=Price(1000), first_serial=1, last_serial=100)
    return cpu(lambda: ok(engine.apply(lot, AT)))


def gec_lot_vs_bids(n: int) -> float:
    """Bids for a province that does not exist: a new lot walked them all while the bids were one list."""
    return _lot_against_bids(n, c.GecFilter(provinces=["Atlantis"]))


def gec_lot_vs_bids_by_month(n: int) -> float:
    """Bids for the lot's province and technology (gec_issue's), but for certificates produced before it: the lot
    walks them all."""
    return _lot_against_bids(n, c.GecFilter(provinces=["Shandong"], technologies=["solar"], production_to="2020-01"))


def gec_open_batches(n: int) -> float:
    """A GEC session.open when n batches were issued (none expiring): what the open reads to find none."""
    engine = market("GEC")
    for i in range(n):
        gec_issue(engine, "N", i * 10 + 1, i * 10 + 10, project=f"P{i}")
    ok(engine.apply(c.SessionClose(id="x", actor="operator", market="GEC", date=DAY), AT))
    return cpu(lambda: ok(engine.apply(c.SessionOpen(id="y", actor="operator", market="GEC",
                                                     date=DAY + dt.timedelta(days=1)), AT)))


def gec_cancelled_insert(n: int) -> float:
    """A trade whose serials go to the front of `cancelled` when it holds n ranges (H bought n lots of one
    certificate, every other serial, from the top down): one range inserted."""
    engine = market("GEC")
    gec_issue(engine, "N", 1, 2 * n + 2)
    for i in range(n):
        s = 2 * n + 2 - 2 * i
        ok(engine.apply(c.OrderNew(order_id=f"l{i}", actor="BN", account="N", product="GEC", side="sell",
                                   quantity=1, price=Price(1000), first_serial=s, last_serial=s), AT))
        ok(engine.apply(c.OrderLift(order_id=f"h{i}", actor="BH", account="H", target=f"l{i}", quantity=1), AT))
    ok(engine.apply(c.OrderNew(order_id="last", actor="BN", account="N", product="GEC", side="sell",
                               quantity=1, price=Price(1000), first_serial=1, last_serial=1), AT))
    lift = c.OrderLift(order_id="hl", actor="BH", account="H", target="last", quantity=1)
    return cpu(lambda: ok(engine.apply(lift, AT)))


ATTACKS = {f.__name__: f for f in (gec_quote, listing_quote, auction_close, auction_due, gec_lot_vs_bids,
                                     gec_lot_vs_bids_by_month, gec_open_batches, gec_cancelled_insert)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--only", nargs="+", choices=sorted(ATTACKS))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "cost.json"))
    args = parser.parse_args()
    out: dict = {"machine": platform.platform(), "python": platform.python_version(),
                 "date": dt.date.today().isoformat(), "unit": "ms of CPU for the attacked step, by size"}
    for name in args.only or ATTACKS:
        row = out[name] = {}
        for n in args.sizes:
            row[n] = round(min(ATTACKS[name](n) for _ in range(1)) * 1e3, 3)
            print(f"{name:24} n={n:>7,}: {row[n]:10.3f} ms CPU", flush=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
