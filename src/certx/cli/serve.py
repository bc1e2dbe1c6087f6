"""`certx serve`: a service on Kafka, its mistakes found first, then run in a child its supervisor restarts."""
from __future__ import annotations

import argparse

from certx.cli.connect import free_port, kafka, needs
from certx.cli.files import load_rules


SERVICES_OF = {"--host": ("web",), "--port": ("web",), "--db": ("projector",), "--rules": ("matcher",),
               "--snapshot-every": ("matcher",), "--session-timeout-ms": ("matcher",), "--no-marketdata": ("matcher",),
               "--metrics-port": ("gateway", "matcher", "projector"),
               "--metrics-host": ("gateway", "matcher", "projector")}


def unused(args: argparse.Namespace, defaults: argparse.Namespace) -> str | None:
    """The first option given (other than its default) to a service that does not take it: a service would drop
    it without a word (`serve web --metrics-port`: no metrics)."""
    for option, services in SERVICES_OF.items():
        dest = "marketdata" if option == "--no-marketdata" else option[2:].replace("-", "_")
        if args.service not in services and getattr(args, dest) != getattr(defaults, dest):
            named = services[0] if len(services) == 1 else f"{', '.join(services[:-1])} and {services[-1]}"
            return f"{option} is for {named}, not {args.service}"
    return None


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio
    import sys

    from certx.cli import serve_defaults
    from certx.kafka.topics import Topics
    from services.supervisor import main_argv, supervise, supervised

    topics = Topics(args.prefix)
    if not supervised():
        # Mistakes first, here, in one line each: a service would only log them and stop.
        wrong = unused(args, serve_defaults(args.service))
        if wrong:
            print(f"certx serve: {wrong}", file=sys.stderr)
            return 2
        if args.service == "web":
            free_port("--port", args.host, args.port)
        elif args.metrics_port is not None:
            free_port("--metrics-port", args.metrics_host, args.metrics_port)
        needs(args, *{"gateway": (topics.commands, topics.replay, topics.dlq),
                      "matcher": (topics.commands, topics.events, topics.snapshots, topics.dlq)
                      + ((topics.marketdata,) if args.marketdata else ()),
                      "projector": (topics.events, topics.settlements, topics.dlq),
                      "web": (topics.marketdata, topics.events, topics.settlements)}[args.service])
        if args.service == "projector":
            from certx.store import open_store

            open_store(args.db, timeout_s=args.timeout).close()
        if args.service == "matcher":
            load_rules(args.rules)
        return supervise(main_argv(), args.service)   # the service runs in a child this process restarts

    if args.service == "web":
        from certx.kafka.web import WebSettings
        from services.web import service as web

        return asyncio.run(web(WebSettings(kafka=kafka(args), topics=topics, host=args.host, port=args.port)).run())
    http = {"http_port": args.metrics_port, "http_host": args.metrics_host}
    if args.service == "projector":
        from certx.kafka.projector import ProjectorSettings
        from services.projector import service

        return asyncio.run(service(ProjectorSettings(kafka=kafka(args), db=args.db, topics=topics), **http).run())
    if args.service == "gateway":
        from certx.kafka.gateway import GatewaySettings
        from services.gateway import service

        return asyncio.run(service(GatewaySettings(kafka=kafka(args), topics=topics), **http).run())
    from certx.kafka.matcher import Settings
    from services.matcher import service

    settings = Settings(kafka=kafka(args), topics=topics, rules=load_rules(args.rules),
                        snapshot_every=args.snapshot_every, session_timeout_ms=args.session_timeout_ms,
                        marketdata=args.marketdata)
    return asyncio.run(service(settings, **http).run())
