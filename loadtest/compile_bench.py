"""EXPERIMENT (issue 12, item 2): a compiled hot path, two approaches measured on the engine benchmark's listing flow.

    python -m loadtest.compile_bench [--orders 1000000] [--rounds 3] [--out loadtest/results/compile.json]

Builds, under `.cache/` (nothing in the install path changes):
- **mypyc**: a copy of `src/` in `.cache/mypyc/src`, with the hot modules compiled in place by mypyc
  (`MYPYC_MODULES`), from the same source files; the only edit is a per-file mypy comment that turns off the
  error codes the mixins raise (see docs/compiled-hot-path.md).
- **rust**: `native/certx_book`, a price-time listing book in Rust (PyO3), built with maturin into
  `.cache/native/`; the engine's rules stay in Python, `ListingBook` and `Resting` are swapped for the native
  ones in the measuring process only.

Then, in `--rounds` rounds, each variant (pure, mypyc, rust) runs in a fresh process of its own, interleaved so that
a noisy neighbour hurts them alike: the 1M-command listing flow through `engine.apply` (as loadtest.engine_bench,
figure a_cea_listing), timed by the wall clock and by time.process_time(); and, for byte identity, the SHA-256 of
every event of a 100k-command flow encoded with certx.wire.codec.encode, and of the engine's snapshot state at the
end of it (certx.engine.snapshot.state).

`python -m loadtest.compile_bench measure --variant V` is the inner, one-process measurement.
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
CACHE = ROOT / ".cache"
MYPYC_SRC = CACHE / "mypyc" / "src"
TYPED_SRC = CACHE / "mypyc_typed" / "src"
NATIVE_OUT = CACHE / "native"
CRATE = ROOT / "native" / "certx_book"
MYPYC_MODULES = ["certx/books/listing.py", "certx/engine/listing.py", "certx/engine/engine.py"]
# The mixins use attributes the Engine defines: mypy (and so mypyc) refuses them without this.
MYPY_ALLOW = '# mypy: disable-error-code="attr-defined,assignment,arg-type,operator"\n'
# mypyc_typed: also the accounts and products, and in the listing desk each method reads the engine through
# `eng = cast(Engine, self)`, so that mypyc accesses the Engine's attributes natively instead of by name.
TYPED_MODULES = MYPYC_MODULES + ["certx/accounts/__init__.py", "certx/engine/product.py"]
VARIANTS = ("pure", "mypyc", "mypyc_typed", "rust")


def tool(name: str) -> str:
    """mypyc and maturin live in a scratch venv (`.cache/cvenv`), not the project's."""
    path = CACHE / "cvenv" / "bin" / name
    return str(path) if path.exists() else name


def _cast_self(text: str) -> tuple[str, int]:
    """The listing desk's methods read the engine as `eng = cast(Engine, self)`: one line more per method."""
    lines, out, i, in_method, added = text.split("\n"), [], 0, False, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("    def "):
            out.append(line)
            while not lines[i].rstrip().endswith(":"):
                i += 1
                out.append(lines[i])
            out.append("        eng = cast(Engine, self)")
            in_method, i, added = True, i + 1, added + 1
            continue
        out.append(line.replace("self.", "eng.") if in_method else line)
        i += 1
    head = "from __future__ import annotations\n"
    typing = "\nfrom typing import TYPE_CHECKING, cast\nif TYPE_CHECKING:\n    from certx.engine.engine import Engine\n"
    return "\n".join(out).replace(head, head + typing, 1), added + 3


def build_mypyc(typed: bool = False) -> dict:
    where, modules = (TYPED_SRC, TYPED_MODULES) if typed else (MYPYC_SRC, MYPYC_MODULES)
    shutil.rmtree(where.parent, ignore_errors=True)
    shutil.copytree(ROOT / "src", where, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    changed = 0
    for module in modules:
        path = where / module
        text = path.read_text()
        if typed and module == "certx/engine/listing.py":
            text, added = _cast_self(text)
            changed += added
        if module.startswith("certx/engine/"):
            text = MYPY_ALLOW + text
            changed += 1
        path.write_text(text)
    t0 = time.perf_counter()
    subprocess.run([tool("mypyc"), *modules], cwd=where, check=True, stdout=subprocess.DEVNULL)
    return {"build_s": round(time.perf_counter() - t0, 1), "modules": modules, "source_lines_changed": changed}


def build_rust() -> dict:
    shutil.rmtree(NATIVE_OUT, ignore_errors=True)
    wheels = CACHE / "native-wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    subprocess.run(["cargo", "clean"], cwd=CRATE, check=True, capture_output=True)   # a cold build, as on a fresh machine
    t0 = time.perf_counter()
    subprocess.run([tool("maturin"), "build", "--release", "-i", sys.executable, "-o", str(wheels)],
                   cwd=CRATE, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    import zipfile
    for wheel in wheels.glob("*.whl"):
        zipfile.ZipFile(wheel).extractall(NATIVE_OUT)
    rs = sum(len(p.read_text().splitlines()) for p in (CRATE / "src").glob("*.rs"))
    files = sum(len((CRATE / f).read_text().splitlines()) for f in ("Cargo.toml", "pyproject.toml"))
    return {"build_s": round(elapsed, 1), "cold": True, "rust_lines": rs, "build_file_lines": files}


def use_native_book() -> None:
    """Swap the listing book for the Rust one, in this process only."""
    import certx_book
    import certx.engine.listing as desk
    import certx.engine.product as product
    product.ListingBook = certx_book.ListingBook
    desk.Resting = certx_book.Resting


def measure(variant: str, orders: int, digest_orders: int) -> dict:
    if variant == "rust":
        use_native_book()
    from certx.engine import Engine
    from certx.engine import engine as engine_module
    from certx.engine.snapshot import state
    from certx.wire.codec import encode
    from loadtest.engine_bench import AT, _setup, listing_flow

    out: dict = {"variant": variant, "engine_module": Path(engine_module.__file__).name}
    # Byte identity first, on a smaller flow.
    engine = Engine("CEA")
    _setup(engine, "CEA")
    h = hashlib.sha256()
    events = 0
    for cmd in listing_flow(digest_orders):
        for event in engine.apply(cmd, AT):
            h.update(encode(event))
            h.update(b"\n")
            events += 1
    out["digest_events"] = events
    out["events_sha256"] = h.hexdigest()
    try:
        out["state_sha256"] = hashlib.sha256(state(engine)).hexdigest()
    except Exception as exc:   # the native book may not snapshot
        out["state_sha256"] = f"unavailable: {type(exc).__name__}: {exc}"[:200]

    flow = listing_flow(orders)
    engine = Engine("CEA")
    _setup(engine, "CEA")
    apply = engine.apply
    gc.collect()
    gc.disable()
    events = 0
    c0 = time.process_time()
    t0 = time.perf_counter()
    for cmd in flow:
        events += len(apply(cmd, AT))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    gc.enable()
    out.update(commands=len(flow), events=events, trades=engine.trades, wall_s=round(wall, 3), cpu_s=round(cpu, 3),
               commands_per_s=round(len(flow) / wall), commands_per_cpu_s=round(len(flow) / cpu))
    return out


def run_variant(variant: str, orders: int, digest_orders: int) -> dict:
    path = {"pure": [ROOT / "src", ROOT], "mypyc": [MYPYC_SRC, ROOT],
            "mypyc_typed": [TYPED_SRC, ROOT], "rust": [ROOT / "src", ROOT, NATIVE_OUT]}[variant]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, path)))
    proc = subprocess.run([sys.executable, "-m", "loadtest.compile_bench", "measure", "--variant", variant,
                           "--orders", str(orders), "--digest-orders", str(digest_orders)],
                          cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def spread(values: list[float]) -> dict:
    return {"median": round(statistics.median(values)), "min": round(min(values)), "max": round(max(values))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", nargs="?", default="all", choices=["all", "measure"])
    ap.add_argument("--variant", choices=VARIANTS)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--digest-orders", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "loadtest" / "results" / "compile.json"))
    args = ap.parse_args()
    if args.what == "measure":
        print(json.dumps(measure(args.variant, args.orders, args.digest_orders)))
        return

    variants = args.variants.split(",")
    builds: dict = {}
    if not args.no_build:
        if "mypyc" in variants:
            builds["mypyc"] = build_mypyc()
        if "mypyc_typed" in variants:
            builds["mypyc_typed"] = build_mypyc(typed=True)
        if "rust" in variants:
            builds["rust"] = build_rust()
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    for r in range(args.rounds):
        for v in variants:
            runs[v].append(run_variant(v, args.orders, args.digest_orders))
            print(f"round {r + 1} {v}: {runs[v][-1]['commands_per_s']}/s, {runs[v][-1]['commands_per_cpu_s']}/cpu-s",
                  file=sys.stderr)
    pure = runs.get("pure")
    results: dict = {"experiment": "issue 12 item 2: compiled hot path", "machine": platform.platform(),
                     "python": platform.python_version(), "date": dt.date.today().isoformat(),
                     "flow": f"loadtest.engine_bench.listing_flow({args.orders}), engine.apply only, gc off",
                     "rounds": args.rounds, "approaches": {},
                     "notes": ["EXPERIMENT: nothing adopted; see docs/compiled-hot-path.md",
                               "read commands_per_cpu_s (time.process_time); wall figures suffer from other jobs on "
                               "the 2 shared CPUs",
                               "speedup_vs_pure_cpu: median over rounds of variant/pure in the same round",
                               "byte identity: SHA-256 of all events of a 100k-command flow (codec.encode) and of "
                               "snapshot.state() at its end"]}
    for v, rs in runs.items():
        entry: dict = {"commands_per_s": spread([x["commands_per_s"] for x in rs]),
                       "commands_per_cpu_s": spread([x["commands_per_cpu_s"] for x in rs]),
                       "events": rs[0]["events"], "trades": rs[0]["trades"], "engine_module": rs[0]["engine_module"],
                       "events_sha256": rs[0]["events_sha256"], "state_sha256": rs[0]["state_sha256"]}
        if pure and v != "pure":
            entry["speedup_vs_pure_cpu"] = round(statistics.median(
                [x["commands_per_cpu_s"] / p["commands_per_cpu_s"] for x, p in zip(rs, pure)]), 2)
            entry["events_byte_identical"] = rs[0]["events_sha256"] == pure[0]["events_sha256"]
            entry["state_byte_identical"] = rs[0]["state_sha256"] == pure[0]["state_sha256"]
            entry["same_trades_and_events_1M"] = (rs[0]["events"], rs[0]["trades"]) == (pure[0]["events"],
                                                                                        pure[0]["trades"])
        if v in builds:
            entry["build"] = builds[v]
        results["approaches"][v] = entry
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
