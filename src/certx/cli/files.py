"""The files the commands read and write: the shipped sample day, a rule table, an events file, and the guard
that an output never replaces an input (DESIGN 8)."""
from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path
from typing import Iterable, Iterator

from certx.mistakes import BadFile, explain
from certx.wire.codec import say
from certx.wire.events import Event


def sample_path() -> Path:
    return Path(str(resources.files("certx") / "sample" / "trade_day.jsonl"))


def load_rules(path: str | None):
    """A deployment's rule table, as JSON in the shape of certx.rules.Rules (missing fields keep DOMAIN's)."""
    import msgspec

    from certx.rules import DEFAULT, Rules

    if path is None:
        return DEFAULT
    try:
        return msgspec.json.decode(Path(path).read_bytes(), type=Rules)
    except msgspec.DecodeError as exc:
        raise BadFile(f"the rule table {path} is not certx.rules.Rules as JSON: {exc}") from None


def unreadable(command: str, exc: OSError | ValueError) -> int:
    """One line for a file the command could not read or write, and the code certx.mistakes gives it (these
    commands name their own failures, so they say them here rather than through `main`): a file's trouble in
    certx's words, never Python's `[Errno 2]`, and a message that quotes a record kept short and printable."""
    mistake = explain(exc) if isinstance(exc, OSError) else None
    print(f"certx {command}: {mistake or say(' '.join(str(exc).split()))}", file=sys.stderr)
    return mistake.code if mistake else BadFile.code


def text_lines(name: str) -> Iterator[str]:
    """A text file's lines, a file that is not UTF-8 text named as such."""
    try:
        with open(name, encoding="utf-8", newline="") as f:
            yield from f
    except UnicodeDecodeError:
        raise ValueError(f"{name}: not a text file (UTF-8)") from None


def read_by(*outputs: Path, inputs: Iterable[str | None]) -> str | None:
    """The input an output would write over (the same file, by whatever name), if any: DESIGN 8, an output
    named after another (the figures beside the page, STEM.json) must not replace a file the command reads."""
    for source in filter(None, inputs):
        if any(out.exists() and Path(source).exists() and os.path.samefile(out, source) for out in outputs):
            return source
    return None


def events_of(name: str, lines: Iterable[bytes]) -> Iterator[Event]:
    """The events of a file `certx replay --events` wrote, one JSON object a line."""
    import msgspec

    from certx.wire.codec import decode_event

    for n, line in enumerate(lines, 1):
        if line.strip():
            try:
                yield decode_event(line)
            except msgspec.DecodeError as exc:       # a ValidationError is one too
                raise ValueError(f"{name}:{n}: not an event: {exc}") from None
