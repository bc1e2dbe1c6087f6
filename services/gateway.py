"""The gateway service: a FastStream app whose lifespan runs the gateway loop (certx.kafka.gateway): every
sender's inbound topic in, `certx.commands` out, with the actor from the topic and the exchange's time.

    certx serve gateway                       # supervised
    faststream run services.gateway:app       # the app alone, set up from the environment (services/shell.py)
"""
from __future__ import annotations

from certx.kafka.gateway import Gateway, GatewaySettings
from services.shell import Environment, Service, module_app


def service(settings: GatewaySettings, http_port: int | None = None, http_host: str = "127.0.0.1") -> Service:
    return Service(settings.kafka, lambda: Gateway(settings), "gateway", http_port, http_host)


def _from(env: Environment) -> Service:
    return service(GatewaySettings(kafka=env.kafka, topics=env.topics), env.http_port, env.http_host)


__getattr__ = module_app(_from)      # `app`, built from the environment when first asked for
