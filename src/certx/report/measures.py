"""Measures: what a Kafka replay measured while it ran, the input `certx report --measures` reads.

A JSON object, written by whoever measures the replay (the Kafka load test):

    {
      "format": "certx.measures/1",
      "source": "2021-07-16..2023-12-29 through gateway and matcher, 3 brokers",
      "samples": [
        {"at": "2026-11-30T10:00:01+00:00",
         "latency_ms": {"p50": 1.8, "p99": 6.5, "p99_9": 11.0, "max": 14.2},
         "matcher_lag": 120, "projector_lag": 4500, "throughput": 2000.0},
        ...
      ]
    }

- `at`: when the sample's interval ended: an ISO 8601 time with its UTC offset for per-second samples, or a
  date (`"2021-12-16"`) for per-trade-day samples; every sample of a file is one or the other, in time order.
- `latency_ms`: percentiles of the interval's latencies in milliseconds, from a command's record time to its
  events' commit (p99_9 is the 99.9th percentile).
- `matcher_lag`: records of `certx.commands` the matcher had yet to read at `at`; `projector_lag`: records of
  `certx.events` the projector had yet to settle.
- `throughput`: commands per second through the matcher over the interval.
- `day`: the trade day being replayed at `at`, when the replay is of recorded days.

Beside the samples, `run` and `days` may hold the whole run's figures and each replayed day's (commands, events,
trades, settlements, latency percentiles to the committed event and to the settlement, rejections: what
certx.kafka.measures writes); the page keeps them in its figures.

Every field but `at` may be left out (null): a sample holds what was measured. Unknown fields are refused, so
a misspelt field is an error rather than a chart that silently stays empty.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec

class Latency(msgspec.Struct, forbid_unknown_fields=True):
    p50: float
    p99: float
    p99_9: float
    max: float


class Sample(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    at: str
    latency_ms: Latency | None = None
    matcher_lag: int | None = None
    projector_lag: int | None = None
    throughput: float | None = None
    day: str | None = None


class Measures(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    format: Literal["certx.measures/1"] = "certx.measures/1"
    samples: list[Sample]
    source: str = ""
    run: dict[str, Any] | None = None
    days: dict[str, Any] | None = None


class MeasuresError(ValueError):
    """A measures file that breaks the format; the message says where."""


class Peaks(msgspec.Struct, kw_only=True):
    """The worst of the run, for a line of text above the charts (None: not measured)."""

    p99_ms: float | None
    p99_9_ms: float | None
    max_ms: float | None
    matcher_lag: int | None
    projector_lag: int | None
    throughput: float | None     # the highest interval


class Measured(msgspec.Struct, kw_only=True):
    source: str
    interval: Literal["second", "day"]
    peaks: Peaks
    samples: list[Sample]


_decoder = msgspec.json.Decoder(Measures)


def decode(raw: bytes) -> Measures:
    """A measures file, checked: the format, each sample's time, and their order."""
    try:
        measures = _decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise MeasuresError(str(exc)) from None
    previous = None
    for i, sample in enumerate(measures.samples):
        at = _time(sample.at, i)
        if previous is not None and (type(at) is not type(previous) or at < previous):
            raise MeasuresError(f"samples[{i}].at {sample.at!r} breaks the order or mixes dates and times")
        previous = at
    return measures


def _time(text: str, i: int) -> dt.date | dt.datetime:
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise MeasuresError(f"samples[{i}].at {text!r} is neither an ISO date nor an ISO time") from None
    if at.tzinfo is None:
        # A time without its offset would be read in each viewer's own time zone.
        raise MeasuresError(f"samples[{i}].at {text!r} has no UTC offset")
    return at


def measured(measures: Measures) -> Measured:
    samples = measures.samples
    latencies = [s.latency_ms for s in samples if s.latency_ms is not None]

    def peak(values):
        values = [v for v in values if v is not None]
        return max(values) if values else None

    return Measured(
        source=measures.source,
        interval="day" if samples and len(samples[0].at) == 10 else "second",
        peaks=Peaks(p99_ms=peak(x.p99 for x in latencies), p99_9_ms=peak(x.p99_9 for x in latencies),
                    max_ms=peak(x.max for x in latencies), matcher_lag=peak(s.matcher_lag for s in samples),
                    projector_lag=peak(s.projector_lag for s in samples),
                    throughput=peak(s.throughput for s in samples)),
        samples=samples,
    )
