"""The operator's view of a deployment on Kafka: `certx tail`, `certx status`, `certx topics`."""
from __future__ import annotations

import argparse

from certx.cli.connect import kafka, load_connection, needs
from certx.mistakes import MissingFile


def cmd_tail(args: argparse.Namespace) -> int:
    import asyncio

    from certx.kafka.tail import tail, topic_of
    from certx.kafka.topics import Topics

    topics = Topics(args.prefix)
    needs(args, topic_of(args.stream, topics))
    asyncio.run(tail(kafka(args), topics, args.stream, follow=args.follow, limit=args.limit, as_json=args.json))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    import asyncio

    from certx.kafka.status import status
    from certx.kafka.topics import Topics
    from certx.table import show

    topics = Topics(args.prefix)
    needs(args, topics.commands, topics.events)
    show(asyncio.run(status(kafka(args), topics)), args.json)
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    import asyncio

    from certx.kafka import access
    from certx.kafka.reach import visible_topics
    from certx.kafka.topics import Topics, describe
    from certx.table import show

    topics = Topics(args.prefix)
    if not args.principals.is_file():
        raise MissingFile(f"no principals file {args.principals}")
    principals = access.read_principals(args.principals)
    if args.action == "create":
        bootstrap = load_connection(args)      # the address and TLS settings; the user is the file's admin
        asyncio.run(visible_topics(access.admin_connection(principals, bootstrap), args.timeout))
        count = access.set_up(bootstrap, principals, topics)
        if args.clients:
            access.write_clients(bootstrap, principals, args.clients)
        print(f"topics, {len(principals)} principals and {count} ACLs ready on {bootstrap.bootstrap}"
              + (f" (prefix {args.prefix!r})" if args.prefix else ""))
        return 0
    asyncio.run(visible_topics(kafka(args), args.timeout))
    show(asyncio.run(describe(kafka(args), topics, access.senders(principals))), args.json)
    return 0
