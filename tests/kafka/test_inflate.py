"""What a compressed batch may inflate to (DESIGN 7), without a broker: a sender's client may compress with any
codec a standard client offers, and certx reads them all; a batch that would inflate past the bound raises
`Inflated` before it is held whole (a zstd batch of 1,622 bytes is 50 MiB of zeros), whichever codec."""
from __future__ import annotations

import pytest
from aiokafka.record._crecords.default_records import DefaultRecordBatchBuilder
from aiokafka.record._crecords.memory_records import MemoryRecords

import certx.kafka  # noqa: F401 - puts the bounded readers in place, as every service does
from certx.kafka import inflate

CODECS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def batch(codec: str, values: list[bytes]) -> bytes:
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=CODECS[codec], is_transactional=0,
                                        producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=2**30)
    for offset, value in enumerate(values):
        builder.append(offset, timestamp=None, key=None, value=value, headers=[])
    return bytes(builder.build())


def read(raw: bytes) -> list[bytes]:
    return [r.value for r in MemoryRecords(raw).next_batch()]


@pytest.fixture
def small_bound(monkeypatch):
    monkeypatch.setattr(inflate, "LIMIT", 1 << 20)
    monkeypatch.setattr(inflate, "_out", None)


@pytest.mark.parametrize("codec", CODECS)
def test_every_codec_a_sender_may_use_is_read(codec):
    values = [b'{"type":"order.cancel","order_id":"o%d","account":"A1","market":"CEA"}' % i for i in range(500)]
    assert read(batch(codec, values)) == values


@pytest.mark.parametrize("codec", CODECS)
def test_a_batch_inflating_past_the_bound_is_refused_before_it_is_held(codec, small_bound):
    bomb = batch(codec, [bytes(300_000)] * 4)            # 1.2 MB of zeros against a bound of 1 MiB
    assert len(bomb) < 100_000
    with pytest.raises(inflate.Inflated, match=codec):
        read(bomb)
    assert read(batch(codec, [bytes(300_000)] * 3)) == [bytes(300_000)] * 3, "up to the bound is read"


def test_the_bound_holds_for_gzip_members_one_after_another(small_bound):
    import gzip
    two = gzip.compress(bytes(600_000)) + gzip.compress(bytes(600_000))
    with pytest.raises(inflate.Inflated):
        inflate.gzip(two)
    assert inflate.gzip(gzip.compress(b"a") + gzip.compress(b"b")) == b"ab"
