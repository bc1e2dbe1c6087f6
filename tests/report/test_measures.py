"""The measures format (certx.report.measures): what the Kafka replay measured, read strictly."""
from __future__ import annotations

import json

import pytest

from certx.report.measures import MeasuresError, decode, measured


def measures(*samples: dict, **extra) -> bytes:
    return json.dumps({"format": "certx.measures/1", "samples": list(samples), **extra}).encode()


def test_per_second_samples_and_the_run_s_peaks():
    m = measured(decode(measures(
        {"at": "2026-11-30T10:00:01+00:00", "latency_ms": {"p50": 1.5, "p99": 6.0, "p99_9": 9.0, "max": 12.0},
         "matcher_lag": 10, "projector_lag": 400, "throughput": 2000.0},
        {"at": "2026-11-30T10:00:02+00:00", "latency_ms": {"p50": 1.7, "p99": 7.5, "p99_9": 8.0, "max": 30.0},
         "matcher_lag": 0, "throughput": 1900.0},
        source="two seconds")))
    assert (m.source, m.interval, len(m.samples)) == ("two seconds", "second", 2)
    p = m.peaks
    assert (p.p99_ms, p.p99_9_ms, p.max_ms, p.matcher_lag, p.projector_lag, p.throughput) == (
        7.5, 9.0, 30.0, 10, 400, 2000.0)


def test_per_day_samples_may_hold_only_what_was_measured():
    m = measured(decode(measures({"at": "2021-12-16", "projector_lag": 7}, {"at": "2021-12-17"})))
    assert m.interval == "day"
    assert (m.peaks.p99_ms, m.peaks.matcher_lag, m.peaks.projector_lag) == (None, None, 7)


@pytest.mark.parametrize("raw,says", [
    (measures({"at": "2026-11-30T10:00:01+00:00", "latency": 3}), "Object contains unknown field `latency`"),
    (measures({"at": "2026-11-30T10:00:01"}), "has no UTC offset"),
    (measures({"at": "yesterday"}), "neither an ISO date nor an ISO time"),
    (measures({"at": "2021-12-17"}, {"at": "2021-12-16"}), "breaks the order"),
    (measures({"at": "2021-12-16"}, {"at": "2021-12-17T10:00:00+08:00"}), "mixes dates and times"),
    (json.dumps({"format": "certx.measures/2", "samples": []}).encode(), "format"),
    (b"not json", "malformed"),
])
def test_a_broken_file_is_refused_with_where(raw, says):
    with pytest.raises(MeasuresError, match=says):
        decode(raw)
