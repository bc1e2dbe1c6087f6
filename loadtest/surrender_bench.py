"""What an atomic surrender costs in latency (DOMAIN C1, certx.engine.compliance): on the real broker, the
registry sends surrenders to its inbound topic, paced, and each is timed from its send to its last `surrendered`
event read committed.

- two legs (CEA and CCER): held in both markets, the CCER leg's vote relayed by the gateway to CEA, CEA's
  decision relayed back to CCER: three trips through gateway and matcher;
- one leg (CEA only), for comparison: cancelled at once, one trip.

    python -m loadtest.surrender_bench [--surrenders 300] [--rate 20] [--out loadtest/results/surrender.json]

Runs in a deployment of its own (loadtest.cluster), with the gateway and the matcher as their principals.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import time
from pathlib import Path

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from loadtest.cluster import Deployment, bootstrap, machine, percentile, preload, service, wait_committed

CST = dt.timezone(dt.timedelta(hours=8))


class _Answer(msgspec.Struct):
    type: str
    ref: str = ""


answer_of = msgspec.json.Decoder(_Answer).decode


def setup(accounts: int) -> list[bytes]:
    at = dt.datetime.now(CST).isoformat()
    enc = msgspec.json.encode
    lines = []
    for i in range(accounts):
        a = f"E{i}"
        lines += [enc({"type": "account.open", "id": f"open-{a}", "actor": "registry", "account": a, "broker": "B1",
                       "at": at}),
                  enc({"type": "issue.cea", "id": f"cea-{a}", "actor": "registry", "account": a, "product": "CEA24",
                       "quantity": 95_000, "at": at}),
                  enc({"type": "issue.ccer", "id": f"ccer-{a}", "actor": "registry", "account": a, "product": "CCER",
                       "project": f"P{i}", "vintage": 2023, "quantity": 5_000, "at": at})]
    return lines


def figures(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {"count": len(xs), "p50_ms": round(percentile(xs, 0.5), 1), "p99_ms": round(percentile(xs, 0.99), 1),
            "max_ms": round(xs[-1], 1) if xs else None}


async def run(n: int, rate: float, logdir: Path) -> dict:
    async with Deployment(bootstrap(), "surrender") as d:
        matcher = service(d, "matcher", logdir)
        gateway = service(d, "gateway", logdir)
        try:
            await matcher.wait_for("matcher.assigned")
            await gateway.wait_for("gateway.started")
            lines = setup(n)
            await preload(d.as_("operator"), d.topics.replay, 0, None, [(lines, None)])
            await wait_committed(d.as_("admin"), d.topics.group("gateway"),
                                 {TopicPartition(d.topics.replay, 0): len(lines)}, 120, (matcher, gateway))
            reader = AIOKafkaConsumer(isolation_level="read_committed", enable_auto_commit=False,
                                      fetch_max_wait_ms=20, **d.as_("registry").aiokafka())
            await reader.start()
            tps = [TopicPartition(d.topics.events, p) for p in (0, 1)]
            reader.assign(tps)
            await reader.seek_to_end(*tps)
            for tp in tps:
                await reader.position(tp)
            producer = AIOKafkaProducer(enable_idempotence=True, acks="all", linger_ms=0,
                                        **d.as_("registry").aiokafka())
            await producer.start()
            sent: dict[str, float] = {}
            done: dict[str, list[float]] = {}
            want = {}

            async def read() -> None:           # beside the sender, so that an answer is timed when it comes
                while True:
                    for records in (await reader.getmany(timeout_ms=50)).values():
                        _note(records, done)

            reading = asyncio.create_task(read())
            try:
                t0 = time.monotonic()
                for i in range(n):
                    two = i % 2 == 0
                    ref = f"S{i}"
                    body = {"type": "surrender", "id": ref, "account": f"E{i}", "compliance_year": 2024,
                            "cea": {"CEA24": 95_000}, "ccer": 5_000 if two else 0}
                    want[ref] = 2 if two else 1
                    sent[ref] = time.time() * 1000
                    await producer.send(d.topics.inbound("registry"), msgspec.json.encode(body), partition=0)
                    await asyncio.sleep(max(0.0, t0 + (i + 1) / rate - time.monotonic()))
                deadline = time.monotonic() + 60
                while sum(len(done.get(r, [])) >= k for r, k in want.items()) < n and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
            finally:
                reading.cancel()
                await producer.stop()
                await reader.stop()
        finally:
            gateway.stop()
            matcher.stop()
    two = [max(done[r]) - sent[r] for r, k in want.items() if k == 2 and len(done.get(r, [])) >= 2]
    one = [max(done[r]) - sent[r] for r, k in want.items() if k == 1 and done.get(r)]
    return {"surrenders": n, "rate_per_s": rate, "two_legs": figures(two), "one_leg": figures(one),
            "unfinished": sum(len(done.get(r, [])) < k for r, k in want.items())}


def _note(records, done: dict[str, list[float]]) -> None:
    now = time.time() * 1000
    for r in records:
        ans = answer_of(r.value)
        if ans.type == "surrendered":
            done.setdefault(ans.ref, []).append(now)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--surrenders", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=Path("loadtest/results/surrender.json"))
    args = parser.parse_args()
    logdir = Path(".cache/bench-logs")
    logdir.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine(), **asyncio.run(run(args.surrenders, args.rate, logdir))}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
