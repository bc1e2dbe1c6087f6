"""EXPERIMENT (issue 12): the listing market's engine native (Rust, PyO3), bytes in and bytes out, against certx's
pure engine and the PyPI peer `matching-engine`, per CPU-second.

    python -m loadtest.native_bench [--orders 1000000] [--rounds 3] [--batch 1000] [--out loadtest/results/native.json]

Builds `native/certx_listing` with cargo (PYO3_PYTHON = this interpreter) into `.cache/native-listing/` (nothing in
the install path changes). Then:

1. Byte identity: the Python engine and the native one, each set up as `engine_bench._setup(engine, "CEA")`, apply a
   100k-command `listing_flow`; the SHA-256 of every event as `certx.wire.codec.encode` writes it (each followed by
   a newline, as compile_bench) must be the same, and so must the wallets, the resting book, the day's figures,
   the trade count and the positions of the streams at the end. A few hand-made refusals are compared too.
2. In `--rounds` interleaved rounds, each variant in a fresh process, over the 1M-command flow, gc off, timed with
   time.process_time() (and the wall clock):
   a  pure_apply   Engine.apply on decoded commands (engine_bench's a_cea_listing)
   b  pure_bytes   what the matcher does from bytes to bytes: certx.kafka.batch.run (decode_logged, apply, encode
                   each event) over records of `--batch` commands
   c  native       ListingEngine.apply_batch(records, ats) per batch of `--batch` records, then the returned bytes
                   split into one bytes per event (what the matcher would send); `native_call_only` without the split
   c0 boundary     ListingEngine.noop_batch on the same arguments: reads every record's bytes and time, does nothing;
                   `parse_batch`: the boundary plus decoding each record in Rust, no rules
   d  peer         matching-engine's `MatchingEngine.process` under Python 3.12 (loadtest.peer_bench's child, same
                   flow, its own venv in .cache/peer-venv)
   The native engine is set up from the Python engine's state after `_setup` (`native_from`), outside the clock.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from loadtest.compile_bench import spread
from loadtest.peer_bench import timed

ROOT = Path(__file__).resolve().parent.parent
CRATE = ROOT / "native" / "certx_listing"
NATIVE_OUT = ROOT / ".cache" / "native-listing"
VARIANTS = ("pure_apply", "pure_bytes", "native", "native_noop", "native_parse")


def build() -> dict:
    env = dict(os.environ, PYO3_PYTHON=sys.executable)
    t0 = time.perf_counter()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=CRATE, env=env, check=True)
    elapsed = time.perf_counter() - t0
    NATIVE_OUT.mkdir(parents=True, exist_ok=True)
    shutil.copy(CRATE / "target" / "release" / "libcertx_listing.so", NATIVE_OUT / "certx_listing.so")
    rs = sum(len(p.read_text().splitlines()) for p in (CRATE / "src").glob("*.rs"))
    return {"build_s": round(elapsed, 1), "rust_lines": rs,
            "build_file_lines": len((CRATE / "Cargo.toml").read_text().splitlines())}


def native_from(engine):
    """A native listing engine in the state of `engine` (a Python Engine after its set-up: no order yet)."""
    sys.path.insert(0, str(NATIVE_OUT))
    import certx_listing

    m = engine.mrules
    sizes = m.listing_sizes
    assert not engine.blocks.offers and not engine.lots.orders and not engine.auctions, "outside the prototype"
    assert all(not p.book.orders for p in engine.products.values()), "a book with orders: outside the prototype"
    wallets = [(w.account, w.broker, w.cash, w.cash_held,
                [(name, p.free, p.held, p.locked) for name, p in w.positions.items()])
               for w in engine.wallets.values()]
    products = [(p.name, p.listing_limits) for p in engine.products.values()]
    return certx_listing.ListingEngine(
        engine.market, engine.partition, engine.commands, engine.seq, engine.trades, list(engine.listing_windows),
        list(engine.block_windows), m.tick, (sizes.minimum, sizes.maximum, sizes.lot), m.t_plus_one, wallets,
        products, sorted(engine.order_ids))


def _engines():
    from certx.engine import Engine
    from loadtest.engine_bench import _setup

    engine = Engine("CEA")
    _setup(engine, "CEA")
    return engine


def python_state(engine) -> dict:
    book = engine.products["CEA21"].book
    d = engine.products["CEA21"].day
    return {"wallets": sorted([w.account, w.cash, w.cash_held,
                               sorted([n, p.free, p.held, p.locked] for n, p in w.positions.items())]
                              for w in engine.wallets.values()),
            "book": sorted([o.order_id, o.remaining] for o in book.orders.values()),
            "day": [d.open, d.high, d.low, d.listing_volume, d.listing_value, d.last, d.last_quantity],
            "locked": len(engine.locked), "commands": engine.commands, "seq": engine.seq, "trades": engine.trades}


def native_state(native) -> dict:
    orders, day = native.book("CEA21")
    return {"wallets": sorted([a, c, h, sorted(list(p) for p in ps)] for a, c, h, ps in native.wallets()),
            "book": [list(o) for o in orders], "day": list(day), "locked": native.locked_count(),
            "commands": native.commands, "seq": native.seq, "trades": native.trades}


def refusal_cases() -> list:
    """Commands the flow never sends, each refused (or accepted) by a rule the prototype ports."""
    from certx.money import Price
    from certx.wire import commands as c

    new = dict(actor="B1", account="A1", product="CEA21", side="buy", quantity=10, price=Price(5000))
    return [
        c.OrderNew(order_id="X1", **new),
        c.OrderNew(order_id="X1", **new),                                              # duplicate_order_id
        c.OrderNew(order_id="X2", **{**new, "actor": "B2"}),                          # not_authorised
        c.OrderNew(order_id="X3", **{**new, "actor": "it's"}),                        # not_authorised, repr quoting
        c.OrderNew(order_id="X4", **{**new, "account": "nobody"}),                    # not_authorised
        c.OrderNew(order_id="X5", **{**new, "product": "CEA22"}),                     # unknown_product
        c.OrderNew(order_id="X6", **{**new, "product": "CCER-1"}),                    # wrong_market
        c.OrderNew(order_id="X7", **{**new, "product": "ZZZ"}),                       # unknown_product (no market)
        c.OrderNew(order_id="X8", **{**new, "quantity": 100_000}),                    # lot_size
        c.OrderNew(order_id="X9", **{**new, "price": Price(5501)}),                   # price_out_of_band
        c.OrderNew(order_id="X10", **{**new, "price": Price(4500)}),                  # on the band: accepted
        c.OrderNew(order_id="X11", **{**new, "price": Price(5500), "side": "sell"}),  # on the band: accepted
        c.OrderNew(order_id="X12", **{**new, "side": "sell", "price": Price(4500), "quantity": 15}),  # crosses X10, X1
        c.OrderNew(order_id="X13", **{**new, "market": "GEC"}),                       # wrong_market
        c.OrderCancel(order_id="X11", actor="B1", account="A11"),                     # not_authorised (not A11's)
        c.OrderCancel(order_id="X11", actor="B2", account="A1"),                      # not_authorised (broker)
        c.OrderCancel(order_id="X11", actor="B1", account="A1", market="CCER"),       # wrong_market
        c.OrderCancel(order_id="X11", actor="B1", account="A1"),                      # cancelled
        c.OrderCancel(order_id="X11", actor="B1", account="A1"),                      # unknown_order
        c.OrderNew(order_id="X\"14\\", **{**new, "side": "sell", "price": Price(5001)}),   # escapes
        c.OrderNew(order_id="X16", **{**new, "side": "sell", "quantity": 99_999}),    # accepted
    ]


def poor_cases(encode, at: int) -> tuple[bytes, bytes]:
    from certx.engine import Engine
    from certx.money import Amount, Price
    from certx.wire import commands as c
    from loadtest.engine_bench import DAY

    engine = Engine("CEA")
    for cmd in (c.ProductList(id="p", actor="operator", market="CEA", product="CEA21", reference_price=Price(5000)),
                c.AccountOpen(id="o", actor="registry", account="P", broker="BP"),
                c.FundsDeposit(id="d", actor="bank", account="P", market="CEA", amount=Amount(1000)),
                c.IssueCea(id="i", actor="registry", account="P", product="CEA21", quantity=5),
                c.SessionOpen(id="s", actor="operator", market="CEA", date=DAY)):
        engine.apply(cmd, at)
    native = native_from(engine)
    new = dict(actor="BP", account="P", product="CEA21")
    cases = [c.OrderNew(order_id="P1", side="buy", quantity=1, price=Price(5000), **new),     # insufficient_funds
             c.OrderNew(order_id="P2", side="buy", quantity=2, price=Price(500), **{**new, "product": "CEA21"}),
             c.OrderNew(order_id="P3", side="sell", quantity=6, price=Price(5000), **new),    # insufficient_holdings
             c.OrderNew(order_id="P4", side="sell", quantity=5, price=Price(5000), **new),
             c.OrderNew(order_id="P5", side="sell", quantity=1, price=Price(5000), **new)]    # insufficient_holdings
    py = b"".join(encode(ev) + b"\n" for cmd in cases for ev in engine.apply(cmd, at))
    return py, native.apply_batch([encode(cmd) for cmd in cases], at)


def verify(orders: int) -> dict:
    from certx.wire.codec import encode
    from loadtest.engine_bench import AT, listing_flow

    flow = listing_flow(orders)
    raw = [encode(cmd) for cmd in flow]
    engine = _engines()
    native = native_from(engine)
    h = hashlib.sha256()
    events = 0
    for cmd in flow:
        for event in engine.apply(cmd, AT):
            h.update(encode(event))
            h.update(b"\n")
            events += 1
    n = hashlib.sha256()
    native_events = 0
    for i in range(0, len(raw), 1000):
        blob = native.apply_batch(raw[i:i + 1000], AT)
        n.update(blob)
        native_events += blob.count(b"\n")
    py, nat = python_state(engine), native_state(native)
    # the refusals the flow never makes, on a fresh pair, one record each with its own time
    engine2 = _engines()
    native2 = native_from(engine2)
    cases = refusal_cases()
    py_lines = b"".join(encode(ev) + b"\n" for cmd in cases for ev in engine2.apply(cmd, AT))
    closed = AT - 3 * 3_600_000                      # 07:00, before the session: market_closed
    py_lines += b"".join(encode(ev) + b"\n" for ev in engine2.apply(cases[0], closed))
    nat_lines = native2.apply_batch([encode(cmd) for cmd in cases], [AT] * len(cases))
    nat_lines += native2.apply_batch([encode(cases[0])], [closed])
    # insufficient funds and holdings: an account with 10 yuan and 5 units
    py_poor, nat_poor = poor_cases(encode, AT)
    py_lines += py_poor
    nat_lines += nat_poor
    return {"orders": orders, "events": events, "native_events": native_events,
            "events_sha256": h.hexdigest(), "native_events_sha256": n.hexdigest(),
            "events_byte_identical": h.hexdigest() == n.hexdigest(),
            "state_identical": py == nat, "state_differs_in": [k for k in py if py[k] != nat.get(k)],
            "refusal_cases": len(cases) + 1, "refusal_cases_identical": py_lines == nat_lines,
            "refusal_case_reasons": sorted({json.loads(line).get("reason", json.loads(line)["type"])
                                            for line in py_lines.splitlines()}),
            **({} if py_lines == nat_lines else {"refusal_python": py_lines.decode(), "refusal_native": nat_lines.decode()})}


class Record:
    __slots__ = ("partition", "offset", "timestamp", "key", "value")

    def __init__(self, offset: int, timestamp: int, value: bytes) -> None:
        self.partition, self.offset, self.timestamp, self.key, self.value = 0, offset, timestamp, None, value


def measure(variant: str, orders: int, batch_size: int) -> dict:
    from certx.wire.codec import encode
    from loadtest.engine_bench import AT, listing_flow

    flow = listing_flow(orders)
    raw = [encode(cmd) for cmd in flow]
    batches = [raw[i:i + batch_size] for i in range(0, len(raw), batch_size)]
    ats = [[AT] * len(b) for b in batches]          # each record's own timestamp, as Kafka gives them
    engine = _engines()
    out: dict = {"variant": variant}
    extra = {}
    if variant == "pure_apply":
        cmds = flow
        apply = engine.apply

        def loop() -> int:
            events = 0
            for cmd in cmds:
                events += len(apply(cmd, AT))
            return events
    elif variant == "pure_bytes":
        from certx.kafka import batch as kbatch
        records = [[Record(i * batch_size + k, AT, v) for k, v in enumerate(b)] for i, b in enumerate(batches)]
        del flow

        def loop() -> int:
            events = 0
            for rs in records:
                events += len(kbatch.run(engine, rs, "certx.commands").events)
            return events
    else:
        native = native_from(engine)
        del flow
        if variant == "native":
            apply_batch = native.apply_batch
            lengths = []

            def loop() -> int:
                events = 0
                for b, t in zip(batches, ats):
                    events += len(apply_batch(b, t).split(b"\n")) - 1
                return events

            # the call alone, on a second engine in the same state, after the timed loop
            def call_only() -> float:
                n2 = native_from(_engines())
                ab = n2.apply_batch
                gc.disable()
                c0 = time.process_time()
                for b, t in zip(batches, ats):
                    lengths.append(len(ab(b, t)))
                cpu = time.process_time() - c0
                gc.enable()
                return cpu
        elif variant == "native_noop":
            noop = native.noop_batch

            def loop() -> int:
                for b, t in zip(batches, ats):
                    noop(b, t)
                return 0
        else:
            parse = native.parse_batch

            def loop() -> int:
                for b in batches:
                    parse(b)
                return 0
    cpu, wall, events = timed(loop)
    if variant == "native":
        extra["call_only_cpu_s"] = round(call_only(), 4)
        extra["call_only_commands_per_cpu_s"] = round(len(raw) / extra["call_only_cpu_s"])
        extra["output_bytes"] = sum(lengths)
        extra["trades"] = native.trades
    elif variant in ("pure_apply", "pure_bytes"):
        extra["trades"] = engine.trades
    out.update(commands=len(raw), events=events, cpu_s=round(cpu, 4), wall_s=round(wall, 4),
               commands_per_cpu_s=round(len(raw) / cpu), commands_per_s=round(len(raw) / wall),
               ns_per_command_cpu=round(cpu / len(raw) * 1e9, 1), **extra)
    return out


def run_variant(variant: str, orders: int, batch_size: int) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, [ROOT / "src", ROOT])))
    proc = subprocess.run([sys.executable, "-m", "loadtest.native_bench", "measure", "--variant", variant,
                           "--orders", str(orders), "--batch", str(batch_size)],
                          cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", nargs="?", default="all", choices=["all", "measure", "verify"])
    ap.add_argument("--variant", choices=VARIANTS)
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--digest-orders", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "loadtest" / "results" / "native.json"))
    args = ap.parse_args()
    if args.what == "measure":
        print(json.dumps(measure(args.variant, args.orders, args.batch)))
        return
    built = None if args.no_build else build()
    if args.what == "verify":
        print(json.dumps(verify(args.digest_orders), indent=2))
        return
    identity = verify(args.digest_orders)
    print(f"byte identity: {identity['events_byte_identical']}, state: {identity['state_identical']}, "
          f"refusals: {identity['refusal_cases_identical']}", file=sys.stderr)

    from loadtest import peer_bench
    from loadtest.engine_bench import listing_flow
    py312 = flow = None
    if not args.no_peer:
        py312 = str(peer_bench.ensure_venv())
        flow = ROOT / ".cache" / f"peer-flow-{args.orders}-1.jsonl"
        peer_bench.write_flow(flow, peer_bench.flow_rows(listing_flow(args.orders)))
    names = list(VARIANTS) + ([] if args.no_peer else ["peer"])
    runs: dict[str, list[dict]] = {v: [] for v in names}
    load_before = os.getloadavg()
    for r in range(args.rounds):
        for v in names:
            if v == "peer":
                p = peer_bench.run_child(py312, "peer", flow)
                res = {"variant": "peer", "engine": p["engine"], "python": p["python"], "commands": p["commands"],
                       "events": p["events"], "trades": p["trades"], "cpu_s": round(p["cpu_s"], 4),
                       "wall_s": round(p["wall_s"], 4), "commands_per_cpu_s": round(p["commands"] / p["cpu_s"]),
                       "commands_per_s": round(p["commands"] / p["wall_s"]),
                       "ns_per_command_cpu": round(p["cpu_s"] / p["commands"] * 1e9, 1)}
            else:
                res = run_variant(v, args.orders, args.batch)
            runs[v].append(res)
            print(f"round {r + 1} {v:13} {res['commands_per_cpu_s']:>10,}/cpu-s {res['commands_per_s']:>10,}/s "
                  f"{res['ns_per_command_cpu']:8.1f} ns/command", file=sys.stderr)

    def med(v: str, key: str = "commands_per_cpu_s") -> float:
        return statistics.median(x[key] for x in runs[v])

    def ratio_in_rounds(a: str, b: str) -> float:
        return round(statistics.median(x["commands_per_cpu_s"] / y["commands_per_cpu_s"]
                                       for x, y in zip(runs[a], runs[b])), 3)

    results: dict = {
        "experiment": "issue 12: the listing market's engine native (Rust, PyO3), bytes in and out; nothing adopted",
        "machine": platform.platform(), "python": platform.python_version(), "date": dt.date.today().isoformat(),
        "flow": f"loadtest.engine_bench.listing_flow({args.orders}) after _setup(engine, 'CEA'), gc off",
        "batch": args.batch, "rounds": args.rounds,
        "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]},
        "build": built, "identity": identity, "variants": {},
        "notes": ["read commands_per_cpu_s (time.process_time, the child's CPU); the 2 CPUs are shared",
                  "ratios: median over rounds of the two variants' figures in the same round",
                  "native: apply_batch + split of the returned bytes into one bytes per event; "
                  "call_only: apply_batch alone (a second engine, same flow, after the timed loop)",
                  "native_noop: the boundary alone (same arguments, every record's bytes and time read, no work); "
                  "native_parse: the boundary and the JSON decoding of each command in Rust",
                  "peer: matching-engine under Python 3.12 (loadtest.peer_bench child); certx variants under the "
                  "project's Python " + platform.python_version()]}
    for v, rs in runs.items():
        entry = {"commands_per_cpu_s": spread([x["commands_per_cpu_s"] for x in rs]),
                 "commands_per_s": spread([x["commands_per_s"] for x in rs]),
                 "ns_per_command_cpu_median": round(med(v, "ns_per_command_cpu"), 1),
                 "events": rs[0]["events"], "trades": rs[0].get("trades")}
        if v == "native":
            entry["call_only_commands_per_cpu_s"] = spread([x["call_only_commands_per_cpu_s"] for x in rs])
            entry["output_bytes"] = rs[0]["output_bytes"]
        if v == "peer":
            entry["engine"], entry["python"] = rs[0]["engine"], rs[0]["python"]
        results["variants"][v] = entry
    ratios = {f"{a}_to_{b}": ratio_in_rounds(a, b) for a, b in
              [("pure_bytes", "pure_apply"), ("native", "pure_apply"), ("native", "pure_bytes")]}
    if "peer" in runs:
        ratios.update({f"{a}_to_peer": ratio_in_rounds(a, "peer") for a in ("pure_apply", "pure_bytes", "native")})
        ratios["native_call_only_to_peer"] = round(statistics.median(
            x["call_only_commands_per_cpu_s"] / y["commands_per_cpu_s"] for x, y in zip(runs["native"], runs["peer"])), 3)
    results["ratios_per_cpu_s"] = ratios
    noop_ns, parse_ns = med("native_noop", "ns_per_command_cpu"), med("native_parse", "ns_per_command_cpu")
    native_ns = med("native", "ns_per_command_cpu")
    results["boundary"] = {"noop_ns_per_command": round(noop_ns, 1), "parse_ns_per_command": round(parse_ns, 1),
                           "native_ns_per_command": round(native_ns, 1),
                           "noop_share_of_native": round(noop_ns / native_ns, 3)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
