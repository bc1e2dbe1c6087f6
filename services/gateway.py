"""The gateway service: a FastStream app whose lifespan runs the gateway loop (certx.kafka.gateway): every
sender's inbound topic in, `certx.commands` out, with the actor from the topic and the exchange's time.

    certx serve gateway        # or: python -m services.gateway
"""
from __future__ import annotations

import asyncio
import sys

from certx.kafka.connection import load
from certx.kafka.gateway import Gateway, GatewaySettings
from services.shell import Service


async def main(settings: GatewaySettings | None = None) -> int:
    settings = settings or GatewaySettings(kafka=load())
    return await Service(settings.kafka, lambda: Gateway(settings), "gateway").run()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
