"""A surrender's second phase (DOMAIN C1) as the gateway relays it from `certx.events`, pure: the CCER leg's
answer goes to CEA as a vote, CEA's decision to CCER. Only the matcher may write `certx.events`, but a record
the gateway cannot read, or one from another market's partition, relays nothing and is for the dead letters: it
must never stop the exchange's intake (it would be read again after every restart)."""
from __future__ import annotations

from certx.gateway.relay import called_for
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.codec import encode
from certx.wire.routing import PARTITION


def held(market: str = "CCER", partition: int | None = None) -> e.SurrenderHeld:
    partition = PARTITION[market] if partition is None else partition
    return e.SurrenderHeld(seq=4, origin=e.Origin(partition, 3, 0), market=market, ref="s-1", account="A1",
                           compliance_year=2024, units={"CCER": 10}, legs=["CEA", "CCER"])


def test_C1_the_ccer_legs_answer_goes_to_cea_as_a_vote():
    ((market, vote),) = called_for(encode(held()), PARTITION["CCER"])
    assert market == "CEA" and isinstance(vote, c.SurrenderVote) and (vote.ref, vote.vote) == ("s-1", "held")


def test_C1_an_answer_read_from_another_markets_partition_relays_nothing():
    assert isinstance(called_for(encode(held()), PARTITION["CEA"]), str)
    assert isinstance(called_for(encode(held(partition=PARTITION["CEA"])), PARTITION["CCER"]), str)


def test_a_record_the_gateway_cannot_read_is_for_the_dead_letters_not_a_stop():
    for raw in (b'{"type":"surrender.held"}', b'{"type":"surrender.voted.v2","seq":1}', b'{"type":"surrender.',
                b'\xff"type":"surrender.', encode(held()).replace(b'"legs":["CEA","CCER"]', b'"legs":7')):
        assert isinstance(called_for(raw, PARTITION["CCER"]), str), raw
