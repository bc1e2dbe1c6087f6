"""The Prometheus metrics of the services (DESIGN 8), all in one table, so that a name and its meaning are written
once. Each service process exposes them on `/metrics` (services/shell.py), with the Python process's own.

Counters count what was committed (a transaction that aborted is counted by none); the histograms time what an
operator tunes: the batch sizes a fetch gives, a transaction's commit, a command's way through the service, the
projector's database transactions.
"""
from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram

SERVICE = ("service",)
_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

COMMANDS = Counter("certx_commands", "Commands committed: written to certx.commands by the gateway, applied by the "
                   "matcher", ("service", "market"))
EVENTS = Counter("certx_events", "Events the matcher committed to certx.events", ("market",))
REJECTIONS = Counter("certx_rejections", "Commands and orders refused (order.rejected, command.rejected), by reason",
                     ("market", "reason"))
DEAD_LETTERS = Counter("certx_dead_letters", "Records sent to certx.dlq", SERVICE)
BATCH = Histogram("certx_batch_records", "Records per batch a fetch gave the loop", SERVICE,
                  buckets=(1, 5, 10, 50, 100, 500, 1_000, 5_000, 10_000, 20_000))
TRANSACTION = Histogram("certx_transaction_seconds", "Kafka transactions, from begin to commit", SERVICE,
                        buckets=_LATENCY)
TRANSACTION_COMMIT = Histogram("certx_transaction_commit_seconds", "Kafka transactions, from closing (no more "
                               "batches) to committed: the broker's round trips, not the wait for the one before",
                               SERVICE, buckets=_LATENCY)
END_TO_END = Histogram("certx_end_to_end_seconds", "From a record's timestamp (the exchange's time of a command, "
                       "an event's command time) to the commit of what it gave", SERVICE, buckets=_LATENCY)
LAG = Gauge("certx_consumer_lag", "Records of an input partition not consumed yet", ("service", "topic", "partition"))
SNAPSHOT_AGE = Gauge("certx_snapshot_age_seconds", "Seconds since the matcher last wrote (or restored from) a "
                     "market's snapshot", ("market",))
SNAPSHOT_BYTES = Gauge("certx_snapshot_bytes", "Size of a market's latest snapshot", ("market",))
RESTORE = Histogram("certx_restore_seconds", "A market's restore: snapshot read and decoded, tail replayed",
                    ("market",), buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
PROJECTOR_ROWS = Counter("certx_projector_rows", "Rows the projector wrote to the read model (rate(): rows per "
                         "second)")
PROJECTOR_EVENTS = Counter("certx_projector_events", "certx.events records settled into the read model")
DB_TRANSACTION = Histogram("certx_db_transaction_seconds", "The projector's database transactions", buckets=_LATENCY)
READY = Gauge("certx_ready", "1 once the service is restored and caught up (its /ready answer)", SERVICE)
HALTED = Gauge("certx_market_halted", "1 while a matcher holds a market it will not serve: its rebuilt engine answers the "
               "log otherwise than the events it published (matcher.diverged)", ("market",))

# A record older than this is a recorded day replayed with its recorded times, not a latency: not observed.
END_TO_END_MAX_S = 3600.0


def observe_end_to_end(service: str, seconds: float) -> None:
    if 0 <= seconds <= END_TO_END_MAX_S:
        END_TO_END.labels(service).observe(seconds)


def snapshot_taken(market: str, size: int, at: float) -> None:
    """The metrics of a market's latest snapshot: its size, and its age from now on."""
    SNAPSHOT_BYTES.labels(market).set(size)
    SNAPSHOT_AGE.labels(market).set_function(lambda: time.time() - at)
