"""`certx submit`: a command file sent as a sender, or recorded days through the operator's replay path, paced
and measured."""
from __future__ import annotations

import argparse
from pathlib import Path

from certx.cli.connect import kafka, needs
from certx.cli.files import read_by
from certx.mistakes import BadFile, WouldOverwrite


def speed(text: str) -> float | None:
    """`--speed 600`, or `--speed max` (as fast as possible, the same as no --speed)."""
    if text == "max":
        return None
    speed = float(text)
    if not speed > 0:
        raise argparse.ArgumentTypeError("a speed-up above 0, or max")
    return speed


def rate(text: str) -> float:
    """`--rate 200`: commands a second, above 0 (0 or less was taken as no rate at all)."""
    rate = float(text)
    if not rate > 0:
        raise argparse.ArgumentTypeError("commands per second, above 0 (none: as fast as possible)")
    return rate


def seconds(text: str) -> float:
    """`--max-wait 5`: seconds, 0 or more."""
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("seconds, 0 or more")
    return value


def cmd_submit(args: argparse.Namespace) -> int:
    import asyncio

    from certx.kafka.submit import MAX_REQUEST_SIZE, destination, submit, too_large
    from certx.kafka.topics import Topics

    if args.measures and read_by(Path(args.measures), inputs=[args.file]):
        raise WouldOverwrite(f"--measures {args.measures} is the command file it sends: give the figures another name")
    with open(args.file, "rb") as f:
        lines = f.readlines()
    over = too_large(lines)
    if over:
        raise BadFile(f"{args.file}:{over[0]}: a line of {over[1]:,} bytes, more than a Kafka record carries "
                      f"(the producer's {MAX_REQUEST_SIZE:,} with its framing): nothing sent")
    topics = Topics(args.prefix)
    needs(args, destination(kafka(args), topics, args.replay))
    if args.measures:
        return asyncio.run(_measured(args, lines))
    done = asyncio.run(submit(lines, kafka(args), topics, replay=args.replay, rate=args.rate,
                              speed=args.speed, max_wait=args.max_wait, progress=not args.quiet, total=len(lines)))
    print(f"submitted {done.lines} commands to {done.topic}; the answers are on certx.events")
    return 0


async def _measured(args: argparse.Namespace, lines: list[bytes]) -> int:
    """Submit while following the answers and the settlements; then wait for both to catch up, and write the
    figures (certx.kafka.measures)."""
    import asyncio
    import time

    import msgspec

    from certx.kafka.measures import Measures, follow
    from certx.kafka.submit import submit
    from certx.kafka.topics import Topics

    topics, conn, measures, stop = Topics(args.prefix), kafka(args), Measures(), asyncio.Event()
    following = asyncio.create_task(follow(conn, topics, measures, stop))
    await asyncio.sleep(1.0)         # the reader stands at the topics' ends before the first command goes
    done = await submit(lines, conn, topics, replay=args.replay, rate=args.rate, speed=args.speed,
                        max_wait=args.max_wait, progress=not args.quiet, total=len(lines),
                        sent=measures.command, describe=measures.describe)
    deadline = time.monotonic() + args.catch_up_timeout
    while not measures.caught_up() and time.monotonic() < deadline and not following.done():
        await asyncio.sleep(0.2)
    stop.set()
    await following
    figures = measures.figures(args.speed, source=f"{args.file} through the gateway, at speed "
                                                   f"{args.speed or 'max'}")
    Path(args.measures).write_bytes(msgspec.json.format(msgspec.json.encode(figures), indent=1) + b"\n")
    run, caught_up = figures.run, measures.caught_up()
    print(f"submitted {done.lines} commands to {done.topic}: {run['commands_per_s']:,}/s; latency p99 "
          f"{run['latency'].get('p99_ms')} ms, settled p99 {run['settle_latency'].get('p99_ms')} ms; "
          f"peak lag {run['peak_matcher_lag']:,} commands, {run['peak_projector_lag']:,} trades"
          f"{'' if caught_up else '; NOT caught up'}; figures in {args.measures}")
    return 0 if caught_up else 1
