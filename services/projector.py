"""The settlement projector service: a FastStream app whose lifespan runs `certx.kafka.projector`.

    certx serve projector --db postgresql://…        # supervised
    faststream run services.projector:app            # the app alone; the read model from $CERTX_DB
"""
from __future__ import annotations

import os

from certx.kafka.projector import Projector, ProjectorSettings
from services.shell import Environment, Service, module_app


def service(settings: ProjectorSettings, http_port: int | None = None, http_host: str = "127.0.0.1") -> Service:
    return Service(settings.kafka, lambda: Projector(settings), "projector", http_port, http_host)


def _from(env: Environment) -> Service:
    settings = ProjectorSettings(kafka=env.kafka, db=os.environ.get("CERTX_DB", "certx.db"), topics=env.topics)
    return service(settings, env.http_port, env.http_host)


__getattr__ = module_app(_from)      # `app`, built from the environment when first asked for
