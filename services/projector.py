"""The settlement projector service: a FastStream app whose lifespan runs `certx.kafka.projector`.

    certx serve projector --db postgresql://…      # or: python -m services.projector (CERTX_DB)
"""
from __future__ import annotations

import asyncio
import os
import sys

from certx.kafka.connection import load
from certx.kafka.projector import Projector, ProjectorSettings
from services.shell import Service


async def main(settings: ProjectorSettings | None = None) -> int:
    settings = settings or ProjectorSettings(kafka=load(), db=os.environ.get("CERTX_DB", "certx.db"))
    return await Service(settings.kafka, lambda: Projector(settings), "projector").run()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
