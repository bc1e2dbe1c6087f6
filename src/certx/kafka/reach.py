"""Before a command or a service gets to work: is the broker there, does it let this principal in, and are the
deployment's topics there? Each answer that is no is a mistake with its own exit code (certx.mistakes), said in
one line, within `--timeout` seconds, instead of a traceback or a service that idles on topics that do not exist.

aiokafka reports a closed port, a wrong password and a missing login alike (KafkaConnectionError), so the
port is tried first with a plain TCP connection: a port that answers and a client that still cannot bootstrap is
a login refused.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Iterator

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from certx.kafka.connection import Connection
from certx.mistakes import NoTopics, NotAllowed, Unreachable

DEFAULT_TIMEOUT_S = 5.0


async def _port_answers(kafka: Connection, timeout_s: float) -> None:
    errors = []
    for server in (s.strip() for s in kafka.bootstrap.split(",")):
        host, _, port = server.rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host.strip("[]"), int(port)), timeout_s)
        except asyncio.TimeoutError:
            errors.append(f"{server}: no answer in {timeout_s:g} s")
            continue
        except OSError as exc:
            errors.append(f"{server}: {os.strerror(exc.errno).lower() if exc.errno else exc}")
            continue
        except ValueError:
            errors.append(f"{server}: not host:port")
            continue
        writer.close()
        return
    raise Unreachable(f"cannot reach the Kafka broker at {kafka.bootstrap} ({'; '.join(errors)})")


@contextlib.contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """The client's own error lines while it tries to get in: the one line the user reads is the mistake."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


async def visible_topics(kafka: Connection, timeout_s: float = DEFAULT_TIMEOUT_S) -> set[str]:
    """The topics this principal may see; raises Unreachable or NotAllowed."""
    await _port_answers(kafka, timeout_s)
    client = AIOKafkaConsumer(request_timeout_ms=int(timeout_s * 1000) + 1000, **kafka.aiokafka())
    with _quiet("aiokafka"):
        try:
            await asyncio.wait_for(client.start(), timeout_s)
            return set(await asyncio.wait_for(client.topics(), timeout_s))
        except (KafkaError, asyncio.TimeoutError) as exc:
            who = f"as {kafka.principal!r}" if kafka.principal else "without a login (give --kafka-config)"
            raise NotAllowed(f"the Kafka broker at {kafka.bootstrap} did not let this client in {who}: wrong user "
                             f"or password, or a wrong security protocol ({type(exc).__name__})") from None
        finally:
            await client.stop()


async def require_topics(kafka: Connection, names: list[str], timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Every named topic exists and this principal may see it; raises NoTopics naming the others."""
    missing = sorted(set(names) - await visible_topics(kafka, timeout_s))
    if missing:
        who = f" to {kafka.principal!r}" if kafka.principal else ""
        # Kafka hides a topic from a principal that may not use it: the same answer as a topic not there.
        rights = f", or {kafka.principal!r} has no right to it (certx.kafka.access)" if kafka.principal else ""
        raise NoTopics(f"no topic {', '.join(missing)} visible{who} on {kafka.bootstrap}: a wrong --prefix, "
                       f"the deployment not set up (certx topics create){rights}")
