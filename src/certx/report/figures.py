"""The figures of a replay, folded from its events: events in, figures out, no I/O.

- `closes`: for each product that has a price band (CEA; CCER when a deployment enables one), each day's close,
  high and low (D3–D5) against the listing band (B1) and the block band (B2) of that day: built from the previous
  close, or on a product's first day from its reference price (B4), with the ratio in force that day (B3), by
  the engine's own rule (`certx.engine.band.limits`).
- `volumes`: for each market and day, the volume of each trading mode, from the day summaries (D5).
- `tide`: CEA's volume through each calendar year, cumulative and by month (compliance deadlines fall at the
  year's end, so the volume comes in a tide before them: December 2021 held 76% of 2021's).
- `rejections`: the refused commands, by reason and market.
- `matches`: each 24/7 match (issue 13): its scores at hourly, monthly and annual resolution, and its load and
  matched energy day by day, from the buyer's evidence (`certx.hours.evidence`, the curves and the allocations in
  the events).
- `measures` and `official`: the Kafka replay's measurements and the comparison with the official statistics,
  when given (`certx.report.measures`, `certx.report.official`).

`Figures` is what `certx report` writes as JSON beside the page: money in yuan as the wire writes it ("44.22"),
quantities in units (U2).
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Iterable

import msgspec

from certx.engine.band import limits, ratio_bps
from certx.hours.clock import hour_at
from certx.hours.evidence import evidence
from certx.hours.matches import Matches
from certx.money import Fen
from certx.report.measures import Measured, Measures, measured
from certx.report.official import Comparison, compare
from certx.rules import DEFAULT, Rules
from certx.wire import events as e
from certx.wire.routing import MARKETS, market_of_product

FORMAT = "certx.report/1"
UNIT = {"CEA": "t", "CCER": "t", "GEC": "certificates"}     # U2: what one unit of quantity is in each market


class CloseDay(msgspec.Struct, kw_only=True):
    """One product's day: its close against the bands the day traded in. A band is [lower, upper] limit, both
    inside; None where the product has no band, or no reference price yet (B4)."""

    date: dt.date
    previous_close: Fen | None
    close: Fen | None
    high: Fen | None
    low: Fen | None
    listing_band: tuple[Fen, Fen] | None
    block_band: tuple[Fen, Fen] | None
    listing_bps: int | None
    block_bps: int | None


class ProductCloses(msgspec.Struct):
    product: str
    market: str
    days: list[CloseDay]


class VolumeDay(msgspec.Struct):
    date: dt.date
    listing: int
    block: int
    auction: int


class MarketVolumes(msgspec.Struct):
    market: str
    unit: str
    days: list[VolumeDay]


class TideDay(msgspec.Struct):
    date: dt.date
    volume: int             # cumulative since the year's first replayed day
    share: float            # of the year's replayed volume, percent


class TideMonth(msgspec.Struct):
    month: str              # "2021-12"
    volume: int
    share: float            # percent


class TideYear(msgspec.Struct):
    year: int
    volume: int
    months: list[TideMonth]
    days: list[TideDay]


class Rejections(msgspec.Struct):
    reason: str
    market: str
    count: int


class MatchDay(msgspec.Struct):
    date: dt.date                   # China time
    load: int                       # kWh
    matched: int                    # kWh, hour by hour


class Match(msgspec.Struct, kw_only=True):
    allocation_id: str
    account: str
    beneficiary: str
    method: str
    load: int                       # kWh over the period
    matched: int                    # kWh, hour by hour
    scores: tuple[float, float, float]  # hourly, monthly, annual
    certificates: int
    cost: Fen
    inputs_sha256: str
    days: list[MatchDay]


class Overview(msgspec.Struct, kw_only=True):
    source: str                     # the events file, as the operator named it
    events: int
    trades: dict[str, int]          # trading mode -> trades
    first_date: dt.date | None
    last_date: dt.date | None
    products: list[str]


class Figures(msgspec.Struct, kw_only=True):
    format: str = FORMAT
    overview: Overview
    closes: list[ProductCloses]
    volumes: list[MarketVolumes]
    tide: list[TideYear]
    rejections: list[Rejections]
    measures: Measured | None = None        # None: not measured
    official: Comparison | None = None      # None: no official statistics given
    matches: list[Match] = []               # 24/7 matches, in the order they were made


class _Fold:
    """The state the figures need, event by event: each product's previous close and band ratios, and the day
    summaries."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.events = 0
        self.trades: Counter[str] = Counter()
        self.rejections: Counter[tuple[str, str]] = Counter()
        self.summaries: list[e.DaySummary] = []
        self.closes: dict[str, list[CloseDay]] = {}
        self.reference: dict[str, int] = {}                  # product -> previous close (or B4's reference)
        self.bps: dict[str, dict[str, int | None]] = {}      # product -> mode -> band ratio in force
        self.pending: dict[str, dict[str, int]] = {}         # product -> mode -> ratio from the next day (B3)
        self.matches = Matches()                             # curves and 24/7 allocations (issue 13)

    def ratios(self, product: str, market: str) -> dict[str, int | None]:
        bps = self.bps.get(product)
        if bps is None:
            rules = self.rules.market(market)
            bps = self.bps[product] = {"listing": rules.listing_band_bps, "block": rules.block_band_bps}
        return bps

    def add(self, event: e.Event) -> None:
        self.events += 1
        if isinstance(event, (e.CurveAttached, e.Allocated)):
            self.matches.add(event)
        if isinstance(event, e.Trade):
            self.trades[event.mode] += 1
        elif isinstance(event, (e.OrderRejected, e.CommandRejected)):
            self.rejections[event.reason, event.market] += 1
        elif isinstance(event, e.DaySummary):
            self.day(event)
        elif isinstance(event, e.ProductListed):
            if event.reference_price is not None:
                self.reference[event.product] = event.reference_price
        elif isinstance(event, e.BandScheduled):
            self.pending.setdefault(event.product, {})[event.mode] = ratio_bps(event.ratio)
        elif isinstance(event, e.SessionOpened):
            # B3: a change scheduled before this open is in force from today, as the engine does at the open.
            for product in [p for p in self.pending if market_of_product(p) == event.market]:
                self.ratios(product, event.market).update(self.pending.pop(product))

    def day(self, s: e.DaySummary) -> None:
        self.summaries.append(s)
        previous = self.reference.get(s.product)
        bps = self.ratios(s.product, s.market)

        def band(mode: str) -> tuple[Fen, Fen] | None:
            ratio = bps[mode]
            if ratio is None or previous is None:
                return None
            lower, upper = limits(previous, ratio)
            return Fen(lower), Fen(upper)

        self.closes.setdefault(s.product, []).append(CloseDay(
            date=s.date, previous_close=None if previous is None else Fen(previous), close=s.close,
            high=s.high, low=s.low, listing_band=band("listing"), block_band=band("block"),
            listing_bps=bps["listing"], block_bps=bps["block"]))
        if s.close is not None:
            self.reference[s.product] = s.close        # D5: the next day's bands are built from this close


def build(events: Iterable[e.Event], *, rules: Rules = DEFAULT, source: str = "",
          measures: Measures | None = None, official: Iterable[e.DaySummary] | None = None) -> Figures:
    """The report's figures from a replay's events (in the order the replay published them), with the Kafka
    replay's measurements and the official day summaries when given."""
    fold = _Fold(rules)
    for event in events:
        fold.add(event)
    dates = sorted({s.date for s in fold.summaries})
    volumes = _volumes(fold.summaries)
    cea = next((v.days for v in volumes if v.market == "CEA"), [])
    return Figures(
        overview=Overview(source=source, events=fold.events, trades=dict(sorted(fold.trades.items())),
                          first_date=dates[0] if dates else None, last_date=dates[-1] if dates else None,
                          products=sorted({s.product for s in fold.summaries})),
        closes=[ProductCloses(product, market_of_product(product) or "", days)
                for product, days in sorted(fold.closes.items())
                if any(d.listing_bps is not None or d.block_bps is not None for d in days)],
        volumes=volumes,
        tide=tide(cea),
        rejections=[Rejections(reason, market, n) for (reason, market), n
                    in sorted(fold.rejections.items(), key=lambda item: (-item[1], item[0]))],
        measures=None if measures is None else measured(measures),
        official=None if official is None else compare(official, fold.summaries),
        matches=[_match(fold.matches, a) for a in fold.matches.allocations],
    )


def _match(matches: Matches, allocation: e.Allocated) -> Match:
    start = hour_at(allocation.start)
    report = evidence(matches.inputs(allocation, start, start + len(allocation.loads)))
    days: dict[str, list[int]] = {}
    for row in report.hours:
        day = days.setdefault(row.hour[:10], [0, 0])
        day[0] += row.load
        day[1] += row.matched
    s = report.scores
    return Match(allocation_id=allocation.allocation_id, account=allocation.account,
                 beneficiary=report.beneficiary, method=allocation.method, load=report.load,
                 matched=s.matched_hourly, scores=(s.hourly, s.monthly, s.annual), certificates=report.certificates,
                 cost=Fen(report.cost), inputs_sha256=report.inputs_sha256,
                 days=[MatchDay(dt.date.fromisoformat(d), load, matched) for d, (load, matched) in days.items()])


def _volumes(summaries: list[e.DaySummary]) -> list[MarketVolumes]:
    """D5: each market's volume per day and mode, summed over its products."""
    days: dict[str, dict[dt.date, VolumeDay]] = {}
    for s in summaries:
        market = market_of_product(s.product) or s.market
        day = days.setdefault(market, {}).setdefault(s.date, VolumeDay(s.date, 0, 0, 0))
        day.listing += s.listing_volume
        day.block += s.block_volume
        day.auction += s.auction_volume
    return [MarketVolumes(m, UNIT[m], sorted(days[m].values(), key=lambda d: d.date)) for m in MARKETS if m in days]


def tide(days: list[VolumeDay]) -> list[TideYear]:
    """The volume through each calendar year: cumulative by day and by month, each as a share of the year's
    replayed volume (a year the replay covers only in part is a share of that part)."""
    years: dict[int, list[VolumeDay]] = {}
    for day in sorted(days, key=lambda d: d.date):
        years.setdefault(day.date.year, []).append(day)
    out = []
    for year, ds in years.items():
        total = sum(d.listing + d.block + d.auction for d in ds)
        months: Counter[str] = Counter()
        cumulative, running = [], 0
        for d in ds:
            volume = d.listing + d.block + d.auction
            running += volume
            months[d.date.isoformat()[:7]] += volume
            cumulative.append(TideDay(d.date, running, _share(running, total)))
        out.append(TideYear(year, total, [TideMonth(m, v, _share(v, total)) for m, v in sorted(months.items())],
                            cumulative))
    return out


def _share(part: int, whole: int) -> float:
    return round(100 * part / whole, 2) if whole else 0.0
