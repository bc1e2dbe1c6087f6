"""The projector while its database is gone: it tries again with a growing back-off, forever, and stops waiting
as soon as it is asked to stop. (Its recovery on the real servers is in test_projector.py.)"""
from __future__ import annotations

import asyncio
import socket

import psycopg
import structlog

from certx.kafka.connection import Connection
from certx.kafka.projector import FIRST_RETRY, Projector, ProjectorSettings
from certx.store import open_store


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_waiting_for_the_database_backs_off_and_ends_when_the_projector_is_asked_to_stop():
    projector = Projector(ProjectorSettings(kafka=Connection("unused: no Kafka here"),
                                            db=f"postgresql://certx_projector:x@127.0.0.1:{closed_port()}/certx"))
    projector.store = open_store(":memory:")          # the store whose connection was lost
    with structlog.testing.capture_logs() as logs:
        waiting = asyncio.create_task(projector._reconnect(psycopg.OperationalError("the connection is lost")))
        while sum(entry["event"] == "projector.db_lost" for entry in logs) < 4:
            assert not waiting.done(), "it gave up waiting"
            await asyncio.sleep(0.05)
        projector._stopping.set()
        await asyncio.wait_for(waiting, 60)            # a guard against hanging the suite, not a time measured
    retries = [entry["retry_in"] for entry in logs if entry["event"] == "projector.db_lost"]
    assert retries[:4] == [FIRST_RETRY, 2 * FIRST_RETRY, 4 * FIRST_RETRY, 8 * FIRST_RETRY]
    assert "Connection refused" in [entry for entry in logs if entry["event"] == "projector.db_lost"][1]["error"]
    assert not [entry for entry in logs if entry["event"] == "projector.db_back"]
