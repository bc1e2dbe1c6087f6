"""The matcher service: a FastStream app whose lifespan runs the transactional matcher loop.

FastStream gives the app its lifecycle (signals, start-up and shutdown hooks) and, given a port, serves its
health and metrics as an ASGI app (services/shell.py). The hot loop itself is `certx.kafka.matcher`, on aiokafka
directly: FastStream 0.7 has no Kafka transactions (its issue #1157), and its batch path costs about 25 µs a
message, more than the whole engine step. The AsyncAPI document is `schemas/asyncapi.json`, generated from the
msgspec Structs (FastStream's generator needs pydantic models).

    certx serve matcher                       # supervised: restarted after a failure a fresh start can mend
    faststream run services.matcher:app       # the app alone, set up from the environment (services/shell.py)
"""
from __future__ import annotations

from certx.kafka.matcher import Matcher, Settings
from services.shell import Environment, Service, module_app


def service(settings: Settings, http_port: int | None = None, http_host: str = "127.0.0.1") -> Service:
    return Service(settings.kafka, lambda: Matcher(settings), "matcher", http_port, http_host)


def _from(env: Environment) -> Service:
    return service(Settings(kafka=env.kafka, topics=env.topics), env.http_port, env.http_host)


__getattr__ = module_app(_from)      # `app`, built from the environment when first asked for
