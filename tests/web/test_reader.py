"""The page's reader takes each record of the feed's three topics to what it tells the page; a record it cannot
take (no value, bytes that are not its topic's message, a message the board cannot fold) tells nothing and never
stops the page: only the services may write these topics (certx.kafka.access), but a forged or buggy record must
not take the page down for every viewer (the brief: a bad record never stops a service)."""
from __future__ import annotations

from aiokafka import ConsumerRecord

from certx.kafka.connection import Connection
from certx.kafka.topics import Topics
from certx.kafka.web import Reader, WebSettings
from certx.web.app import Hub
from certx.wire.codec import encode
from tests.web.test_board import FEED

TOPICS = Topics()
TOPIC_OF = {"quote": TOPICS.marketdata, "event": TOPICS.events, "settlement": TOPICS.settlements}


def record(topic: str, value: bytes | None, timestamp: int = 0) -> ConsumerRecord:
    return ConsumerRecord(topic=topic, partition=0, offset=7, timestamp=timestamp, timestamp_type=1, key=None,
                          value=value, checksum=None, serialized_key_size=0,
                          serialized_value_size=len(value or b""), headers=())


def reader() -> Reader:
    return Reader(WebSettings(kafka=Connection(), topics=TOPICS), Hub())


def test_a_record_the_page_cannot_take_tells_nothing_and_the_next_one_is_read():
    r = reader()
    told = 0
    for kind, message, at in FEED:
        topic = TOPIC_OF[kind]
        for bad in (None, b"", b"\xff\xfe", b"[]", b'{"type":"trade"}', b'{"type":"trade","price":1e999}',
                    b'{"type":"quote","version":99}'):
            assert r.facts(topic, record(topic, bad)) == []
        told += len(r.facts(topic, record(topic, encode(message), at)))
    assert told > 0 and r.hub.market.board.quotes, "the feed itself still reaches the board"


def test_the_board_holds_what_the_feed_alone_makes_it_hold():
    clean, attacked = reader(), reader()
    for kind, message, at in FEED:
        topic = TOPIC_OF[kind]
        clean.facts(topic, record(topic, encode(message), at))
        attacked.facts(topic, record(topic, None))
        attacked.facts(topic, record(topic, b'{"type":"day.summary"}'))
        attacked.facts(topic, record(topic, encode(message), at))
    assert attacked.hub.market.board.quotes == clean.hub.market.board.quotes
