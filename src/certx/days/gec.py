"""GEC days at the scale DOMAIN gives under "Real activity", times `scale` (`--gec-scale`).

Volume: 446 million certificates traded in 2024 over its trading days, and about 2.8 million a trading day in
2025, which later years keep; DOMAIN gives no figure before 2024, so earlier years take 2024's rate. A day trades
round(rate x scale) certificates, at 2-6 yuan (DOMAIN: 1-8 yuan; the ends are kept for the background).

Who: distributed-PV projects, many and small (DOMAIN: 64,200 of them were issued 23 million certificates, ~358
each), sold through agents (`pv-NN`, the 2025 Opinions' agents for distributed PV), make most lots; utility
wind, solar, offshore wind, hydro and biomass projects (`re-NN`) the big ones. 59,000 buyers in 2024: round(59,000
x scale) buyer accounts (`corp-NNNNN`), at least ten.

Issuance (G3, G2): on the first trading day of each month the registry issues the month's batches, one per
project and production month (last month's output for distributed PV; up to a year late for utility projects,
so that filters on age have something to refuse); each trading batch is sold as one lot on one day of the month.
Serial ranges only (DESIGN 6): a batch is one `issue.gec` of [first, last]. Unsold batches (the background: most
issued certificates never trade, DOMAIN: 4.73 billion issued, 446 million traded) are quoted at 6.01-8 yuan and
eventually expire (G2).

Trades (M4, G4, S2): each lot is sold in one *cluster*, back to back in the GEC strand, while the book holds no
other lot a bid could reach: background lots are dearer than any bid that trades, background bids cheaper than
any lot that trades. So every fill is certain:
- a filtered bid takes a lot just listed, at the lot's price (the resting side);
- a filtered bid rests, then the lot comes and fills it at the bid's price;
- a buyer lifts the lot, whole or in two parts (never more than the lot, S2);
- a bid sweeps two or three lots just listed, cheapest first;
- a regional exclusion: of two lots just listed, the bid excludes the cheaper one's province
  (`exclude_provinces`) and takes the other; the next buyer takes the cheaper one.
Every filter is drawn to accept its lots (and refuse the excluded one) and checked with the engine's own rule
(certx.books.gec.Eligibility), not a copy of it; the tests check the trades against the filters independently.
"""
from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

from certx.books.gec import Eligibility
from certx.days.background import Background
from certx.days.balances import Budget, Fill
from certx.days.listing import Item, Tickets, mingle, schedule, windows
from certx.days.script import Script
from certx.registry.issuance import Batch, month_index
from certx.rules import DEFAULT
from certx.wire.commands import GecFilter

TRADED_2024 = 446_000_000
DAILY_2025 = 2_800_000
BUYERS_2024 = 59_000
TRADE_PRICES = (200, 600)          # fen: the lots and bids that trade
LOT_PRICES = (601, 800)            # background lots: dearer than any bid that trades
BID_PRICES = (100, 199)            # background bids: cheaper than any lot that trades
AGENTS = [f"pv-{i:02d}" for i in range(1, 9)]
DEVELOPERS = [f"re-{i:02d}" for i in range(1, 11)]
DPV_PROVINCES = ("Shandong", "Hebei", "Henan", "Jiangsu", "Zhejiang", "Anhui", "Guangdong")
UTILITY = {           # technology -> (project prefix, provinces)
    "wind": ("WIND", ("Inner Mongolia", "Xinjiang", "Hebei", "Gansu", "Shanxi")),
    "solar": ("PV", ("Qinghai", "Ningxia", "Gansu", "Xinjiang", "Inner Mongolia")),
    "offshore wind": ("OW", ("Jiangsu", "Guangdong", "Fujian", "Shandong")),
    "hydro": ("HY", ("Yunnan", "Sichuan", "Hubei", "Guizhou")),
    "biomass": ("BIO", ("Heilongjiang", "Shandong", "Anhui", "Jilin")),
}
PROVINCES = sorted(set(DPV_PROVINCES) | {p for _, ps in UTILITY.values() for p in ps})
TECHNOLOGIES = sorted(UTILITY)


def daily_volume(year: int, days_2024: int) -> int:
    """Certificates a trading day of `year` trades at full scale."""
    return DAILY_2025 if year >= 2025 else TRADED_2024 // days_2024


def buyers(scale: float) -> list[str]:
    return [f"corp-{i:05d}" for i in range(1, max(10, round(BUYERS_2024 * scale)) + 1)]


@dataclass(frozen=True)
class Project:
    code: str
    holder: str
    province: str
    technology: str
    subsidised: bool


@dataclass
class Lot:
    """A batch issued and sold (or quoted) whole: one project's certificates of one production month."""

    project: Project
    month: str                 # production month, 'YYYY-MM'
    first: int
    last: int
    price: int                 # fen

    @property
    def quantity(self) -> int:
        return self.last - self.first + 1

    def batch(self) -> Batch:
        p = self.project
        return Batch(p.code, p.province, p.technology, self.month, p.subsidised, self.first, self.last, 0)

    def issue(self) -> dict:
        p = self.project
        return dict(account=p.holder, project=p.code, province=p.province, technology=p.technology,
                    production_month=self.month, subsidised=p.subsidised, first_serial=self.first,
                    last_serial=self.last)


def _month(index: int) -> str:
    y, m = divmod(index, 12)
    return f"{y}-{m + 1:02d}"


@dataclass
class Plan:
    """The GEC registry's side across days: projects, serials issued so far, and the current month's lots."""

    scale: float
    days_2024: int
    next_serial: int = 1
    projects: dict[str, list[Project]] = field(default_factory=lambda: {"dpv": [], "utility": []})
    used: set[tuple[str, str]] = field(default_factory=set)     # (project, production month) issued
    lots: dict[dt.date, list[Lot]] = field(default_factory=dict)
    unsold: list[Lot] = field(default_factory=list)

    def project(self, rng: random.Random, kind: str, month: str) -> Project:
        """A project of `kind` with no batch yet for `month`: one of the pool, or a new one."""
        pool = self.projects[kind]
        for _ in range(3):
            if pool:
                p = rng.choice(pool)
                if (p.code, month) not in self.used:
                    return p
        n = len(pool) + 1
        if kind == "dpv":
            p = Project(f"DPV-{n:06d}", rng.choice(AGENTS), rng.choice(DPV_PROVINCES), "solar", False)
        else:
            tech = rng.choices(TECHNOLOGIES, (2, 3, 30, 30, 35))[0]  # biomass, hydro, offshore, solar, wind
            prefix, provinces = UTILITY[tech]
            p = Project(f"{prefix}-{n:05d}", rng.choice(DEVELOPERS), rng.choice(provinces), tech,
                        tech in ("wind", "solar") and rng.random() < 0.25)
        pool.append(p)
        return p

    def batch(self, rng: random.Random, size: int, trading_month: int, price: int) -> Lot:
        dpv = size <= 5_000 and rng.random() < 0.9
        lag = 1 if dpv else rng.randint(1, 12)
        month = _month(trading_month - lag)
        project = self.project(rng, "dpv" if dpv else "utility", month)
        self.used.add((project.code, month))
        lot = Lot(project, month, self.next_serial, self.next_serial + size - 1, price)
        self.next_serial += size
        return lot

    def month(self, rng: random.Random, days: list[dt.date], background: Background) -> list[Lot]:
        """Plan the trading days `days` of one month: their lots, and the month's unsold batches. Returns every
        batch to issue, in serial order."""
        trading_month = month_index(f"{days[0]:%Y-%m}")
        issued: list[Lot] = []
        self.lots = {}
        busiest = 0
        for date in days:
            target = round(daily_volume(date.year, self.days_2024) * self.scale)
            lots = []
            while target:
                size = min(target, _lot_size(rng))
                lots.append(self.batch(rng, size, trading_month, rng.randint(*TRADE_PRICES)))
                target -= size
            self.lots[date] = lots
            issued += lots
            busiest = max(busiest, len(lots))
        self.unsold = [self.batch(rng, _lot_size(rng), trading_month, rng.randint(*LOT_PRICES))
                       for _ in range(math.ceil(busiest * background.gec / 2))]
        return issued + self.unsold


def _lot_size(rng: random.Random) -> int:
    """Nine lots in ten from distributed PV (lognormal around 358 certificates), the rest utility-sized."""
    if rng.random() < 0.9:
        return min(5_000, max(10, int(rng.lognormvariate(math.log(358), 0.5))))
    return min(300_000, max(5_001, int(rng.lognormvariate(math.log(12_000), 0.8))))


# --- filters (G4) ------------------------------------------------------------------------------------------

def eligibility(flt: dict | None) -> Eligibility:
    return Eligibility(GecFilter(**flt) if flt else None)


def filter_for(rng: random.Random, take: list[Lot], today: int, refuse: Lot | None = None) -> dict | None:
    """A buyer's filter that accepts every lot of `take` and refuses `refuse`: one or two of province lists
    (to include, or a regional exclusion), technologies, subsidy, a production window or a maximum age (the
    21 months of an RE100 claim among them)."""
    batches = [lot.batch() for lot in take]
    for _ in range(30):
        flt: dict = {}
        for kind in rng.sample(("provinces", "exclude", "technologies", "age", "window", "subsidy", "none"),
                               rng.choice((1, 1, 2))):
            if kind == "provinces":
                flt["provinces"] = sorted({b.province for b in batches} | set(rng.sample(PROVINCES, 1)))
            elif kind == "exclude":
                others = [p for p in PROVINCES if p not in {b.province for b in batches}]
                flt["exclude_provinces"] = sorted(set(rng.sample(others, rng.randint(1, 3)))
                                                  | ({refuse.project.province} if refuse else set()))
            elif kind == "technologies":
                flt["technologies"] = sorted({b.technology for b in batches} | set(rng.sample(TECHNOLOGIES, 1)))
            elif kind == "age":
                oldest = max((today - b.month for b in batches), default=0)
                flt["max_age_months"] = next(a for a in (6, 12, 21, 24, 600) if a >= oldest)
            elif kind == "window" and batches:
                flt["production_from"] = _month(min(b.month for b in batches) - rng.randint(0, 3))
                flt["production_to"] = _month(max(b.month for b in batches) + rng.randint(0, 2))
            elif kind == "subsidy" and batches and len({b.subsidised for b in batches}) == 1:
                flt["subsidised"] = batches[0].subsidised
        e = eligibility(flt)
        if all(e.accepts(b, today) for b in batches) and not (refuse and e.accepts(refuse.batch(), today)):
            return flt or None
    if refuse is None:
        return None
    return {"exclude_provinces": [refuse.project.province]}


# --- a day -------------------------------------------------------------------------------------------------

def clusters(rng: random.Random, lots: list[Lot], budget: Budget, tickets: Tickets, today: int, year: int,
             fills: list[Fill]) -> list[Item]:
    """The day's lots sold in clusters (see the module's docstring)."""
    pool = lots[:]
    rng.shuffle(pool)
    items: list[Item] = []

    def post(lot: Lot) -> tuple[str, dict]:
        return "order.new", tickets.new(lot.project.holder, "sell", lot.quantity, lot.price,
                                        first_serial=lot.first, last_serial=lot.last)

    def bid(take: list[Lot], price: int, refuse: Lot | None = None, rests: bool = False) -> tuple[str, dict]:
        """A filtered bid for the lots of `take`; M4: it pays each lot's price, or its own if it `rests` and the
        lot comes to it."""
        quantity = sum(lot.quantity for lot in take)
        buyer = budget.buyer(price * quantity)
        for lot in sorted(take, key=lambda lot: lot.price):
            fills.append(Fill("GEC", "GEC", buyer, lot.project.holder, price if rests else lot.price, lot.quantity))
        extra: dict = {"beneficiary": _beneficiary(rng, buyer, year)}
        flt = filter_for(rng, take, today, refuse)
        if flt:
            extra["filter"] = flt
        return "order.new", tickets.new(buyer, "buy", quantity, price, **extra)

    def lift(lot: Lot, target: str, quantity: int) -> tuple[str, dict]:
        buyer = budget.buyer(lot.price * quantity)
        fills.append(Fill("GEC", "GEC", buyer, lot.project.holder, lot.price, quantity))
        return "order.lift", tickets.lift(buyer, target, quantity, beneficiary=_beneficiary(rng, buyer, year))

    top = TRADE_PRICES[1]
    while pool:
        kind = rng.choices(("bid", "resting", "lift", "sweep", "exclusion"), (40, 20, 20, 10, 10))[0]
        lot = pool.pop()
        if kind == "sweep" and pool:
            take = [lot] + [pool.pop() for _ in range(min(len(pool), rng.randint(1, 2)))]
            price = min(top, max(x.price for x in take) + rng.randint(0, 20))
            items.append([post(x) for x in take] + [bid(take, price)])
        elif kind == "exclusion" and any(x.project.province != lot.project.province for x in pool):
            other = next(x for x in pool if x.project.province != lot.project.province)
            pool.remove(other)
            cheap, dear = sorted((lot, other), key=lambda x: x.price)
            if cheap.price == dear.price:              # the bid must pass over a strictly cheaper lot
                if dear.price < top:
                    dear.price += 1
                else:
                    cheap.price -= 1
            items.append([post(cheap), post(dear),
                          bid([dear], min(top, dear.price + rng.randint(0, 20)), refuse=cheap),
                          bid([cheap], min(top, cheap.price + rng.randint(0, 20)))])
        elif kind == "resting":
            items.append([bid([lot], min(top, lot.price + rng.randint(0, 30)), rests=True), post(lot)])
        elif kind == "lift":
            kind_, fields = post(lot)
            item = [(kind_, fields)]
            first = rng.randint(1, lot.quantity - 1) if lot.quantity > 1 and rng.random() < 0.3 else lot.quantity
            item.append(lift(lot, fields["order_id"], first))
            if first < lot.quantity:
                item.append(lift(lot, fields["order_id"], lot.quantity - first))
            items.append(item)
        else:
            items.append([post(lot), bid([lot], min(top, lot.price + rng.randint(0, 20)))])
    return items


def _beneficiary(rng: random.Random, buyer: str, year: int) -> str:
    """Whose consumption the certificates are cancelled for (G1): the buyer, or one of its sites."""
    return buyer if rng.random() < 0.5 else f"{buyer} site {rng.randint(1, 9)}, RE100 {year}"


def quiet(rng: random.Random, count: int, unsold: list[Lot], budget: Budget, tickets: Tickets, today: int,
          year: int, cancel_every: int) -> tuple[list[Item], list[tuple[int, Item]]]:
    """Background: unsold batches quoted above every trading bid, and bids below every trading lot."""
    lots = rng.sample(unsold, min(len(unsold), count // 2))
    out: list[Item] = []
    cancels: list[tuple[int, Item]] = []
    for k in range(len(lots) + count - count // 2):
        if k < len(lots):
            lot = lots[k]
            who, fields = lot.project.holder, tickets.new(lot.project.holder, "sell", lot.quantity,
                                                          rng.randint(*LOT_PRICES), first_serial=lot.first,
                                                          last_serial=lot.last)
        else:
            quantity, price = rng.randint(100, 5_000), rng.randint(*BID_PRICES)
            who = budget.buyer(quantity * price)
            extra: dict = {"beneficiary": _beneficiary(rng, who, year)}
            flt = filter_for(rng, [], today)
            if flt:
                extra["filter"] = flt
            fields = tickets.new(who, "buy", quantity, price, **extra)
        out.append([("order.new", fields)])
        if k % cancel_every == cancel_every - 1:
            cancels.append((len(out) - 1, [("order.cancel", tickets.cancel(who, fields["order_id"]))]))
    return out, cancels


def day(rng: random.Random, script: Script, plan: Plan, budget: Budget, brokers: dict[str, str],
        fills: list[Fill], background: Background) -> None:
    """The day's GEC lots sold, and the background, in one strand over the GEC listing session."""
    today = month_index(f"{script.date:%Y-%m}")
    tickets = Tickets(script, brokers, "GEC", "GEC", prefix="gec")
    lots = plan.lots.get(script.date, [])
    items = clusters(rng, lots, budget, tickets, today, script.date.year, fills)
    count = round(len(lots) * background.gec) + (rng.randint(0, 4) if background.gec else 0)
    background_lots, cancels = quiet(rng, count, plan.unsold, budget, tickets, today, script.date.year,
                                     background.cancel_every)
    schedule(rng, script.stream(), mingle(rng, items, background_lots, cancels),
             windows(script, DEFAULT.gec.listing_sessions), script.per_second)
