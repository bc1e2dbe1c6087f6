"""Hostile records survived per second (part 3 of loadtest.kafka_bench): how fast the gateway and the matcher get
through what tests/kafka/test_hostile.py proves they survive.

loadtest.hostile.mix(good day, N) — a good trading day (loadtest.flows.trading_day, 3,000 orders over the three
markets) with N hostile records spread through it: bytes that are not JSON objects, objects that break the
contract, resent ids, one record of ~900 kB in 5,000 — is pre-loaded into the operator's replay topic, where the
good day keeps its recorded times. The matcher starts (DOMAIN's rules: the recorded day's own sessions), then
the gateway. Figure: from the gateway's start (it reads the first record at once: everything is waiting) to the
last answer committed (the matcher's committed position past the last command the gateway wrote, in every
market), hostile records per second and all records per second. Every answer is counted: the events are the
good day's plus one refusal per hostile JSON object, and one dead letter per record that is not a JSON object.
"""
from __future__ import annotations

import time
from pathlib import Path

from aiokafka import TopicPartition

from certx.replay import Replay
from loadtest.cluster import Deployment, broker_pid, cpu_seconds, last_data_offset, preload, read_kinds, service, \
    wait_committed
from loadtest.flows import trading_day
from loadtest.hostile import mix


async def run(bs: str, hostile: int, logdir: Path) -> dict:
    good = trading_day(3_000, seed=17)
    sent = mix(good, hostile, seed=3)
    want_events = sum(1 for _ in Replay().run(good)) + len(sent.refs)
    async with Deployment(bs, "hostile") as d:
        secs = await preload(d.as_("operator"), d.topics.replay, 0, None, [(sent.lines, None)])
        print(f"hostile: pre-loaded {len(sent.lines):,} records ({hostile:,} hostile, "
              f"{sum(map(len, sent.lines)) / 1e6:.1f} MB) in {secs:.1f}s", flush=True)
        admin = d.as_("admin")
        matcher = service(d, "matcher", logdir, log_name="hostile-matcher")
        await matcher.wait_for("matcher.assigned")
        gateway = service(d, "gateway", logdir, log_name="hostile-gateway")
        workers = (matcher, gateway)
        pids = (gateway.proc.pid, matcher.proc.pid, broker_pid())
        try:
            t0 = await gateway.wait_for("gateway.started", every=0.005)
            cpu0 = [cpu_seconds(p) for p in pids]
            replay = TopicPartition(d.topics.replay, 0)
            await wait_committed(admin, d.topics.group("gateway"), {replay: len(sent.lines)}, 300, workers)
            gateway_done = time.monotonic()
            commands = [TopicPartition(d.topics.commands, p) for p in range(3)]
            ends = {tp: await last_data_offset(admin, tp) for tp in commands}
            trace = await wait_committed(admin, d.topics.group("matcher"), ends, 300, workers)
            t_end = trace[-1][0]
            cpu = [cpu_seconds(p) - c for p, c in zip(pids, cpu0)]
            survived = matcher.proc.poll() is None and gateway.proc.poll() is None
        finally:
            gateway.stop()
            matcher.stop()
        events = sum([sum((await read_kinds(admin, TopicPartition(d.topics.events, p))).values()) for p in range(3)])
        dead = sum((await read_kinds(admin, TopicPartition(d.topics.dlq, 0))).values())
    seconds = t_end - t0
    out = {"records": len(sent.lines), "hostile": hostile, "good": len(good),
           "hostile_json_objects_answered_by_refusals": len(sent.refs), "not_json_objects": len(sent.not_objects),
           "seconds_first_record_to_last_answer_committed": round(seconds, 3),
           "gateway_seconds": round(gateway_done - t0, 3),
           "hostile_per_s": round(hostile / seconds), "records_per_s": round(len(sent.lines) / seconds),
           "cpu_share": {name: round(c / seconds, 2) for name, c in zip(("gateway", "matcher", "broker"), cpu)},
           "events": events, "events_expected": want_events, "dead_letters": dead,
           "dead_letters_expected": len(sent.not_objects),
           "all_answered": events == want_events and dead == len(sent.not_objects), "no_service_stopped": survived}
    print(f"hostile: {hostile:,} hostile records in {len(sent.lines):,} survived in {seconds:.1f}s: "
          f"{out['hostile_per_s']:,} hostile/s ({out['records_per_s']:,} records/s); all answered: "
          f"{out['all_answered']}, no service stopped: {survived}", flush=True)
    return out
