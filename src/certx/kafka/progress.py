"""How far a service's loop has got: its lag per input partition, a progress line every few seconds while it works,
and the time its loop last turned (DESIGN 8: what an operator reads in the log, the metrics and the health
checks all come from here, so they never disagree).

The lag is read from what the consumer already knows after each fetch (the partition's last stable offset, or
its high watermark, against the consumer's position): no request to the broker.
"""
from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator

from aiokafka import AIOKafkaConsumer, TopicPartition

from certx import metrics


def lag(consumer: AIOKafkaConsumer) -> dict[TopicPartition, int | None]:
    """Records not yet consumed, per assigned partition; None while the consumer has not heard its end yet."""
    out: dict[TopicPartition, int | None] = {}
    for tp in consumer.assignment():
        end = consumer.last_stable_offset(tp)
        if end is None or end < 0:
            end = consumer.highwater(tp)
        position = _position(consumer, tp)
        out[tp] = None if end is None or position is None else max(end - position, 0)
    return out


def _position(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
    """The consumer's position as it stands (aiokafka's `position()` awaits, and may ask the broker)."""
    try:
        state = consumer._subscription.subscription.assignment.state_value(tp)   # noqa: SLF001
    except AttributeError:
        return None
    return state.position if state is not None and state.has_valid_position else None


class Progress:
    """Ticked by a service's loop after every fetch."""

    def __init__(self, log: Any, service: str, every_s: float = 5.0, caught_up: int = 1_000) -> None:
        self.log = log
        self.service = service
        self.every_s = every_s
        self.caught_up = caught_up          # a lag at most this, on every partition, counts as caught up
        self.turned_at: float | None = None     # None: not turning yet (starting), or in a long step (a restore)
        self.lag: dict[TopicPartition, int | None] = {}
        self._logged_at = time.monotonic()
        self._logged_count = 0
        self._measured_at = 0.0

    def tick(self, consumer: AIOKafkaConsumer, processed: int) -> None:
        now = self.turned_at = time.monotonic()
        if now - self._measured_at >= 1.0:          # the gauges once a second is plenty
            self._measured_at = now
            self.lag = lag(consumer)
            for tp, n in self.lag.items():
                if n is not None:
                    metrics.LAG.labels(self.service, tp.topic, str(tp.partition)).set(n)
        if now - self._logged_at < self.every_s:
            return
        behind = {f"{tp.topic}:{tp.partition}": n for tp, n in sorted(self.lag.items()) if n}
        if processed != self._logged_count or behind:      # a line while it works, silence while it idles
            rate = (processed - self._logged_count) / (now - self._logged_at)
            self.log.info(f"{self.service}.progress", processed=processed, rate=round(rate, 1), lag=behind)
        self._logged_at, self._logged_count = now, processed

    def is_caught_up(self) -> bool:
        """Every assigned partition's end heard, and the lag within one batch or so."""
        return all(n is not None and n <= self.caught_up for n in self.lag.values())

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """A long step the loop waits on (a restore): alive while it lasts, however long."""
        self.turned_at = None
        try:
            yield
        finally:
            self.turned_at = time.monotonic()

    def turned_within(self, seconds: float) -> bool:
        """Whether the loop is alive: turned lately, starting, or in a long step."""
        return self.turned_at is None or time.monotonic() - self.turned_at <= seconds
