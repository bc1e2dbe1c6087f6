"""Generate `schemas/` from the Structs: the JSON Schema of commands, events and dead letters, and the
AsyncAPI document of the topics.

    python -m certx.wire.schema            # write schemas/
    python -m certx.wire.schema --check    # exit 1 if schemas/ differs from the code
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import msgspec

from certx.wire.codec import schema_hook
from certx.wire.commands import AnyCommand, LoggedCommand
from certx.wire.dead_letter import DeadLetter
from certx.wire.events import AnyEvent
from certx.wire.settlements import AnySettlement

ROOT = Path(__file__).resolve().parents[3] / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://certx.example/schemas/"


def _identified(name: str, schema: dict) -> dict:
    """Every schema says which dialect it is written in and where it lives, so validators load it as is."""
    return {"$schema": DIALECT, "$id": BASE_ID + name, **schema}


def _events_schema() -> dict:
    return _positioned(msgspec.json.schema(AnyEvent, schema_hook=schema_hook))


def _positioned(schema: dict) -> dict:
    # The engine and the ledger stamp seq, origin and market on every event they publish, so on the wire
    # they are always present, though the Structs give them placeholder defaults.
    for name, component in schema["$defs"].items():
        props = component.get("properties", {})
        if "seq" in props and "origin" in props:
            component["required"] = sorted(set(component.get("required", [])) | {"seq", "origin", "market"})
            props["origin"] = {"$ref": "#/$defs/Origin"}
    return schema


def _asyncapi() -> dict:
    """The AsyncAPI 3.0 document of the Kafka topics, its payloads taken from the same Structs."""
    (commands, events, dead), components = msgspec.json.schema_components(
        (AnyCommand, AnyEvent, DeadLetter), schema_hook=schema_hook, ref_template="#/components/schemas/{name}")

    def channel(address: str, message: str, description: str) -> dict:
        return {"address": address, "description": description,
                "messages": {message: {"$ref": f"#/components/messages/{message}"}}}

    return {
        "asyncapi": "3.0.0",
        "info": {"title": "certx", "version": "0.1.0",
                 "description": "Commands in, engine events out; the record key is the market (PROTOCOL.md)."},
        "defaultContentType": "application/json",
        "channels": {
            "commands": channel("certx.commands", "command",
                                "From brokers, the registry, the bank and the operator. One partition per market "
                                "(CEA 0, CCER 1, GEC 2); the record timestamp is the command time."),
            "events": channel("certx.events", "event", "From the matcher, transactional; read with read_committed."),
            "dlq": channel("certx.dlq", "dead_letter", "Records that could not be decoded, with the reason."),
        },
        "operations": {
            "matcherConsumesCommands": {"action": "receive", "channel": {"$ref": "#/channels/commands"}},
            "matcherPublishesEvents": {"action": "send", "channel": {"$ref": "#/channels/events"}},
            "matcherPublishesDeadLetters": {"action": "send", "channel": {"$ref": "#/channels/dlq"}},
        },
        "components": {
            "messages": {"command": {"payload": commands}, "event": {"payload": events},
                         "dead_letter": {"payload": dead}},
            "schemas": components,
        },
    }


def generate() -> dict[str, str]:
    schemas = {
        "commands.schema.json": _identified("commands.schema.json", msgspec.json.schema(AnyCommand, schema_hook=schema_hook)),
        "command-log.schema.json": _identified("command-log.schema.json",
                                               msgspec.json.schema(LoggedCommand, schema_hook=schema_hook)),
        "events.schema.json": _identified("events.schema.json", _events_schema()),
        "dlq.schema.json": _identified("dlq.schema.json", msgspec.json.schema(DeadLetter, schema_hook=schema_hook)),
        "settlements.schema.json": _identified("settlements.schema.json",
                                               _positioned(msgspec.json.schema(AnySettlement, schema_hook=schema_hook))),
        "asyncapi.json": _asyncapi(),
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
