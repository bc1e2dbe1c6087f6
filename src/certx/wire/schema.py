"""Generate `schemas/` from the Structs: the JSON Schema of commands, events, dead letters and quotes (market data),
and the AsyncAPI document of the topics.

    python -m certx.wire.schema            # write schemas/
    python -m certx.wire.schema --check    # exit 1 if schemas/ differs from the code

The files ship in the wheel as package data (`certx/schemas`, in the tree a link to the top-level `schemas/`), so
`shipped(name)` finds them the same way in a checkout and in an installed certx.
"""
from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

import msgspec

from certx.wire import commands as c
from certx.wire.codec import schema_hook
from certx.wire.commands import AnyCommand, LoggedCommand
from certx.wire.dead_letter import DeadLetter
from certx.wire.events import AnyEvent
from certx.wire.marketdata import Quote
from certx.wire.settlements import AnySettlement

ROOT = Path(__file__).resolve().parents[3] / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://certx.example/schemas/"


def shipped(name: str) -> dict:
    """A generated file as certx ships it (`asyncapi.json`, `events.schema.json`, …), in the tree or installed."""
    return json.loads((resources.files("certx") / "schemas" / name).read_text())


def _identified(name: str, schema: dict) -> dict:
    """Every schema says which dialect it is written in and where it lives, so validators load it as is."""
    return {"$schema": DIALECT, "$id": BASE_ID + name, **schema}


def _with_terms(defs: dict) -> dict:
    """An order's terms as the schema's `OrderNew` says them: those of its kind (`commands.TERMS`: a product
    beginning GEC, else its mode) and no other, as `misplaced_term` checks them at the door. A term it has no use
    for may only be left out or unset (null; `partial` true), or the door refuses the order; so may a GEC lot not
    partial without its counterparty (M5), and a pool that names serials too."""
    order = defs["OrderNew"]
    gec = {"pattern": "^GEC"}       # GEC's products (certx.wire.routing.market_of_product: CCER and CEA begin otherwise)
    rules = []
    for (kind, side), allowed in sorted(c.TERMS.items()):
        if kind == "GEC":
            when = {"properties": {"product": gec, "side": {"const": side}}, "required": ["product", "side"]}
        else:
            when = {"properties": {"product": {"not": gec}, "side": {"const": side}, "mode": {"const": kind}},
                    "required": ["product", "side"] + (["mode"] if kind != "listing" else [])}
        unset = {term: {"type": "null"} if value is None else {"const": value}
                 for term, value in c.UNSET.items() if term not in allowed}
        if unset:
            rules.append({"if": when, "then": {"properties": unset}})
    rules.append({"if": {"properties": {"product": gec, "partial": {"const": False}}, "required": ["product", "partial"]},
                  "then": {"properties": {"counterparty": {"type": "string"}}, "required": ["counterparty"]}})
    rules.append({"if": {"properties": {"pool": {"type": "object"}}, "required": ["pool"]},
                  "then": {"properties": {"first_serial": {"type": "null"}, "last_serial": {"type": "null"}}}})
    order["allOf"] = rules
    defs["GecFilter"]["allOf"] = _hour_filter_rules()
    return defs


def _hour_filter_rules() -> list[dict]:
    """What of `commands.hours_fault` a schema can say: `min_share` and `strict` qualify hours, and hours take
    exactly one of them. (That ranges are in order and apart, and times on the hour and increasing, it cannot.)"""
    def given(term: str, value: dict | None = None) -> dict:
        return {"properties": {term: value or {"not": {"type": "null"}}}, "required": [term]}
    hours = {"anyOf": [given("hours"), given("hours_from"), given("hours_to")]}
    share, strict = given("min_share"), given("strict", {"const": True})
    return [{"if": {"anyOf": [share, strict]}, "then": hours}, {"if": hours, "then": {"oneOf": [share, strict]}}]


def _events_schema() -> dict:
    schema = _positioned(msgspec.json.schema(AnyEvent, schema_hook=schema_hook))
    # A 24/7 match's trades travel inside its one event, which has the position: they are written without one.
    defs = schema["$defs"]
    trade = defs["Trade"]
    defs["AllocatedTrade"] = {**trade, "title": "AllocatedTrade",
                              "description": "A trade of a `gec.allocated`: a GEC trade without seq, origin and "
                                             "market, which the allocation carries.",
                              "required": [k for k in trade["required"] if k not in ("seq", "origin", "market")]}
    defs["Allocated"]["properties"]["trades"]["items"] = {"$ref": "#/$defs/AllocatedTrade"}
    return schema


def _positioned(schema: dict) -> dict:
    # The engine and the ledger stamp seq, origin and market on every event they publish, so on the wire
    # they are always present, though the Structs give them placeholder defaults.
    for name, component in schema["$defs"].items():
        props = component.get("properties", {})
        if "seq" in props and "origin" in props:
            component["required"] = sorted(set(component.get("required", [])) | {"seq", "origin", "market"})
            props["origin"] = {"$ref": "#/$defs/Origin"}
    return schema


KAFKA_BINDING = "0.5.0"


def _asyncapi_schema(schema: dict) -> dict:
    """msgspec's JSON Schemas as AsyncAPI's Schema Object (JSON Schema draft 7 plus a few keywords) takes them: its
    `discriminator` is the name of the property, where msgspec writes OpenAPI's object (propertyName, mapping),
    which AsyncAPI parsers refuse; and a tuple is draft 7's `items: [...]` with `additionalItems: false`, where
    msgspec writes draft 2020-12's `prefixItems` with `items: false`, which draft 7 reads as no item at all."""
    def fix(node):
        if isinstance(node, dict):
            out = {k: fix(v) for k, v in node.items()}
            if isinstance(out.get("discriminator"), dict):
                out["discriminator"] = out["discriminator"]["propertyName"]
            if "prefixItems" in out:
                out["items"], out["additionalItems"] = out.pop("prefixItems"), out["items"]
            return out
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node
    return fix(schema)


def _asyncapi() -> dict:
    """The AsyncAPI 3.0 document of the Kafka topics: servers, every channel with its Kafka bindings (key,
    partitions, topic configs, the services' consumer groups), and payloads taken from the same Structs."""
    from certx.kafka.topics import Topics
    from certx.wire.routing import PARTITION

    payloads, components = msgspec.json.schema_components(
        (AnyCommand, LoggedCommand, AnyEvent, AnySettlement, DeadLetter, Quote), schema_hook=schema_hook,
        ref_template="#/components/schemas/{name}")
    _with_terms(components)
    commands, logged, events, settlements, dead, quote = map(_asyncapi_schema, payloads)
    topics = Topics()
    layout = topics.layout(["{principal}"])
    markets = {"type": "string", "enum": sorted(PARTITION, key=PARTITION.get),
               "description": "The market: its partition is " + ", ".join(f"{m} {p}" for m, p in PARTITION.items())}

    def channel(address: str, message: str, description: str, **extra) -> dict:
        partitions, configs = layout[address]
        topic_configuration: dict = {"retention.ms": int(configs.get("retention.ms", -1)),
                                     "retention.bytes": int(configs.get("retention.bytes", -1))}
        if "cleanup.policy" in configs:
            topic_configuration = {"cleanup.policy": configs["cleanup.policy"].split(",")}
        if "max.message.bytes" in configs:
            topic_configuration["max.message.bytes"] = int(configs["max.message.bytes"])
        return {"address": address, "description": description,
                "messages": {message: {"$ref": f"#/components/messages/{message}"}},
                "bindings": {"kafka": {"topic": address, "partitions": partitions, "replicas": 1,
                                       "topicConfiguration": topic_configuration,
                                       "bindingVersion": KAFKA_BINDING}}, **extra}

    def operation(action: str, channel_name: str, description: str, group: str | None = None) -> dict:
        op = {"action": action, "channel": {"$ref": f"#/channels/{channel_name}"}, "description": description}
        if group is not None:
            op["bindings"] = {"kafka": {"groupId": {"type": "string", "enum": [group]},
                                        "bindingVersion": KAFKA_BINDING}}
        return op

    def message(name: str, payload: dict, description: str, key: dict | None, correlation: str | None,
                content_type: str = "application/json") -> dict:
        m = {"name": name, "title": name, "description": description, "contentType": content_type,
             "payload": payload,
             "bindings": {"kafka": {**({"key": key} if key else {}), "bindingVersion": KAFKA_BINDING}}}
        if correlation is not None:
            m["correlationId"] = {"$ref": f"#/components/correlationIds/{correlation}"}
        return m

    append_time = "The record timestamp is the broker's append time: the exchange's time of the command."
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "certx", "version": "0.1.0",
                 "description": "Commands in, engine events out, settlements after them (PROTOCOL.md). Every "
                                "client logs in as a principal (SASL/SCRAM-SHA-512) and its ACLs decide what it may "
                                "read and write (certx.kafka.access). A deployment may prefix every topic name."},
        "defaultContentType": "application/json",
        "servers": {
            "development": {"host": "127.0.0.1:9092", "protocol": "kafka", "protocolVersion": "4.1",
                            "description": "deploy/kafka.sh: one KRaft node, SASL_PLAINTEXT, ACLs",
                            "security": [{"$ref": "#/components/securitySchemes/scram"}]},
            "compose": {"host": "kafka:9092", "protocol": "kafka", "protocolVersion": "4.1",
                        "description": "deploy/compose.yaml, inside its network",
                        "security": [{"$ref": "#/components/securitySchemes/scram"}]},
        },
        "channels": {
            "inbound": channel(topics.inbound("{principal}"), "command",
                               "A sender's own inbound topic: only that principal may write it, and the gateway "
                               "takes the actor from it. " + append_time,
                               parameters={"principal": {"description": "The sender's Kafka principal (a member "
                                                                        "broker, registry, bank, operator)"}}),
            "replay": channel(topics.replay, "command", "The operator's replay path: recorded commands that keep "
                              "their actors and times (`at`)."),
            "commands": channel(topics.commands, "loggedCommand",
                                "The command log, written by the gateway alone, transactionally: one partition per "
                                "market; the record key is the market and the timestamp the exchange's time."),
            "events": channel(topics.events, "event", "The engine's events, written by the matcher in transactions: "
                              "read them with isolation.level=read_committed. Partition and key: the market."),
            "marketdata": channel(topics.marketdata, "quote",
                                  "Market data: after each batch of commands, one quote for each product the batch "
                                  "changed, written by the matcher in the same transaction as the batch's events "
                                  "(read_committed). Partition and key: the market. The record timestamp is the "
                                  "batch's latest command time."),
            "settlements": channel(topics.settlements, "settlement",
                                   "The settlement projector's events, at least once (drop a repeated `origin`)."),
            "snapshots": channel(topics.snapshots, "snapshot", "The matcher's engine snapshots, in chunks keyed "
                                 "`<partition>.<index>`, compacted: the matcher's own (certx.engine.snapshot)."),
            "dlq": channel(topics.dlq, "deadLetter", "Records that are not JSON objects, or not commands of the log, "
                           "with where they were and why."),
        },
        "operations": {
            "sendCommand": operation("send", "inbound", "A sender sends its commands."),
            "sendReplay": operation("send", "replay", "The operator replays a recorded day."),
            "gatewayReceivesInbound": operation("receive", "inbound", "The gateway reads every sender's topic.",
                                                topics.group("gateway")),
            "gatewayReceivesReplay": operation("receive", "replay", "The gateway reads the replay path.",
                                               topics.group("gateway")),
            "gatewaySendsCommands": operation("send", "commands", "The gateway writes the command log."),
            "matcherReceivesCommands": operation("receive", "commands", "The matcher applies the command log.",
                                                 topics.group("matcher")),
            "matcherSendsEvents": operation("send", "events", "The matcher publishes each batch's events."),
            "matcherSendsSnapshots": operation("send", "snapshots", "The matcher snapshots its engines."),
            "matcherSendsQuotes": operation("send", "marketdata", "The matcher publishes each batch's quotes."),
            "senderReceivesEvents": operation("receive", "events", "Senders read their answers."),
            "readerReceivesQuotes": operation("receive", "marketdata", "Senders and settlement services read the "
                                              "market data."),
            "projectorReceivesEvents": operation("receive", "events", "The projector settles the events.",
                                                 topics.group("projector")),
            "projectorSendsSettlements": operation("send", "settlements", "The projector publishes settlements."),
            "servicesSendDeadLetters": operation("send", "dlq", "The services dead-letter what they cannot read."),
        },
        "components": {
            "messages": {
                "command": message("command", commands, "A command as a sender writes it (strict: "
                                   "schemas/commands.schema.json).", None, "commandId"),
                "loggedCommand": message("loggedCommand", logged, "A command as the gateway logged it, or one of "
                                         "the gateway's own records.", markets, "commandId"),
                "event": message("event", events, "An engine event; `ref` is the id of the command it answers.",
                                 markets, "ref"),
                "quote": message("quote", quote, "One product's best five levels a side, its day (last, open, "
                                 "high, low, volumes), its bands and, for GEC, the cheapest public lot of each province "
                                 "and technology; `seq` is the last event that changed it.", markets, None),
                "settlement": message("settlement", settlements, "A settlement event; `origin` is the position of "
                                      "the engine event it settles.", markets, None),
                "snapshot": message("snapshot", {"type": "string", "format": "binary"},
                                    "A chunk: a header (magic, position, index, count) then the snapshot's bytes.",
                                    {"type": "string", "pattern": r"^\d+\.\d+$"}, None,
                                    "application/octet-stream"),
                "deadLetter": message("deadLetter", dead, "A record that could not be read, kept in part (base64), "
                                      "with its length, SHA-256, place and reason.", None, None),
            },
            "correlationIds": {
                "ref": {"description": "The id of the command an event answers (its `id`, `order_id` for orders); "
                                       "the events a command set off carry it too.",
                        "location": "$message.payload#/ref"},
                "commandId": {"description": "The command's id, which every event answering it carries as `ref`.",
                              "location": "$message.payload#/id"},
            },
            "securitySchemes": {"scram": {"type": "scramSha512", "description": "SASL/SCRAM-SHA-512 as the "
                                          "client's principal (deploy/principals.dev for development)."}},
            "schemas": _asyncapi_schema(components),
        },
    }


def _commands_schema(kind) -> dict:
    schema = msgspec.json.schema(kind, schema_hook=schema_hook)
    _with_terms(schema["$defs"])
    return schema


def generate() -> dict[str, str]:
    schemas = {
        "commands.schema.json": _identified("commands.schema.json", _commands_schema(AnyCommand)),
        "command-log.schema.json": _identified("command-log.schema.json", _commands_schema(LoggedCommand)),
        "events.schema.json": _identified("events.schema.json", _events_schema()),
        "dlq.schema.json": _identified("dlq.schema.json", msgspec.json.schema(DeadLetter, schema_hook=schema_hook)),
        "marketdata.schema.json": _identified("marketdata.schema.json", msgspec.json.schema(Quote, schema_hook=schema_hook)),
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
