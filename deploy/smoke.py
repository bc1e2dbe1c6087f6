"""Smoke check of a running broker: transactions, offsets-in-transaction, read_committed.

    deploy/kafka.sh start && .venv/bin/python deploy/smoke.py

1. ensure the certx topics exist;
2. put a few input records on certx.commands and read them with a consumer group;
3. a transactional producer writes N records to certx.events and, in the same
   transaction, commits the group's certx.commands offsets
   (send_offsets_to_transaction), then commits;
4. a second transaction writes records and is aborted;
5. a read_committed consumer sees exactly the N committed records and none of the
   aborted ones; a read_uncommitted consumer sees both (so the abort really wrote).
Exits non-zero on any mismatch. Each run uses fresh ids, so it can be rerun on the
same broker.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent))
from topics import COMMANDS, EVENTS, MARKET_PARTITIONS, TOPICS, ensure_topics  # noqa: E402

N_COMMITTED = int(os.environ.get("CERTX_SMOKE_N", "1000"))
N_ABORTED = 100


def ms(t0: float) -> str:
    return f"{(time.perf_counter() - t0) * 1000:.0f} ms"


async def read_all(bootstrap: str, isolation_level: str, tag: bytes) -> list[bytes]:
    """Read certx.events from the beginning up to the end offsets; return this run's values."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level=isolation_level,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        tps = [TopicPartition(EVENTS, p) for p in range(TOPICS[EVENTS][0])]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        # For read_committed, end_offsets is the last stable offset.
        end = await consumer.end_offsets(tps)
        seen: list[bytes] = []
        deadline = time.monotonic() + 30
        while True:
            positions = {tp: await consumer.position(tp) for tp in tps}
            if all(positions[tp] >= end[tp] for tp in tps):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{isolation_level}: did not reach end offsets {end}")
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                seen.extend(r.value for r in records if r.key == tag)
        return seen
    finally:
        await consumer.stop()


async def main() -> int:
    bootstrap = os.environ.get("CERTX_KAFKA", "127.0.0.1:9092")
    run = uuid.uuid4().hex[:8]
    tag = f"smoke-{run}".encode()
    group = f"certx-smoke-{run}"
    t_all = time.perf_counter()

    await ensure_topics(bootstrap)

    # Input: one command per market on its own partition.
    plain = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await plain.start()
    try:
        for market, part in MARKET_PARTITIONS.items():
            await plain.send_and_wait(COMMANDS, f"cmd-{market}".encode(), key=tag, partition=part)
    finally:
        await plain.stop()

    # A consumer group reading certx.commands (offsets are committed only via the transaction).
    consumer = AIOKafkaConsumer(
        COMMANDS,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="latest",
        isolation_level="read_committed",
    )
    t0 = time.perf_counter()
    await consumer.start()
    # Wait for the assignment, then position at the end (our commands are the last records).
    deadline = time.monotonic() + 30
    while not consumer.assignment():
        if time.monotonic() > deadline:
            raise TimeoutError("consumer group got no assignment")
        await consumer.getmany(timeout_ms=200)
    assigned = sorted(consumer.assignment())
    print(f"consumer group {group} joined, assignment {[tp.partition for tp in assigned]} in {ms(t0)}")
    end = await consumer.end_offsets(assigned)
    offsets = {tp: end[tp] for tp in assigned}  # "processed everything up to the end"

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        transactional_id=f"certx-smoke-{run}",
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
    )
    try:
        t_first = time.perf_counter()
        await producer.start()
        await producer.begin_transaction()  # waits for InitProducerId (the txn coordinator)
        t_init = time.perf_counter() - t_first
        t_send = time.perf_counter()
        futs = [
            await producer.send(EVENTS, f"ok-{i}".encode(), key=tag, partition=i % 3)
            for i in range(N_COMMITTED)
        ]
        await asyncio.gather(*futs)
        t_send = time.perf_counter() - t_send
        t_offs = time.perf_counter()
        await producer.send_offsets_to_transaction(offsets, group)
        t_offs = time.perf_counter() - t_offs
        t_commit = time.perf_counter()
        await producer.commit_transaction()
        t_commit = time.perf_counter() - t_commit
        print(
            f"first transaction ({N_COMMITTED} records + offsets): {ms(t_first)} total "
            f"[init/coordinator {t_init * 1000:.0f} ms, sends {t_send * 1000:.0f} ms, "
            f"send_offsets {t_offs * 1000:.0f} ms, commit {t_commit * 1000:.0f} ms]"
        )

        t0 = time.perf_counter()
        await producer.begin_transaction()
        futs = [
            await producer.send(EVENTS, f"aborted-{i}".encode(), key=tag, partition=i % 3)
            for i in range(N_ABORTED)
        ]
        await asyncio.gather(*futs)
        await producer.abort_transaction()
        print(f"second transaction ({N_ABORTED} records) aborted in {ms(t0)}")
    finally:
        await producer.stop()

    committed = {tp: await consumer.committed(tp) for tp in assigned}
    await consumer.stop()
    ok = True
    if committed != offsets:
        print(f"FAIL: group offsets {committed} != sent in transaction {offsets}")
        ok = False
    else:
        print(f"group offsets committed by the transaction: {[(tp.partition, o) for tp, o in committed.items()]}")

    t0 = time.perf_counter()
    rc = await read_all(bootstrap, "read_committed", tag)
    n_ok = sum(v.startswith(b"ok-") for v in rc)
    n_ab = sum(v.startswith(b"aborted-") for v in rc)
    print(f"read_committed: {n_ok} committed, {n_ab} aborted records visible ({ms(t0)})")
    if n_ok != N_COMMITTED or n_ab != 0 or len(set(rc)) != N_COMMITTED:
        print("FAIL: read_committed should see exactly the committed records")
        ok = False

    ru = await read_all(bootstrap, "read_uncommitted", tag)
    n_ok_u = sum(v.startswith(b"ok-") for v in ru)
    n_ab_u = sum(v.startswith(b"aborted-") for v in ru)
    print(f"read_uncommitted: {n_ok_u} committed, {n_ab_u} aborted records visible")
    if n_ok_u != N_COMMITTED or n_ab_u != N_ABORTED:
        print("FAIL: read_uncommitted should see the aborted records too")
        ok = False

    print(f"smoke {'OK' if ok else 'FAILED'} in {ms(t_all)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
