"""What the registry has issued: GEC batches (serial ranges with their attributes) and, per project, the
periods issued as GEC or as CCER, so that one period never gets both (DOMAIN G3).

The registry's commands reach both the CCER and the GEC partitions (see `certx.wire.routing`), and both
engines keep this same record, so each can check G3 without asking the other.
"""
from __future__ import annotations

from bisect import bisect_right, insort
from operator import attrgetter

from certx.registry.serials import RangeSet


_FIRST = attrgetter("first")


def months(year: int, month: int) -> int:
    """Months since year 0 to `month` (1-12) of `year`, so ages are differences."""
    return year * 12 + month - 1


def month_index(month: str) -> int:
    """'2025-06' -> months(2025, 6)."""
    return months(int(month[:4]), int(month[5:7]))


class Batch:
    """One `issue.gec`: a contiguous serial range from one project and one production month."""

    __slots__ = ("project", "province", "technology", "production_month", "month", "subsidised",
                 "first", "last", "valid_through", "expired")

    def __init__(self, project: str, province: str, technology: str, production_month: str,
                 subsidised: bool, first: int, last: int, valid_through: int) -> None:
        self.project = project
        self.province = province
        self.technology = technology
        self.production_month = production_month
        self.month = month_index(production_month)
        self.subsidised = subsidised
        self.first = first
        self.last = last
        self.valid_through = valid_through   # last month index in which it may trade (G2)
        self.expired = False


class Issuance:
    __slots__ = ("_firsts", "_batches", "_projects", "issued", "gec_years", "ccer_years")

    def __init__(self) -> None:
        self._firsts: list[int] = []
        self._batches: list[Batch] = []
        self._projects: dict[str, list[Batch]] = {}     # project -> its batches, by first serial
        self.issued = RangeSet()
        self.gec_years: dict[str, set[int]] = {}
        self.ccer_years: dict[str, set[int]] = {}

    def gec_conflict(self, project: str, production_month: str, first: int, last: int) -> bool:
        """G3, and no serial issued twice."""
        year = int(production_month[:4])
        return year in self.ccer_years.get(project, ()) or self.issued.overlaps(first, last)

    def ccer_conflict(self, project: str, vintage: int) -> bool:
        return vintage in self.gec_years.get(project, ())

    def record_gec(self, batch: Batch) -> None:
        i = bisect_right(self._firsts, batch.first)
        self._firsts.insert(i, batch.first)
        self._batches.insert(i, batch)
        self.issued.add(batch.first, batch.last)
        self.gec_years.setdefault(batch.project, set()).add(batch.month // 12)
        of_project = self._projects.setdefault(batch.project, [])
        insort(of_project, batch, key=_FIRST)

    def record_ccer(self, project: str, vintage: int) -> None:
        self.ccer_years.setdefault(project, set()).add(vintage)

    def batch_of(self, first: int, last: int) -> Batch | None:
        """The batch holding all of [first, last], or None if the range is not inside one batch."""
        i = bisect_right(self._firsts, first) - 1
        if i < 0:
            return None
        batch = self._batches[i]
        return batch if batch.last >= last else None

    def batches(self) -> list[Batch]:
        return self._batches

    def of_project(self, project: str) -> list[Batch]:
        """A project's batches, by first serial (issue 13: a month's certificates in production order)."""
        return self._projects.get(project, [])
