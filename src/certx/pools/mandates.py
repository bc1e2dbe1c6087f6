"""Mandates: which projects an agent may sell for, on whose behalf, and until when.

The 2025 Opinions let an agent trade the GECs of distributed-PV projects. A mandate is filed with the registry
(its filing code), names the project, its owner (the account its certificates are issued to) and the agent,
and runs over whole days. Only the registry grants one: an agent cannot give itself an owner's certificates.
"""
from __future__ import annotations

import datetime as dt


class Mandate:
    __slots__ = ("agent", "owner", "project", "filing_code", "valid_from", "valid_to")

    def __init__(self, agent: str, owner: str, project: str, filing_code: str, valid_from: dt.date,
                 valid_to: dt.date) -> None:
        self.agent = agent
        self.owner = owner
        self.project = project
        self.filing_code = filing_code
        self.valid_from = valid_from
        self.valid_to = valid_to


class Mandates:
    """The mandates in force or not, by agent and project: one mandate per pair, a later grant replacing it. The
    owner a mandate names is checked where it matters, at a pooled lot's listing: the share's serials must be that
    owner's, held free (certx.engine.pools)."""

    __slots__ = ("by_pair",)

    def __init__(self) -> None:
        self.by_pair: dict[tuple[str, str], Mandate] = {}

    def grant(self, mandate: Mandate) -> None:
        self.by_pair[mandate.agent, mandate.project] = mandate

    def of(self, agent: str, project: str) -> Mandate | None:
        return self.by_pair.get((agent, project))

    def allows(self, agent: str, owner: str, project: str, today: dt.date) -> bool:
        """Whether `agent` may sell `owner`'s certificates of `project` today."""
        m = self.by_pair.get((agent, project))
        return m is not None and m.owner == owner and m.valid_from <= today <= m.valid_to
