"""One logging set-up for every certx service and command (DESIGN 8): structlog key-value events, rendered as JSON
lines when the output is not a terminal (a file, a pipe, a container's log) and by structlog's console renderer
when it is; FastStream's and aiokafka's stdlib loggers go through the same renderer (structlog's
ProcessorFormatter), so a service's log is one format, with no colour codes in a file.

Logs go to stderr: stdout is the commands' output (tables, `--json`), which a pipe must get alone.

    certx --log-level debug serve matcher      # or $CERTX_LOG_LEVEL; `--log-format json|console` to choose

`read` parses a log back (the tests and the benchmarks wait for lines such as `matcher.assigned` with it).
"""
from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any, Iterator, TextIO

import structlog

LEVELS = ("debug", "info", "warning", "error")
# Stdlib loggers that bring handlers of their own (FastStream's colour formatter on stdout) or chatter at INFO.
FOREIGN = ("faststream", "faststream.access", "faststream.access.kafka", "aiokafka", "kafka", "uvicorn",
           "uvicorn.error", "uvicorn.access")


def configure(level: str | None = None, fmt: str | None = None, stream: TextIO | None = None) -> None:
    """Set up structlog and the stdlib's root logger once for this process. `level` defaults to $CERTX_LOG_LEVEL
    or info; `fmt` (json or console) to $CERTX_LOG_FORMAT, else JSON unless `stream` is a terminal."""
    stream = stream or sys.stderr
    level = (level or os.environ.get("CERTX_LOG_LEVEL") or "info").lower()
    fmt = fmt or os.environ.get("CERTX_LOG_FORMAT") or ("console" if stream.isatty() else "json")
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # A traceback without its frames' locals (structlog shows them by default): a frame holding a login or a DSN
    # would write its password to the log.
    if fmt == "json":
        renderer: Any = structlog.processors.JSONRenderer(default=str)
        shared.append(structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)))
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty(), exception_formatter=(
            structlog.dev.RichTracebackFormatter(show_locals=False) if structlog.dev.rich else
            structlog.dev.plain_traceback))
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: structlog.testing.capture_logs must still see loggers that have logged before.
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer]))
    import faststream  # noqa: F401 - its import adds its colour handler to "faststream": cleared below, after it

    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in FOREIGN:
        foreign = logging.getLogger(name)
        foreign.handlers.clear()
        foreign.propagate = True
        foreign.setLevel(logging.NOTSET)
    # aiokafka tells every retried connection at INFO and ERROR; at our info level only its warnings count.
    if level != "debug":
        logging.getLogger("aiokafka").setLevel(logging.WARNING)


def faststream_logger() -> logging.Logger:
    """The logger FastStream's app and broker are given: a plain stdlib logger that reaches the root handler
    (FastStream's own default adds a colour formatter on stdout)."""
    return logging.getLogger("faststream")


def read(text: str) -> Iterator[dict[str, Any]]:
    """The JSON log lines of a service's output, parsed; other lines (a child's stray print) are skipped."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                yield entry


def last(text: str, event: str) -> dict[str, Any] | None:
    """The latest log entry of that event, or None."""
    found = None
    for entry in read(text):
        if entry.get("event") == event:
            found = entry
    return found
