"""Reaching the servers a command needs, before it does anything: the broker (address, login, topics) and a port
to listen on. A mistake here is one line and its own exit code (certx.mistakes)."""
from __future__ import annotations

import argparse

from certx.mistakes import BadSetting


def kafka(args: argparse.Namespace):
    from certx.kafka.connection import load

    return load(args.bootstrap, args.kafka_config)


def load_connection(args: argparse.Namespace):
    from certx.kafka.connection import load

    return load(args.bootstrap, None)


def needs(args: argparse.Namespace, *names: str) -> None:
    """The broker answers within --timeout, lets this principal in, and shows it these topics (certx.kafka.reach)."""
    import asyncio

    from certx.kafka.reach import require_topics

    asyncio.run(require_topics(kafka(args), list(names), args.timeout))


def free_port(option: str, host: str, port: int) -> None:
    """The service can listen there: a port another process holds is a mistake now, not a child that cannot
    bind and is started again and again."""
    import socket

    try:
        socket.create_server((host, port)).close()
    except OSError as exc:
        raise BadSetting(f"{option} {port} on {host} is taken or cannot be used ({exc.strerror}): give another "
                         f"{option}") from None
