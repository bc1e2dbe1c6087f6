"""Generate `schemas/` from the Structs: the JSON Schema of commands and of events.

    python -m certx.wire.schema            # write schemas/
    python -m certx.wire.schema --check    # exit 1 if schemas/ differs from the code
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import msgspec

from certx.wire.codec import schema_hook
from certx.wire.commands import AnyCommand
from certx.wire.events import AnyEvent

ROOT = Path(__file__).resolve().parents[3] / "schemas"


def _events_schema() -> dict:
    schema = msgspec.json.schema(AnyEvent, schema_hook=schema_hook)
    # The engine stamps seq, origin and market on every event it publishes (Engine.apply), so on the
    # wire they are always present, though the Structs give them placeholder defaults.
    for name, component in schema["$defs"].items():
        props = component.get("properties", {})
        if "seq" in props and "origin" in props:
            component["required"] = sorted(set(component.get("required", [])) | {"seq", "origin", "market"})
            props["origin"] = {"$ref": "#/$defs/Origin"}
    return schema


def generate() -> dict[str, str]:
    schemas = {
        "commands.schema.json": msgspec.json.schema(AnyCommand, schema_hook=schema_hook),
        "events.schema.json": _events_schema(),
    }
    return {name: json.dumps(s, indent=2, sort_keys=True, ensure_ascii=False) + "\n" for name, s in schemas.items()}


def main(argv: list[str]) -> int:
    files = generate()
    if "--check" in argv:
        stale = [n for n, text in files.items() if not (ROOT / n).exists() or (ROOT / n).read_text() != text]
        if stale:
            print(f"schemas/ is stale: {', '.join(stale)}; run python -m certx.wire.schema")
            return 1
        return 0
    ROOT.mkdir(exist_ok=True)
    for name, text in files.items():
        (ROOT / name).write_text(text)
    print(f"wrote {', '.join(files)} to {ROOT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
