"""The buyer's evidence of a 24/7 match (issue 13, item 4): what `certx match-report` writes, computed here from
the inputs alone, so that a verifier can compute it again.

In: the hourly loads and the absolute hour they start at; the legs of the settled allocation (for each: project,
province, technology, production month, serial ranges, price, certificates, and the kWh its certificates produced
in each hour, from the hourly overlay); the cancellation ids; the beneficiary. An absolute hour is the overlay's
(`certx.hours.clock`): whole hours since 1970-01-01 00:00 UTC, shown in China time (UTC+8, no summer time).

Out, per hour of the period: the load, the kWh supplied, matched = min(load, supplied) and unmatched = load -
matched, and the sources: each leg with energy in that hour, its kWh there and the serials whose energy lies
(wholly or partly) in it. Certificates follow production order (issue 13, item 1): a leg's k-th certificate,
counted along its serial ranges, covers kWh [1000·k, 1000·k + 1000) of its hours in order, so a certificate that
spans two hours is a source of both.

The scores, with S_h the kWh supplied in hour h (energy outside the period counts nowhere) and the same
denominator, the period's load Σ_h L_h:
- hourly  = Σ_h min(L_h, S_h) / Σ_h L_h;
- monthly = Σ_m min(Σ_{h in m} L_h, Σ_{h in m} S_h) / Σ_h L_h, over the calendar months (China time) the period
  touches;
- annual  = Σ_y min(Σ_{h in y} L_h, Σ_{h in y} S_h) / Σ_h L_h, over its calendar years likewise.
Since min(Σa, Σb) ≥ Σ min(a, b), hourly ≤ monthly ≤ annual. The matched kWh behind each are given as integers.

The hash: SHA-256 of the canonical encoding of the inputs, `canonical(inputs)` encoded as JSON by msgspec (fields
in their declared order, no spaces): legs sorted by all their fields, cancellation ids sorted, so that neither
order changes it. The JSON report carries the inputs in that form: a verifier re-encodes them, hashes and
recomputes (`verify`).
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Iterable

import msgspec

from certx.hours.allocation import KWH, MAX_CLASSES, MAX_MIX_ENTRIES, AllocationError, check_loads, mix_kwh
from certx.money import Price
from certx.wire.commands import MAX_QUANTITY, UNPRINTABLE

VERSION = 1
CST = dt.timezone(dt.timedelta(hours=8))
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
# The last hour the report can write (ISO 8601 has no year 10000): a period past it raised OverflowError.
LAST_HOUR = (dt.datetime(9999, 12, 31, 23, tzinfo=CST) - EPOCH) // dt.timedelta(hours=1)
MAX_TEXT = 128                                   # characters in a name, as the wire's Name allows
MAX_CANCELLATIONS = MAX_CLASSES
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])\Z")
COLUMNS = ("hour", "load_kwh", "supplied_kwh", "matched_kwh", "unmatched_kwh", "sources")


class EvidenceError(AllocationError):
    """Inputs the evidence refuses; the message says what."""


class Leg(msgspec.Struct, frozen=True):
    """One leg of the settled allocation: certificates of one project and production month."""

    project: str
    province: str
    technology: str
    production_month: str                        # "2026-03"
    serials: tuple[tuple[int, int], ...]         # [first, last] ranges, increasing and apart
    price: int                                   # fen a certificate
    certificates: int
    hours: tuple[tuple[int, int], ...]           # (absolute hour, kWh) of all its certificates, increasing hours


class Inputs(msgspec.Struct, frozen=True):
    start: int                                   # the absolute hour of loads[0]
    loads: tuple[int, ...]                       # kWh
    legs: tuple[Leg, ...]
    cancellations: tuple[str, ...]
    beneficiary: str


class Source(msgspec.Struct, frozen=True):
    project: str
    province: str
    technology: str
    kwh: int
    serials: tuple[tuple[int, int], ...]         # the certificates whose energy lies (partly) in this hour


class Hour(msgspec.Struct, frozen=True):
    hour: str                                    # ISO 8601, China time: "2026-01-01T00:00+08:00"
    load: int
    supplied: int
    matched: int
    unmatched: int
    sources: tuple[Source, ...]


class Scores(msgspec.Struct, frozen=True):
    hourly: float
    monthly: float
    annual: float
    matched_hourly: int                          # kWh: the numerators, over `Evidence.load`
    matched_monthly: int
    matched_annual: int


class Evidence(msgspec.Struct, frozen=True):
    version: int
    inputs_sha256: str
    beneficiary: str
    cancellations: tuple[str, ...]
    first_hour: str
    last_hour: str
    load: int                                    # kWh over the period
    supplied: int                                # kWh the legs produced within the period
    supplied_outside: int                        # kWh they produced outside it, which match nothing
    scores: Scores
    certificates: int
    cost: int                                    # fen
    hours: tuple[Hour, ...]
    inputs: Inputs                               # canonical: what the hash covers


def canonical(inputs: Inputs) -> Inputs:
    """The inputs in the one order the hash sees: legs sorted by every field, cancellation ids sorted."""
    return msgspec.structs.replace(inputs, legs=tuple(sorted(inputs.legs, key=msgspec.structs.astuple)),
                                   cancellations=tuple(sorted(inputs.cancellations)))


def digest(inputs: Inputs) -> str:
    """SHA-256 (hex) of the canonical inputs' JSON."""
    return hashlib.sha256(msgspec.json.encode(canonical(inputs))).hexdigest()


def iso(hour: int) -> str:
    """An absolute hour in ISO 8601, China time."""
    return (EPOCH + dt.timedelta(hours=hour)).astimezone(CST).isoformat(timespec="minutes")


def evidence(inputs: Inputs) -> Evidence:
    """The evidence of `inputs`, refusing what is not evidence (`EvidenceError`)."""
    _check(inputs)
    inputs = canonical(inputs)
    start, loads = inputs.start, inputs.loads
    supplied = [0] * len(loads)
    sources: list[list[Source]] = [[] for _ in loads]
    outside = 0
    for leg in inputs.legs:
        for hour, kwh, serials in _hours_of(leg):
            h = hour - start
            if 0 <= h < len(loads):
                supplied[h] += kwh
                sources[h].append(Source(leg.project, leg.province, leg.technology, kwh, serials))
            else:
                outside += kwh
    matched = [min(load, s) for load, s in zip(loads, supplied)]
    months: dict[tuple[int, int], list[int]] = {}
    years: dict[int, list[int]] = {}
    rows = []
    for h, (load, s, m) in enumerate(zip(loads, supplied, matched)):
        when = (EPOCH + dt.timedelta(hours=start + h)).astimezone(CST)
        for totals in (months.setdefault((when.year, when.month), [0, 0]), years.setdefault(when.year, [0, 0])):
            totals[0] += load
            totals[1] += s
        rows.append(Hour(when.isoformat(timespec="minutes"), load, s, m, load - m, tuple(sources[h])))
    total = sum(loads)
    by_hour = sum(matched)
    by_month = sum(min(a, b) for a, b in months.values())
    by_year = sum(min(a, b) for a, b in years.values())
    return Evidence(
        version=VERSION, inputs_sha256=digest(inputs), beneficiary=inputs.beneficiary,
        cancellations=inputs.cancellations, first_hour=iso(start), last_hour=iso(start + len(loads) - 1),
        load=total, supplied=sum(supplied), supplied_outside=outside,
        scores=Scores(by_hour / total, by_month / total, by_year / total, by_hour, by_month, by_year),
        certificates=sum(leg.certificates for leg in inputs.legs),
        cost=sum(leg.price * leg.certificates for leg in inputs.legs), hours=tuple(rows), inputs=inputs)


def _hours_of(leg: Leg) -> Iterable[tuple[int, int, tuple[tuple[int, int], ...]]]:
    """Each hour of a leg with its kWh and the serials whose energy lies in it: the hour's kWh are the stretch
    [c, c + kWh) of the leg's production, so its certificates are c // 1000 to (c + kWh - 1) // 1000, counted
    along the serial ranges. The hours and the ranges both go forward, so one pass reads each once: reading the
    ranges from the first for every hour cost hours × ranges (a hostile report of 200,000 of each kept a
    verifier for hours)."""
    ranges = leg.serials
    at, skipped = 0, 0               # the range that holds the hour's first certificate, and the certificates before it
    produced = 0
    for hour, kwh in leg.hours:
        first, last = produced // KWH, (produced + kwh - 1) // KWH
        produced += kwh
        while skipped + ranges[at][1] - ranges[at][0] < first:         # past that range's last certificate
            skipped += ranges[at][1] - ranges[at][0] + 1
            at += 1
        out, i, before = [], at, skipped
        while i < len(ranges) and before <= last:
            a, b = ranges[i]
            out.append((a + max(first - before, 0), a + min(last - before, b - a)))
            before += b - a + 1
            i += 1
        yield hour, kwh, tuple(out)


def _text(value: object, what: str) -> None:
    if type(value) is not str or not 1 <= len(value) <= MAX_TEXT or UNPRINTABLE.search(value):
        raise EvidenceError(f"{what} must be 1 to {MAX_TEXT} printable characters")


def _check(inputs: Inputs) -> None:
    if type(inputs) is not Inputs:
        raise EvidenceError("the inputs are not an Inputs")
    if type(inputs.loads) is not tuple:
        raise EvidenceError("the loads must be a tuple of kWh")
    try:
        check_loads(inputs.loads)
    except AllocationError as refusal:
        raise EvidenceError(str(refusal)) from None
    if type(inputs.start) is not int or not 0 <= inputs.start <= LAST_HOUR - len(inputs.loads) + 1:
        raise EvidenceError(f"the start must be a whole hour since 1970, the period ending by {iso(LAST_HOUR)}")
    _text(inputs.beneficiary, "the beneficiary")
    if type(inputs.cancellations) is not tuple or len(inputs.cancellations) > MAX_CANCELLATIONS:
        raise EvidenceError(f"the cancellation ids must be a tuple of at most {MAX_CANCELLATIONS}")
    for c in inputs.cancellations:
        _text(c, "a cancellation id")
    if len(set(inputs.cancellations)) < len(inputs.cancellations):
        raise EvidenceError("the cancellation ids must be distinct")
    if type(inputs.legs) is not tuple or not 1 <= len(inputs.legs) <= MAX_CLASSES:
        raise EvidenceError(f"the allocation must have 1 to {MAX_CLASSES} legs, got {len(inputs.legs)}")
    entries = 0
    for n, leg in enumerate(inputs.legs):
        if type(leg) is not Leg:
            raise EvidenceError(f"leg {n} is not a Leg")
        for what in ("project", "province", "technology"):
            _text(getattr(leg, what), f"leg {n}: the {what}")
        if type(leg.production_month) is not str or not _MONTH.match(leg.production_month):
            raise EvidenceError(f"leg {n}: the production month must read YYYY-MM")
        if type(leg.price) is not int or not 1 <= leg.price <= Price.MAX:
            raise EvidenceError(f"leg {n}: the price must be 1..{Price.MAX} fen")
        if type(leg.certificates) is not int or not 1 <= leg.certificates <= MAX_QUANTITY:
            raise EvidenceError(f"leg {n}: certificates must be 1..{MAX_QUANTITY}")
        if type(leg.serials) is not tuple or type(leg.hours) is not tuple or not all(
                type(pair) is tuple and len(pair) == 2 for pair in (*leg.serials, *leg.hours)):
            raise EvidenceError(f"leg {n}: serials and hours must be tuples of pairs")
        count, previous = 0, 0
        for pair in leg.serials:
            first, last = pair
            if type(first) is not int or type(last) is not int or not previous < first <= last:
                raise EvidenceError(f"leg {n}: serial ranges must be positive, increasing and apart")
            count += last - first + 1
            previous = last + 1
        if count != leg.certificates:
            raise EvidenceError(f"leg {n}: its serial ranges hold {count} certificates, not {leg.certificates}")
        entries += len(leg.hours)
        if entries > MAX_MIX_ENTRIES:
            raise EvidenceError(f"the legs have more than {MAX_MIX_ENTRIES} (hour, kWh) pairs in all")
        total = mix_kwh(leg.hours, 0, f"leg {n}", EvidenceError)
        if total != leg.certificates * KWH:
            raise EvidenceError(f"leg {n}: its hours hold {total} kWh, not {leg.certificates} × {KWH}")


# ---- writers -----------------------------------------------------------------------------------------------------

def to_json(report: Evidence) -> bytes:
    return msgspec.json.encode(report)


def from_json(data: bytes) -> Evidence:
    return msgspec.json.decode(data, type=Evidence)


def verify(data: bytes) -> bool:
    """Whether a JSON report is what its own inputs give: the hash and every figure computed again."""
    try:
        report = from_json(data)
        return digest(report.inputs) == report.inputs_sha256 and evidence(report.inputs) == report
    except (msgspec.ValidationError, msgspec.DecodeError, EvidenceError):
        return False


def to_csv(report: Evidence) -> str:
    """One row per hour. The sources cell is JSON, [[project, province, technology, kWh, [[first, last], ...]],
    ...], which no name can break and no spreadsheet reads as a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in report.hours:
        cell = msgspec.json.encode([msgspec.structs.astuple(s) for s in row.sources]).decode()
        writer.writerow((row.hour, row.load, row.supplied, row.matched, row.unmatched, cell))
    return out.getvalue()


def from_csv(text: str) -> list[Hour]:
    """The hours back from `to_csv`'s text."""
    rows = csv.reader(io.StringIO(text))
    if tuple(next(rows, ())) != COLUMNS:
        raise EvidenceError(f"the CSV's header must be {','.join(COLUMNS)}")
    return [Hour(hour, int(load), int(supplied), int(matched), int(unmatched),
                 tuple(Source(*s) for s in msgspec.json.decode(cell, type=list[_SourceRow])))
            for hour, load, supplied, matched, unmatched, cell in rows]


_SourceRow = tuple[str, str, str, int, tuple[tuple[int, int], ...]]
