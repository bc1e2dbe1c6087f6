"""How long a gateway takes to start when the day's command log is long: it reads each market back to its last
opening to rebuild the door's memory (certx.gateway.memory, README "The front door").

    python -m loadtest.recall_bench [--records 1000000 3000000] [--out loadtest/results/recall.json]

For each size, a deployment of its own (loadtest.cluster.Deployment): the CEA market's `session.opened` event and
an answer to each command after it are written to `certx.events` (as the matcher would: the gateway reads them
back to the opening), then into CEA's partition of `certx.commands`, in the gateway's
form, after a few records of the day before: B1's one resting order, then B2's flood of orders (the given
number of records, one millisecond apart). A gateway started here (`Gateway.start`: fencing, its consumer, the
memory, its inputs) is timed, and its memory checked: B1's order is in it, and `remember` ids in all. The
figures: the start's seconds, its CPU seconds (this process's: the machine may be shared), and the process's peak memory (VmHWM) after it (run one size a process for it to be
that size's).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from typing import Iterator

from certx.kafka.gateway import Gateway, GatewaySettings
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.codec import encode
from certx.wire.events import Origin
from loadtest.cluster import Deployment, bootstrap, machine, preload, run_bench, shown, vm_hwm_mb

CHUNK = 100_000
OPENED_AT = 1_790_000_000_000
DATE = dt.date(2026, 9, 22)


def order(order_id: str, actor: str, account: str) -> bytes:
    return encode(c.OrderNew(actor=actor, order_id=order_id, account=account, product="CEA24", side="buy",
                             quantity=1, price=8500))


def answers(records: int) -> Iterator[tuple[list[bytes], list[int]]]:
    """CEA's events: the opening, then one answer a command (as many as the matcher writes, at least)."""
    yield [encode(e.SessionOpened(date=DATE, seq=0, origin=Origin(0, 0, 0), market="CEA", ref="open-CEA"))], \
        [OPENED_AT]
    for start in range(0, records + 1, CHUNK):
        ks = range(start, min(records + 1, start + CHUNK))
        yield [encode(e.OrderAccepted(order_id=f"flood-{k}", account="A2", product="CEA24", side="buy", quantity=1,
                                      price=8500, seq=k + 1, origin=Origin(0, k + 1, 0), market="CEA",
                                      ref=f"flood-{k}")) for k in ks], [OPENED_AT + 1 + k for k in ks]


def day(records: int) -> Iterator[tuple[list[bytes], list[int]]]:
    """CEA's command log: the day before (expired, D2), the opening, B1's order, then B2's flood."""
    before = [order(f"yesterday-{k}", "B2", "A2") for k in range(1000)]
    yield before, [OPENED_AT - 3_600_000 + k for k in range(len(before))]
    opening = encode(c.SessionOpen(actor="operator", id="open-CEA", market="CEA", date=DATE))
    yield [opening, order("b1-rest", "B1", "A1")], [OPENED_AT, OPENED_AT + 1]
    for start in range(0, records, CHUNK):
        ks = range(start, min(records, start + CHUNK))
        yield [order(f"flood-{k}", "B2", "A2") for k in ks], [OPENED_AT + 2 + k for k in ks]


async def one(records: int, remember: int) -> dict:
    async with Deployment(bootstrap(), "recall") as d:
        t = d.topics
        await preload(d.as_("matcher"), t.events, 0, b"CEA", answers(records))
        loaded = await preload(d.as_("gateway"), t.commands, 0, b"CEA", day(records))
        g = Gateway(GatewaySettings(kafka=d.as_("gateway"), topics=t, remember=remember))
        t0, cpu0 = time.perf_counter(), time.process_time()
        await g.start()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        try:
            assert "b1-rest" in g.door.targets and len(g.door.targets) == remember, len(g.door.targets)
            return {"records": records + 1002, "read_back": records + 1, "remember": remember,
                    "preload_s": round(loaded, 1), "start_s": round(seconds, 1),
                    "start_cpu_s": round(cpu, 1),
                    "peak_rss_mb": vm_hwm_mb(os.getpid())}
        finally:
            await g.stop()


async def bench(args: argparse.Namespace) -> dict:
    runs = [await one(n, args.remember) for n in args.records]
    for run in runs:
        print(run, flush=True)
    return {"runs": runs, "machine": machine()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, nargs="+", default=[1_000_000, 3_000_000])
    parser.add_argument("--remember", type=int, default=1_000_000)
    parser.add_argument("--out", default="loadtest/results/recall.json")
    print(shown(run_bench(bench, parser.parse_args())))


if __name__ == "__main__":
    main()
