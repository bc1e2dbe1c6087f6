"""DESIGN 8: one log format. Off a terminal every line is a JSON object (structlog's own events and the stdlib's,
FastStream's and aiokafka's, through the same renderer), with no colour codes; `read` parses a log back."""
from __future__ import annotations

import json
import logging

import structlog

from certx import logs


def test_off_a_terminal_every_line_is_a_json_object_without_colour(tmp_path, restored_logging):
    path = tmp_path / "service.log"
    with open(path, "w") as out:
        logs.configure("info", stream=out)
        structlog.get_logger("certx.matcher").info("matcher.assigned", partitions=[0, 1, 2])
        logging.getLogger("faststream").info("FastStream app starting...")
        logging.getLogger("aiokafka.consumer").warning("Heartbeat failed for group %s", "certx-matcher")
        logging.getLogger("aiokafka.conn").info("chatter below the level it is held to")
        try:
            raise ValueError("boom")
        except ValueError:
            structlog.get_logger("certx.gateway").exception("service.failed")
    text = path.read_text()
    assert "\x1b[" not in text, "no ANSI colour codes in a file"
    lines = [json.loads(line) for line in text.splitlines()]
    assert [e["event"] for e in lines] == ["matcher.assigned", "FastStream app starting...",
                                          "Heartbeat failed for group certx-matcher", "service.failed"]
    assert lines[0]["partitions"] == [0, 1, 2] and lines[0]["level"] == "info" and "timestamp" in lines[0]
    assert lines[1]["logger"] == "faststream" and lines[2]["level"] == "warning"
    assert lines[3]["exception"][0]["exc_type"] == "ValueError", "a traceback as data, still one line"
    assert logs.last(text, "matcher.assigned")["partitions"] == [0, 1, 2]


def test_the_level_holds(tmp_path, restored_logging):
    path = tmp_path / "service.log"
    with open(path, "w") as out:
        logs.configure("warning", stream=out)
        structlog.get_logger("certx.matcher").info("matcher.progress", processed=1)
        structlog.get_logger("certx.matcher").warning("matcher.dead_letters", count=1)
    assert [e["event"] for e in logs.read(path.read_text())] == ["matcher.dead_letters"]


def test_read_skips_what_is_not_a_json_line():
    text = 'a stray print\n{"event": "gateway.started", "inputs": 3}\n{not json\n'
    assert list(logs.read(text)) == [{"event": "gateway.started", "inputs": 3}]


def test_a_traceback_in_the_log_shows_no_frame_s_locals(tmp_path, restored_logging):
    """A secret must not reach a log: a logged traceback (a library's exc_info, or ours) carried every frame's
    locals (structlog's default), so a frame holding a Kafka login or a DSN wrote its password to the log."""
    from certx.kafka.connection import Connection

    secret = "".join(("S3", "CRET"))     # not in the source a traceback quotes around its lines

    def connect(kafka: Connection, dsn: str) -> None:
        raise ConnectionError("refused")

    for fmt in ("json", "console"):
        path = tmp_path / f"{fmt}.log"
        with open(path, "w") as out:
            logs.configure("info", fmt, stream=out)
            try:
                connect(Connection(username="matcher", password=secret), f"postgresql://p:{secret}@db/certx")
            except ConnectionError:
                logging.getLogger("aiokafka").error("Unexpected error", exc_info=True)
        text = path.read_text()
        assert "ConnectionError" in text and "refused" in text, fmt
        assert secret not in text, fmt
