"""The settlement projector service: a FastStream app whose lifespan runs `certx.kafka.projector`.

    certx serve projector --db postgresql://…      # or: python -m services.projector (CERTX_DB)
"""
from __future__ import annotations

import asyncio
import os
import sys

from certx.kafka.projector import Projector, ProjectorSettings
from certx.kafka.topics import bootstrap
from services.shell import Service


async def main(settings: ProjectorSettings | None = None) -> int:
    settings = settings or ProjectorSettings(bootstrap=bootstrap(), db=os.environ.get("CERTX_DB", "certx.db"))
    return await Service(settings.bootstrap, Projector(settings), "projector").run()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
