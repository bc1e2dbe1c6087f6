"""Issue 13, aggregators: the registry files an owner's mandate to an agent for one project (A1: only the
registry); a snapshot keeps the mandates."""
from __future__ import annotations

import datetime as dt

from support import Desk, engine_state, rejected
from certx.engine import snapshot
from certx.wire import events as e


def desk() -> Desk:
    d = Desk(date="2025-06-16")
    for account, broker in (("AGENT", "B9"), ("OWNER", "B2")):
        d.open_account(account, broker)
    return d


def grant(d: Desk, actor: str = "registry", **changes) -> list[e.Event]:
    fields = dict(agent="AGENT", owner="OWNER", project="PV-1", filing_code="F-1", valid_from="2025-01-01",
                  valid_to="2025-12-31")
    return d.send("mandate.grant", actor=actor, **{**fields, **changes})


def test_a1_the_registry_files_a_mandate_and_the_engine_keeps_it():
    d = desk()
    [granted] = grant(d)
    assert isinstance(granted, e.MandateGranted) and (granted.agent, granted.owner) == ("AGENT", "OWNER")
    mandates = d.engines["GEC"].mandates
    assert mandates.allows("AGENT", "OWNER", "PV-1", dt.date(2025, 6, 16))
    assert not mandates.allows("AGENT", "OWNER", "PV-1", dt.date(2026, 1, 1))      # after its validity
    assert not mandates.allows("AGENT", "OTHER", "PV-1", dt.date(2025, 6, 16))     # another owner's
    assert not mandates.allows("AGENT", "OWNER", "PV-2", dt.date(2025, 6, 16))     # another project


def test_a1_an_agent_cannot_grant_itself_a_mandate():
    d = desk()
    before = engine_state(d.engines["GEC"])
    assert rejected(grant(d, actor="B9")) == "not_authorised"
    assert engine_state(d.engines["GEC"]) == before


def test_a_mandate_between_unknown_accounts_or_with_its_days_reversed_is_refused():
    d = desk()
    assert rejected(grant(d, owner="NOBODY")) == "unknown_account"
    assert rejected(grant(d, agent="NOBODY")) == "unknown_account"
    assert rejected(grant(d, valid_from="2025-12-31", valid_to="2025-01-01")) == "malformed"
    assert not d.engines["GEC"].mandates.by_pair


def test_a_snapshot_keeps_the_mandates_and_an_engine_without_any_encodes_as_before():
    d = desk()
    plain = snapshot.state(d.engines["GEC"])
    grant(d)
    engine = d.engines["GEC"]
    restored, _ = snapshot.load(snapshot.dump(engine, 7))
    assert snapshot.state(restored) == snapshot.state(engine)
    assert restored.mandates.allows("AGENT", "OWNER", "PV-1", dt.date(2025, 6, 16))
    # the field is new and trailing: left out while empty, so older states keep their bytes
    assert b"PV-1" not in plain and len(snapshot.state(engine)) > len(plain)
