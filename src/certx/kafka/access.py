"""Who may do what on the broker: the principals, the rights of each role, and setting them up (DESIGN stage 0).

Kafka authenticates every client (SASL/SCRAM) and its ACLs decide what it may read and write; certx never
trusts a field for that. The rights, by role:
- a sender (`broker`, `registry`, `bank`, `operator`) writes only its own inbound topic `certx.in.<name>`
  (transactionally if it likes, with transactional ids `<name>-…`), and reads `certx.events` (its answers) and
  `certx.marketdata` (the quotes); the operator also writes `certx.replay` (the replay path for recorded
  days) and reads the command log, the settlements, the dead letters and the snapshots (`certx status` reads
  their headers: a snapshot's position and age), and describes the services' consumer groups (their positions
  and lag, for `certx status` and `kafka-consumer-groups`); the registry and the bank read the settlements;
- `reader` (a settlement service, the market page `web`) reads the events, the settlements and the market data,
  and nothing else;
- `gateway` reads every inbound topic and the replay topic, and the events of the surrenders it relays, and is
  the only writer of `certx.commands` (transactional: its transactional ids and its consumer group);
- `matcher` reads `certx.commands` and is the only writer of `certx.events`, `certx.marketdata` and
  `certx.snapshots`; it reads `certx.events` too, where a restored market's events end (certx.kafka.matcher);
- `projector` reads `certx.events` and is the only writer of `certx.settlements`;
- the services write `certx.dlq`; `admin` is the broker's super user, for set-up only.
Anything not granted is denied (`allow.everyone.if.no.acl.found=false`).

    python -m certx.kafka.access [--principals deploy/principals.dev] [--prefix P] [--clients DIR]

creates the topics, the users and the ACLs for a deployment (a prefix gives a test a deployment of its own),
idempotently, as the admin principal of the file; `--clients` writes each principal's client properties.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

from certx.kafka.connection import Connection, load
from certx.kafka.topics import Topics, ensure_topics
from certx.mistakes import BadFile, Mistake

SENDERS = ("broker", "registry", "bank", "operator")
SERVICES = ("gateway", "matcher", "projector")
ROLES = SENDERS + ("reader", *SERVICES, "admin")
DEFAULT_FILE = Path(__file__).resolve().parents[3] / "deploy" / "principals.dev"


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    password: str


@dataclass(frozen=True)
class Right:
    """One ACL: allow `principal` to `operation` the resource (`literal` name, or every name with that prefix)."""

    resource: str          # topic, group, transactional_id
    name: str
    pattern: str           # literal, prefixed
    operation: str         # read, write, describe


class PrincipalsError(BadFile, ValueError):
    """A principals file that is not one; the message names the line."""


def read_principals(path: Path = DEFAULT_FILE) -> list[Principal]:
    """The principals file: one `name role password` per line; `#` starts a comment. No name may begin another's
    or a service's groups and transactional ids (`<name>-…`: `certx` would own the gateway's)."""
    out, lines = [], []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PrincipalsError(f"{path}: not a principals file (not UTF-8 text)") from None
    for n, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 3 or words[1] not in ROLES:
            raise PrincipalsError(f"{path}:{n}: expected `name role password` with a role in {', '.join(ROLES)}")
        out.append(Principal(*words))
        lines.append(n)
    for n, p in zip(lines, out):
        covered = _covered(p.name, [q.name for q in out if q is not p])
        if covered:
            raise PrincipalsError(f"{path}:{n}: {p.name!r} may use every group and transactional id that "
                                  f"begins `{p.name}-`, and so {covered[0]!r}'s: rename one")
    return out


def _covered(name: str, others: list[str]) -> list[str]:
    """Whose groups and transactional ids `name`'s own prefix (`<name>-`, `rights`) would cover: a service's
    (`certx-<service>`, `certx-<service>-…`) or another principal's own."""
    own = f"{name}-"
    return [f"certx-{s}" for s in SERVICES if f"certx-{s}-".startswith(own)] \
        + [other for other in others if f"{other}-".startswith(own)]


def senders(principals: list[Principal]) -> list[str]:
    return [p.name for p in principals if p.role in SENDERS]


def rights(p: Principal, t: Topics) -> list[Right]:
    def topic(name: str, *operations: str) -> list[Right]:
        return [Right("topic", name, "literal", op) for op in operations]

    def service(name: str, transactional: bool = False) -> list[Right]:
        own = [Right("group", t.group(name), "literal", "read")]
        return own + ([Right("transactional_id", t.transactional_id(name, ""), "prefixed", "write")]
                      if transactional else [])

    own_groups = [Right("group", f"{t.prefix}{p.name}-", "prefixed", "read")]   # a client's own consumers
    if p.role in SENDERS:
        # a sender may write its inbound topic transactionally too (its own transactional ids)
        granted = topic(t.inbound(p.name), "write") + topic(t.events, "read") + topic(t.marketdata, "read") \
            + own_groups \
            + [Right("transactional_id", f"{t.prefix}{p.name}-", "prefixed", "write")]
        if p.role == "operator":
            granted += topic(t.replay, "write") + topic(t.commands, "read") + topic(t.settlements, "read") \
                + topic(t.dlq, "read") + topic(t.snapshots, "read") \
                + [Right("group", t.group(name), "literal", "describe") for name in SERVICES]
        if p.role in ("registry", "bank"):
            granted += topic(t.settlements, "read")
        return granted
    match p.role:
        case "reader":
            return topic(t.events, "read") + topic(t.settlements, "read") + topic(t.marketdata, "read") + own_groups
        case "gateway":
            return ([Right("topic", t.inbound(""), "prefixed", "read")] + topic(t.replay, "read")
                    + topic(t.events, "read")       # a surrender's answers, to relay (certx.gateway.relay)
                    + topic(t.commands, "read", "write") + topic(t.dlq, "write") + service("gateway", True))
        case "matcher":
            return (topic(t.commands, "read") + topic(t.events, "read", "write") + topic(t.marketdata, "write")
                    + topic(t.snapshots, "read", "write")
                    + topic(t.dlq, "write") + service("matcher", True))
        case "projector":
            return topic(t.events, "read") + topic(t.settlements, "write") + topic(t.dlq, "write") \
                + service("projector")
    return []   # admin: a super user


def admin_connection(principals: list[Principal], bootstrap: Connection) -> Connection:
    admin = next(p for p in principals if p.role == "admin")
    return bootstrap.as_user(admin.name, admin.password)


def _bindings(principals: list[Principal], t: Topics) -> list:
    from confluent_kafka.admin import AclBinding, AclOperation, AclPermissionType, ResourcePatternType, ResourceType

    kinds = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP,
             "transactional_id": ResourceType.TRANSACTIONAL_ID}
    patterns = {"literal": ResourcePatternType.LITERAL, "prefixed": ResourcePatternType.PREFIXED}
    operations = {"read": AclOperation.READ, "write": AclOperation.WRITE, "describe": AclOperation.DESCRIBE}
    return [AclBinding(kinds[r.resource], r.name, patterns[r.pattern], f"User:{p.name}", "*",
                       operations[r.operation], AclPermissionType.ALLOW)
            for p in principals for r in rights(p, t)]


def grant(admin: Connection, principals: list[Principal], t: Topics) -> int:
    """Create (or update) every principal's SCRAM credentials and ACLs. Returns the number of ACLs."""
    from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                       UserScramCredentialUpsertion)

    client = AdminClient(admin.librdkafka())
    users = [UserScramCredentialUpsertion(p.name, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192),
                                          p.password.encode()) for p in principals if p.role != "admin"]
    for future in client.alter_user_scram_credentials(users, request_timeout=30).values():
        future.result()
    bindings = _bindings(principals, t)
    for future in client.create_acls(bindings, request_timeout=30).values():
        future.result()
    return len(bindings)


def revoke(admin: Connection, principals: list[Principal], t: Topics) -> None:
    """Delete the ACLs `grant` made for this deployment prefix (a test's, when it ends)."""
    from confluent_kafka.admin import AdminClient, AclBindingFilter

    client = AdminClient(admin.librdkafka())
    filters = [AclBindingFilter(b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation,
                                b.permission_type) for b in _bindings(principals, t)]
    for future in client.delete_acls(filters, request_timeout=30).values():
        future.result()


def set_up(bootstrap: Connection, principals: list[Principal], t: Topics) -> int:
    """Topics, users and ACLs for one deployment. Idempotent."""
    admin = admin_connection(principals, bootstrap)
    asyncio.run(ensure_topics(admin, t, senders(principals)))
    return grant(admin, principals, t)


def write_clients(bootstrap: Connection, principals: list[Principal], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for p in principals:
        path = folder / f"{p.name}.properties"
        path.write_text(bootstrap.as_user(p.name, p.password).properties())
        path.chmod(0o600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m certx.kafka.access", description=__doc__.split("\n\n")[0])
    parser.add_argument("--principals", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--prefix", default="", help="topic, group and transactional id prefix of the deployment")
    parser.add_argument("--bootstrap", help="default: $CERTX_KAFKA or 127.0.0.1:9092")
    parser.add_argument("--clients", type=Path, help="write <name>.properties for every principal here")
    args = parser.parse_args(argv)
    try:
        principals = read_principals(args.principals)
    except (Mistake, OSError) as exc:        # `deploy/kafka.sh access`: one line, as `certx topics create` says it
        print(f"access: {exc}", file=sys.stderr)
        return getattr(exc, "code", BadFile.code)
    bootstrap = load(args.bootstrap)        # the address and TLS settings; the user is the file's admin
    count = set_up(bootstrap, principals, Topics(args.prefix))
    if args.clients:
        write_clients(bootstrap, principals, args.clients)
    print(f"access: {len(principals)} principals, {count} ACLs, topics ready on {bootstrap.bootstrap}"
          + (f" (prefix {args.prefix!r})" if args.prefix else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
