"""Issue 12, done when: the sample day and a real week replay to the same events, byte for byte, as before the
engine was reshaped (one accounts API, one dispatch, declared state, buckets). The digests below are of the events
`certx replay --events` wrote at b7b0e42, the last commit before that work, for the shipped sample day and for
the week `certx days build --from 2021-12-13 --to 2021-12-17` builds (8,640 commands: CEA, CCER and GEC). A change
that moves any event by one byte fails here: if it is meant to, say why in its commit and record the new digest."""
from __future__ import annotations

import hashlib

from certx import cli

SAMPLE_DAY = "a97258c7455ede70489e18234bc669b3d298c26996d58f261abd3cd42780b1ff"    # 1,169 events
WEEK = "85801a6b0ee17c65b11243988461ebeb0ba50dce159787feeedf962edb3cbc6a"          # 12,889 events


def events_digest(tmp_path, *command_file: str) -> str:
    out = tmp_path / "events.jsonl"
    assert cli.main(["replay", *command_file, "--events", str(out), "--db", ":memory:", "--quiet"]) == 0
    return hashlib.sha256(out.read_bytes()).hexdigest()


def test_the_sample_day_replays_to_the_events_of_before_the_reshaped_engine(tmp_path):
    assert events_digest(tmp_path) == SAMPLE_DAY


def test_a_real_week_replays_to_the_events_of_before_the_reshaped_engine(tmp_path):
    week = tmp_path / "week.jsonl"
    assert cli.main(["days", "build", "--from", "2021-12-13", "--to", "2021-12-17", "--out", str(week)]) == 0
    assert events_digest(tmp_path, str(week)) == WEEK
