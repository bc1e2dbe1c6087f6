"""The engine benchmark's listing flow fed to certx and to a peer, matching-engine from PyPI (issue 12, item 4).

    python -m loadtest.peer_bench [--orders 1000000] [--seed 1] [--rounds 5] [--out loadtest/results/peer.json]

The flow is engine_bench's `listing_flow` (75% limit orders near the mid, about 10% of them crossing; 25%
cancels of random earlier orders, some already filled), generated once and written to
.cache/peer-flow-<orders>-<seed>.jsonl, one JSON array a command:

    ["new", k, i, "buy"|"sell", price_fen, quantity]     order L<k> of account A<i> (broker B<i % 10>)
    ["cancel", k, i]                                     cancel of order L<k> by account A<i>

Each engine reads that file in a child process of its own, builds its own command objects from it and sets
itself up before the clock starts; what is timed is the loop of the engine's own entry point over the
commands (certx: `Engine.apply`, as in engine_bench; matching-engine: `MatchingEngine.process`), with
`time.process_time()` (CPU seconds of the child) and `time.perf_counter()` (wall), the garbage collector off
in both. Each round runs three children one after another: certx and matching-engine under Python 3.12 in
the same virtual environment (.cache/peer-venv, made once from `pyenv prefix 3.12`, `python3.12` or
/usr/bin/python3.12, from loadtest/peer-requirements.txt with --require-hashes; certx runs from src/ with
msgspec and sortedcontainers at the versions of its lock), then certx under the interpreter running this
script (the project's 3.11), for reference. The figures are the median, min and max over the rounds; the
ratio is certx's median over matching-engine's, per CPU-second and per wall second.

After the clock, each child reports its trades, the orders resting at the end and a digest of the resting
book (order number and remaining quantity, sorted), and this script says whether the two agree. It does not
hide a difference: it prints both and records `same_trades` and `same_book`.

What the two engines do differs, and the comparison favours the peer:
- certx's `apply` takes a command of the CEA market with its time and checks what the exchange rules ask
  of every order: the trading window of the session, that the sender is the account's broker, a day-unique
  string order id, the product, tick and size rules, the price band around the reference price; a buy
  reserves price x quantity of cash and a sell the units, each fill moves cash and units between the two
  wallets, credits the buyer (T+1 lock for CEA), updates the day's figures and gives back what a buyer
  reserved above the trade price; a cancel releases what the order held. Its events are msgspec structs
  with string ids.
- matching-engine's `process` takes a sequenced command (integer order id, account, price in ticks, lots)
  and keeps a price-time book only: no accounts, balances, reservations, bands or trading windows
  (its README says so: "No authentication, risk checks or balances"). Its sequence check stands in for
  certx's command counter. Nothing in this flow is refused by either engine's rules (funds and holdings are
  unbounded, prices stay inside the +-10% band, 10:00 is inside the session), so both books see the
  same orders.
- certx has no self-trade prevention: an order may fill against its own account's. matching-engine's
  default, `cancel_taker`, would cancel such takers instead, so the peer's orders are sent with
  `stp=SelfTradePrevention.NONE`; with that both match on price-time priority at the resting price, and the
  trades and the resting book come out the same (which the run checks).
- matching-engine's write-ahead log, sequencer and gateway are not in the timed loop, as certx's Kafka
  matcher and log are not: engine against engine.
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

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".cache" / "peer-venv"
REQUIREMENTS = ROOT / "loadtest" / "peer-requirements.txt"
PEER = "matching-engine"


# ---------------------------------------------------------------------------------------------- the flow file

def flow_rows(cmds) -> list[list]:
    """engine_bench.listing_flow's commands as rows of the flow file (see the module docstring)."""
    from certx.wire import commands as c

    rows: list[list] = []
    for cmd in cmds:
        k, i = int(cmd.order_id[1:]), int(cmd.account[1:])
        if type(cmd) is c.OrderCancel:
            rows.append(["cancel", k, i])
        else:
            rows.append(["new", k, i, cmd.side, int(cmd.price), cmd.quantity])
    return rows


def write_flow(path: Path, rows: list[list]) -> None:
    import msgspec

    encode = msgspec.json.encode
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        f.writelines(encode(row) + b"\n" for row in rows)
    tmp.replace(path)


def read_flow(path: Path) -> list[list]:
    import msgspec

    decode = msgspec.json.Decoder(list).decode
    with path.open("rb") as f:
        return [decode(line) for line in f]


def certx_commands(rows: list[list]) -> list:
    """The rows as certx commands: exactly what listing_flow made."""
    from certx.money import Price
    from certx.wire import commands as c

    cmds = []
    for row in rows:
        k, i = row[1], row[2]
        if row[0] == "cancel":
            cmds.append(c.OrderCancel(order_id=f"L{k}", actor=f"B{i % 10}", account=f"A{i}"))
        else:
            cmds.append(c.OrderNew(order_id=f"L{k}", actor=f"B{i % 10}", account=f"A{i}", product="CEA21",
                                   side=row[3], quantity=row[5], price=Price(row[4])))
    return cmds


def peer_commands(rows: list[list]) -> list:
    """The rows as matching-engine's sequenced commands: seq 1, 2, ...; order number k, account number i."""
    from matching_engine import CancelOrder, NewOrder, SelfTradePrevention, SequencedCommand, Side

    ts = 1_639_620_000_000_000_000          # 2021-12-16 10:00 CST in ns; the engine only carries it
    none = SelfTradePrevention.NONE
    sides = {"buy": Side.BUY, "sell": Side.SELL}
    cmds = []
    for seq, row in enumerate(rows, 1):
        if row[0] == "cancel":
            cmd = CancelOrder(row[1], row[2])
        else:
            cmd = NewOrder(row[1], row[2], sides[row[3]], row[4], row[5], stp=none)
        cmds.append(SequencedCommand(seq, ts, cmd))
    return cmds


def book_digest(resting) -> str:
    """sha256 of the resting orders as sorted (order number, remaining) pairs."""
    h = hashlib.sha256()
    for k, remaining in sorted(resting):
        h.update(b"%d:%d;" % (k, remaining))
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------- the children

def timed(loop) -> tuple[float, float, int]:
    gc.collect()
    gc.disable()
    c0, w0 = time.process_time(), time.perf_counter()
    events = loop()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    gc.enable()
    return cpu, wall, events


def child_certx(flow: Path) -> dict:
    from certx.engine import Engine
    from loadtest.engine_bench import AT, _setup

    cmds = certx_commands(read_flow(flow))     # the rows are dropped before the clock, in both children
    engine = Engine("CEA")
    _setup(engine, "CEA")

    def loop() -> int:
        apply = engine.apply
        events = 0
        for cmd in cmds:
            events += len(apply(cmd, AT))
        return events

    cpu, wall, events = timed(loop)
    book = engine.products["CEA21"].book
    return {"engine": "certx", "cpu_s": cpu, "wall_s": wall, "commands": len(cmds), "events": events,
            "trades": engine.trades, "resting_at_end": len(book.orders),
            "book_digest": book_digest((int(o.order_id[1:]), o.remaining) for o in book.orders.values())}


def child_peer(flow: Path) -> dict:
    import matching_engine
    from matching_engine.engine import MatchingEngine

    cmds = peer_commands(read_flow(flow))
    engine = MatchingEngine()

    def loop() -> int:
        process = engine.process
        events = 0
        for sc in cmds:
            events += len(process(sc))
        return events

    cpu, wall, events = timed(loop)
    book = engine.book
    return {"engine": f"{PEER} {matching_engine.__version__}", "cpu_s": cpu, "wall_s": wall,
            "commands": len(cmds), "events": events, "trades": engine.next_trade_id - 1,
            "resting_at_end": len(book.orders),
            "book_digest": book_digest((o.order_id, o.remaining) for o in book.orders.values())}


def child(kind: str, flow: Path) -> None:
    result = child_certx(flow) if kind == "certx" else child_peer(flow)
    result["python"] = platform.python_version()
    print(json.dumps(result))


# ---------------------------------------------------------------------------------------------- the venv

def find_python312() -> str:
    """Python 3.12 (not newer: the figures are for 3.12): pyenv's, then python3.12 on PATH, then the system's."""
    candidates: list[str] = []
    if shutil.which("pyenv"):
        r = subprocess.run(["pyenv", "prefix", "3.12"], capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip():
            candidates.append(str(Path(r.stdout.split(os.pathsep)[0].strip()) / "bin" / "python3.12"))
    if shutil.which("python3.12"):
        candidates.append(shutil.which("python3.12"))
    candidates.append("/usr/bin/python3.12")
    for cand in candidates:
        try:
            r = subprocess.run([cand, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                               capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0 and r.stdout.strip() == "True":
            return cand
    raise SystemExit(f"peer_bench: no Python 3.12 found (tried {', '.join(candidates)}); {PEER} needs >= 3.12")


def ensure_venv() -> Path:
    """.cache/peer-venv with the hash-checked requirements; made again when they change or the venv is broken."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".peer-installed"
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text().strip() == want:
        r = subprocess.run([str(python), "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                           capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip() == "True":
            return python
    if VENV.exists():
        shutil.rmtree(VENV)
    base = find_python312()
    print(f"peer_bench: making {VENV.relative_to(ROOT)} from {base}", file=sys.stderr)
    subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                    "--require-hashes", "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(want + "\n")
    return python


# ---------------------------------------------------------------------------------------------- the run

def run_child(python: str, kind: str, flow: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{ROOT / 'src'}{os.pathsep}{ROOT}" if kind == "certx" else str(ROOT)
    r = subprocess.run([python, "-m", "loadtest.peer_bench", "--child", kind, "--flow", str(flow)],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(f"peer_bench: the {kind} child under {python} failed:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def summarise(runs: list[dict]) -> dict:
    n = runs[0]["commands"]
    per_cpu = [n / r["cpu_s"] for r in runs]
    per_wall = [n / r["wall_s"] for r in runs]
    first = runs[0]
    return {
        "engine": first["engine"], "python": first["python"], "commands": n, "events": first["events"],
        "trades": first["trades"], "resting_at_end": first["resting_at_end"], "book_digest": first["book_digest"],
        "same_result_every_round": all((r["trades"], r["book_digest"]) == (first["trades"], first["book_digest"])
                                       for r in runs),
        "commands_per_cpu_s": {"median": round(statistics.median(per_cpu)), "min": round(min(per_cpu)),
                               "max": round(max(per_cpu))},
        "commands_per_s": {"median": round(statistics.median(per_wall)), "min": round(min(per_wall)),
                           "max": round(max(per_wall))},
        "rounds": [{"cpu_s": round(r["cpu_s"], 3), "wall_s": round(r["wall_s"], 3)} for r in runs],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=1_000_000, help="commands in the flow")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "loadtest" / "results" / "peer.json"))
    ap.add_argument("--child", choices=("certx", "peer"), help=argparse.SUPPRESS)
    ap.add_argument("--flow", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, Path(args.flow))

    from loadtest.engine_bench import listing_flow

    py312 = str(ensure_venv())
    flow = ROOT / ".cache" / f"peer-flow-{args.orders}-{args.seed}.jsonl"
    rows = flow_rows(listing_flow(args.orders, seed=args.seed))
    write_flow(flow, rows)
    cancels = sum(row[0] == "cancel" for row in rows)
    del rows

    runners = {"certx_3.12": (py312, "certx"), "peer_3.12": (py312, "peer"), "certx_3.11": (sys.executable, "certx")}
    runs: dict[str, list[dict]] = {name: [] for name in runners}
    load_before = os.getloadavg()
    for k in range(args.rounds):
        for name, (python, kind) in runners.items():
            r = run_child(python, kind, flow)
            runs[name].append(r)
            print(f"round {k + 1}/{args.rounds} {name:11} {r['engine']:22} {r['python']:7} "
                  f"{r['commands'] / r['cpu_s']:9,.0f} commands/CPU-s {r['commands'] / r['wall_s']:9,.0f} commands/s "
                  f"{r['trades']:,} trades", file=sys.stderr)

    s = {name: summarise(rs) for name, rs in runs.items()}
    certx, peer, certx311 = s["certx_3.12"], s["peer_3.12"], s["certx_3.11"]

    def ratio(a: dict, b: dict, key: str) -> float:
        return round(a[key]["median"] / b[key]["median"], 3)

    results = {
        "machine": platform.platform(), "date": dt.date.today().isoformat(),
        "flow": {"name": "loadtest.engine_bench.listing_flow", "commands": args.orders, "seed": args.seed,
                 "cancels": cancels, "accounts": 200, "products": 1, "file": str(flow.relative_to(ROOT))},
        "rounds": args.rounds,
        # the machine's load averages (1, 5, 15 min) before and after: another process on a CPU shows here
        "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]},
        "certx_3.12": certx, "peer_3.12": peer, "certx_3.11": certx311,
        "same_trades": certx["trades"] == peer["trades"] == certx311["trades"],
        "same_book": certx["book_digest"] == peer["book_digest"] == certx311["book_digest"],
        "ratio_certx_to_peer_per_cpu_s": ratio(certx, peer, "commands_per_cpu_s"),
        "ratio_certx_to_peer_per_s": ratio(certx, peer, "commands_per_s"),
        "ratio_certx_3.11_to_peer_per_cpu_s": ratio(certx311, peer, "commands_per_cpu_s"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    if not results["same_trades"] or not results["same_book"]:
        print(f"peer_bench: THE ENGINES DISAGREE: trades certx {certx['trades']:,} (3.11: {certx311['trades']:,}), "
              f"{peer['engine']} {peer['trades']:,}; resting {certx['resting_at_end']:,} vs "
              f"{peer['resting_at_end']:,}; same book: {results['same_book']}", file=sys.stderr)
    print(f"certx/{PEER} per CPU-second on 3.12: {results['ratio_certx_to_peer_per_cpu_s']}", file=sys.stderr)


if __name__ == "__main__":
    main()
