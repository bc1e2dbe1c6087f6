"""`certx tail` (DESIGN 8) on records it cannot read, without a broker (its consumer stands in): each is one line on
stderr naming where it is, and the tail goes on; a record it can read is printed as before."""
from __future__ import annotations

import asyncio

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from certx.kafka import tail as tail_module
from certx.kafka.connection import Connection
from certx.kafka.topics import Topics

GOOD = (b'{"type":"account.opened","account":"gen-01","broker":"broker-e","seq":0,'
        b'"origin":{"partition":0,"offset":0,"index":0},"market":"CEA","ref":"reg-0001"}')
# An event of a later certx (a type this one does not know), bytes that are not UTF-8, a record with no value.
UNREADABLE = [b'{"type":"account.renamed","seq":1,"market":"CEA"}', b"\xff\xfe{", None]


class Consumer:
    """One partition holding these values, read once, as aiokafka's consumer hands them out."""

    def __init__(self, topic: str, values: list[bytes | None]) -> None:
        tp = TopicPartition(topic, 0)
        self.batch = {tp: [ConsumerRecord(topic, 0, n, 0, 0, None, v, None, 0, 0, ()) for n, v in enumerate(values)]}

    async def start(self) -> None: ...
    async def stop(self) -> None: ...

    async def getmany(self, timeout_ms: int, max_records: int | None) -> dict:
        batch, self.batch = self.batch, {}
        return batch


@pytest.mark.parametrize("as_json", [False, True])
def test_a_record_tail_cannot_read_is_a_line_on_stderr_and_the_tail_goes_on(as_json, monkeypatch, capsys):
    """A newer certx's event, bytes that are not UTF-8 or a record without a value made `certx tail` stop with a
    traceback at that record (DecodeError, UnicodeDecodeError, AttributeError): nothing after it could be read."""
    values = [GOOD, *UNREADABLE, GOOD]
    monkeypatch.setattr(tail_module, "AIOKafkaConsumer", lambda topic, **_: Consumer(topic, values))
    shown = asyncio.run(tail_module.tail(Connection(), Topics(), "events", as_json=as_json))
    out, err = capsys.readouterr()
    if as_json:             # as it is on the wire: a later certx's event is JSON all the same
        assert out.splitlines() == [GOOD.decode(), UNREADABLE[0].decode(), GOOD.decode()] and shown == 3
        unread = [2, 3]
    else:
        assert out.splitlines() == [tail_module.READABLE["events"](GOOD)] * 2 and shown == 2
        unread = [1, 2, 3]
    lines = err.splitlines()
    assert [line.split(": ")[1] for line in lines] == [f"certx.events[0]@{n}" for n in unread]
    assert all(line.startswith("certx tail: ") for line in lines)
    assert all("cannot read" in line for line in lines)


def test_every_settlement_of_the_sample_day_reads_as_a_line():
    """The projector publishes money as decimal strings (PROTOCOL); `certx tail settlements` decoded them as
    integer fen and answered every `settled` with "cannot read this record" (Expected `Fen`, got `str`)."""
    from certx.cli.files import sample_path
    from certx.ledger import Ledger
    from certx.ledger.journal import Journal
    from certx.replay import Replay
    from certx.wire.codec import encode

    replay, journal, settlements = Replay(), Journal(Ledger()), []
    for events in replay.each_line(sample_path().read_bytes().splitlines()):
        for event in events:
            settlements += journal.add(event, at=replay.at)
    kinds = {type(x).__struct_config__.tag for x in settlements}
    assert {"settled", "gec.cancelled", "units.surrendered"} <= kinds
    lines = [tail_module.READABLE["settlements"](encode(x)) for x in settlements]
    settled = next(line for x, line in zip(settlements, lines) if x.__struct_config__.tag == "settled")
    assert "price=" in settled and "cash=" in settled


def test_a_record_tail_cannot_read_is_said_short_and_printable(capsys):
    """The line for a record `certx tail` cannot read quoted msgspec's message whole: a megabyte value echoed in
    full, a record's escape codes raw to the operator's terminal."""
    for value in (b'{"type":"' + b"a" * 1_000_000 + b'"}', b'{"type":"\\u001b[2J\\u0007"}'):
        record = ConsumerRecord("certx.events", 0, 7, 0, 0, None, value, None, 0, 0, ())
        assert tail_module._line(tail_module.READABLE["events"], record) is None
        err = capsys.readouterr().err
        assert err.startswith("certx tail: certx.events[0]@7: cannot read this record") and err.count("\n") == 1
        assert len(err) < 1000 and "\x1b" not in err and "\x07" not in err, err[:300]


def test_tail_limit_is_one_record_or_more():
    """`certx tail events --limit 0` (or -1) printed nothing and exited 0, as if the topic were empty."""
    import subprocess
    import sys

    for limit in ("0", "-1"):
        run = subprocess.run([sys.executable, "-m", "certx.cli", "tail", "events", "--limit", limit, "--bootstrap",
                              "127.0.0.1:1"], capture_output=True, text=True, timeout=60)
        assert run.returncode == 2 and "--limit" in run.stderr and "Traceback" not in run.stderr, run.stderr
