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
