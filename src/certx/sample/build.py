"""Build the shipped sample trade day, `certx/sample/trade_day.jsonl`, from one real CEA day.

    python -m certx.sample.build [--date 2021-12-16] [--out PATH] [--data CSV] [--seed N]

The CEA part reproduces the official statistics of that day (data/cea_daily_2021_2023.csv) exactly: the
listing trades open at the official open, reach the official high and low, and add up to the official listing
volume and value (so the engine's close, the listing VWAP rounded half-up, is the official close); the block
trades add up to the official block volume and value. The previous trading day's close is the reference price.
Around it: the registry's set-up, resting orders that never trade, cancels, CCER and GEC activity, a surrender,
and a handful of deliberately refused commands (see `DELIBERATE`).

Deterministic: a seeded `random.Random` and nothing else (stdlib + msgspec). The matching rule drives the
design: a trade is made at the resting order's price, so each trade is built as a resting order followed by an
order (or a lift) that takes exactly it, and orders meant to rest never cross anything.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

CST = dt.timezone(dt.timedelta(hours=8))
DEFAULT_DATE = "2021-12-16"
DEFAULT_OUT = Path(__file__).resolve().parent / "trade_day.jsonl"
DEFAULT_DATA = Path(os.environ.get("CERTX_DATA", Path(__file__).resolve().parents[4] / "shared" / "data")) / "cea_daily_2021_2023.csv"

LISTING_MAX = 99_999          # S1
BLOCK_MIN = 100_000           # S1
LISTING_BPS, BLOCK_BPS = 1000, 3000   # B1, B2

# The commands in the file that are meant to be refused: reason -> number of rejection events (one each:
# the surrender over the 5% cap reaches the CEA and the CCER partitions, and only its home market answers).
DELIBERATE = Counter({
    "price_out_of_band": 2, "not_authorised": 2, "market_closed": 2, "insufficient_funds": 1,
    "lot_size": 1, "already_cancelled": 1, "offset_cap_exceeded": 1,
})


# --- the official day ------------------------------------------------------------------------------------

def fen(text: str) -> int:
    value = Decimal(text) * 100
    if value != value.to_integral_value():
        raise ValueError(f"{text} is not a whole number of fen")
    return int(value)


def half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def band(reference: int, bps: int) -> tuple[int, int]:
    return half_up(reference * (10_000 - bps), 10_000), half_up(reference * (10_000 + bps), 10_000)


@dataclass(frozen=True)
class OfficialDay:
    date: dt.date
    product: str
    reference: int            # the previous trading day's close (fen)
    open: int
    high: int
    low: int
    close: int
    listing_volume: int
    listing_value: int        # fen
    block_volume: int
    block_value: int          # fen


def official_day(path: Path, date: str, product: str = "CEA") -> OfficialDay:
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["product"] == product]
    rows.sort(key=lambda r: r["date"])
    for i, r in enumerate(rows):
        if r["date"] == date:
            if i == 0:
                raise ValueError(f"{date} is the first day of {product}: no previous close to use as reference")
            return OfficialDay(
                date=dt.date.fromisoformat(date), product=product, reference=fen(rows[i - 1]["close"]),
                open=fen(r["open"]), high=fen(r["high"]), low=fen(r["low"]), close=fen(r["close"]),
                listing_volume=int(r["listing_volume"]), listing_value=fen(r["listing_amount"]),
                block_volume=int(r["block_volume"]), block_value=fen(r["block_amount"]),
            )
    raise ValueError(f"no {product} row for {date} in {path}")


# --- trades that add up exactly ----------------------------------------------------------------------------

def _steer(rng: random.Random, trades: list[list[int]], target_value: int, tolerance: int,
           lo_q: int, hi_q: int, fixed: set[int]) -> None:
    """Move volume from cheaper to dearer trades (or back) until the value is within `tolerance` of the target;
    the total volume and every price stay as they are."""
    order = sorted((i for i in range(len(trades)) if i not in fixed), key=lambda i: trades[i][0])
    third = max(1, len(order) // 3)
    cheap, dear = order[:third], order[-third:]
    for _ in range(100_000):
        delta = target_value - sum(p * q for p, q in trades)
        if abs(delta) <= tolerance:
            return
        i, j = rng.choice(dear), rng.choice(cheap)          # volume moves j -> i raises the value
        if delta < 0:
            i, j = j, i
        step = abs(trades[i][0] - trades[j][0])
        if not step:
            continue
        d = min((abs(delta) // step // 100 + 1) * 100, trades[j][1] - lo_q, hi_q - trades[i][1],
                rng.randint(1, 40) * 1000)
        if d > 0:
            trades[i][1] += d
            trades[j][1] -= d
    raise ValueError("cannot steer the trades to the official value")


def _solve_last_two(volume: int, value: int, prices: list[int], lo_q: int, hi_q: int) -> tuple[int, int, int, int]:
    """Two trades (pa, qa), (pb, qb) with qa + qb = volume and pa·qa + pb·qb = value, prices from `prices`
    (best first), quantities within [lo_q, hi_q] and not too lopsided."""
    floor = max(lo_q, volume // 5)
    for pa in prices:
        for pb in prices:
            if pa == pb:
                continue
            num, den = value - pb * volume, pa - pb
            if num % den:
                continue
            qa = num // den
            qb = volume - qa
            if floor <= qa <= hi_q and floor <= qb <= hi_q:
                return pa, qa, pb, qb
    raise ValueError(f"no two trades give {volume} units for {value} fen")


def _quantity(rng: random.Random, median: float, sigma: float, lo: int, hi: int, round_to: int) -> int:
    q = rng.lognormvariate(0.0, sigma) * median
    q = min(hi, max(lo, int(q)))
    if rng.random() < 0.75:
        q = max(lo, min(hi, round(q / round_to) * round_to))
    return q


def listing_trades(rng: random.Random, day: OfficialDay) -> list[tuple[int, int]]:
    """(price, quantity) of every listing trade, in order: the first at the open, the extremes at the high and
    the low, the totals the official ones. The last two trades are solved for the exact totals."""
    volume, value = day.listing_volume, day.listing_value
    if not volume:
        return []
    if volume * day.low > value or volume * day.high < value:
        raise ValueError("the official listing value is outside volume × [low, high]")
    n = max(6, min(140, volume // 7_500))
    tail = rng.randint(30_000, 90_000) if volume > 400_000 else max(2, volume // 10)
    # the price path: open -> one extreme -> the other -> towards the close, with noise
    ends = [(0, day.open)]
    first_low = rng.random() < 0.5
    a, b = round(n * rng.uniform(0.12, 0.3)), min(n - 3, round(n * rng.uniform(0.55, 0.8)))
    ends += [(a, day.low), (b, day.high)] if first_low else [(a, day.high), (b, day.low)]
    ends.append((n - 1, day.close))
    prices = []
    for k in range(len(ends) - 1):
        (i0, p0), (i1, p1) = ends[k], ends[k + 1]
        for i in range(i0, i1):
            prices.append(p0 + (p1 - p0) * (i - i0) / max(1, i1 - i0))
    prices.append(day.close)
    pinned = {0: day.open, a: ends[1][1], b: ends[2][1]}
    path = []
    for i, p in enumerate(prices[: n - 2]):
        if i in pinned:
            path.append(pinned[i])
        else:
            path.append(min(day.high, max(day.low, round(p + rng.gauss(0, 7)))))
    for i in range(1, len(path)):          # now and then the same price again (one order, two takers)
        if i not in pinned and i - 1 not in pinned and rng.random() < 0.12:
            path[i] = path[i - 1]
    # quantities, scaled to the volume left after the tail
    qs = [_quantity(rng, 5_000, 0.95, 100, 60_000, 1) for _ in path]
    scale = (volume - tail) / sum(qs)
    units = [100 if rng.random() < 0.7 else 1 for _ in qs]          # most orders are in round hundreds
    qs = [max(100, min(LISTING_MAX - 10_000, round(q * scale / u) * u)) for q, u in zip(qs, units)]
    for k in sorted(range(len(qs)), key=lambda k: -qs[k]):           # the rounding residue, largest first
        residue = volume - tail - sum(qs)
        qs[k] = max(100, min(LISTING_MAX, qs[k] + residue))
    if sum(qs) != volume - tail:
        raise ValueError("the listing volume does not fit in the trades")
    trades = [[p, q] for p, q in zip(path, qs)]
    target = day.close
    _steer(rng, trades, value - tail * target, tail * 15, 100, LISTING_MAX, fixed=set())
    rest_q = volume - sum(q for _, q in trades)
    rest_v = value - sum(p * q for p, q in trades)
    candidates = sorted(range(day.low, day.high + 1), key=lambda p: (abs(p - target), p))[:60]
    pa, qa, pb, qb = _solve_last_two(rest_q, rest_v, candidates, 1, LISTING_MAX)
    out = [(p, q) for p, q in trades] + [(pa, qa), (pb, qb)]
    assert sum(q for _, q in out) == volume and sum(p * q for p, q in out) == value
    assert out[0][0] == day.open and max(p for p, _ in out) == day.high and min(p for p, _ in out) == day.low
    assert all(1 <= q <= LISTING_MAX for _, q in out)
    return out


@dataclass
class BlockOffer:
    price: int
    accepts: list[int]        # the quantities accepted, in order (each a trade)
    leftover: int = 0         # offered but never taken (expires, or is withdrawn)


def block_offers(rng: random.Random, day: OfficialDay) -> list[BlockOffer]:
    """Block offers whose accepted quantities add up to the official block volume and value."""
    volume, value = day.block_volume, day.block_value
    if not volume:
        return []
    lo, hi = band(day.reference, BLOCK_BPS)
    mean = half_up(value, volume)
    if volume < 3 * BLOCK_MIN:
        if value % volume:
            raise ValueError("a small block day must be one price")
        return [BlockOffer(value // volume, [volume])]
    tail = rng.randint(300_000, 900_000) if volume > 3_000_000 else 2 * BLOCK_MIN
    offers: list[BlockOffer] = []
    left = volume - tail
    while left > 0:
        price = min(hi, max(lo, round(rng.gauss(mean, 120))))
        parts = 2 if rng.random() < 0.2 else 1
        accepts = []
        for _ in range(parts):
            q = _quantity(rng, 380_000, 0.8, BLOCK_MIN, 2_000_000, 10_000)
            q = min(q, left)
            if q < BLOCK_MIN or left - q < BLOCK_MIN:
                q = left
            accepts.append(q)
            left -= q
            if not left:
                break
        offers.append(BlockOffer(price, accepts))
    # the trades as [price, quantity] cells that steering may resize (same price within an offer)
    cells = [[o.price, q] for o in offers for q in o.accepts]
    _steer(rng, cells, value - tail * mean, tail * 25, BLOCK_MIN, 3_000_000, fixed=set())
    k = 0
    for o in offers:
        for j in range(len(o.accepts)):
            o.accepts[j] = cells[k][1]
            k += 1
    rest_q = volume - sum(sum(o.accepts) for o in offers)
    rest_v = value - sum(o.price * sum(o.accepts) for o in offers)
    candidates = sorted(range(max(lo, mean - 300), min(hi, mean + 300) + 1), key=lambda p: (abs(p - mean), p))
    pa, qa, pb, qb = _solve_last_two(rest_q, rest_v, candidates, BLOCK_MIN, 10**9)
    offers += [BlockOffer(pa, [qa]), BlockOffer(pb, [qb])]
    assert sum(sum(o.accepts) for o in offers) == volume
    assert sum(o.price * sum(o.accepts) for o in offers) == value
    return offers


# --- writing commands ----------------------------------------------------------------------------------

def yuan(fen_: int) -> str:
    return f"{fen_ // 100}.{fen_ % 100:02d}"


def hms(text: str) -> int:
    h, m, *s = (int(x) for x in text.split(":"))
    return h * 3600 + m * 60 + (s[0] if s else 0)


class Stream:
    """Commands of one strand of the day, at strictly increasing times (seconds after local midnight)."""

    def __init__(self, rank: int) -> None:
        self.rank, self.t, self.lines = rank, 0, []     # t: the earliest time the next command may have

    def at(self, t: int) -> "Stream":
        if t < self.t:
            raise ValueError(f"time goes back in a stream: {t} before {self.t}")
        self.t = t
        return self

    def emit(self, type_: str, **fields: Any) -> dict:
        self.lines.append((self.t, {"type": type_, **fields}))
        self.t += 1
        return fields


class Script:
    def __init__(self, date: dt.date) -> None:
        self.date = date
        self.streams: list[Stream] = []
        self.ids: Counter = Counter()
        self.generated: dict[str, str] = {}     # id -> its prefix

    def stream(self) -> Stream:
        s = Stream(len(self.streams))
        self.streams.append(s)
        return s

    def next_id(self, prefix: str) -> str:
        self.ids[prefix] += 1
        name = f"{prefix}-{self.ids[prefix]:04d}"
        self.generated[name] = prefix
        return name

    def lines(self) -> list[bytes]:
        """The commands in time order, as JSON lines. Generated ids are renumbered in order of first use, so
        they read in time order too (lifts, accepts and cancels refer to ids used before them)."""
        merged = sorted((t, s.rank, i, cmd) for s in self.streams for i, (t, cmd) in enumerate(s.lines))
        midnight = dt.datetime.combine(self.date, dt.time(0), CST)
        renamed: dict[str, str] = {}
        counts: Counter = Counter()

        def rename(value: Any) -> Any:
            prefix = self.generated.get(value) if isinstance(value, str) else None
            if prefix is None:
                return value
            if value not in renamed:
                counts[prefix] += 1
                renamed[value] = f"{prefix}-{counts[prefix]:04d}"
            return renamed[value]

        out = []
        for t, _, _, cmd in merged:
            at = (midnight + dt.timedelta(seconds=t)).isoformat()
            fields = {k: rename(v) if k in ("id", "order_id", "target") else v for k, v in cmd.items() if k != "type"}
            out.append(msgspec.json.encode({"type": cmd["type"], "at": at, **fields}))
        return out


# --- the cast -------------------------------------------------------------------------------------------

BROKERS = ["broker-a", "broker-b", "broker-c", "broker-d", "broker-e"]
SELLERS = [f"gen-{i:02d}" for i in range(1, 7)]          # power generators with allowances to spare
BUYERS = ["gen-07", "gen-08"] + [f"trd-{i:02d}" for i in range(1, 7)]   # short generators, traders
SMALL = "trd-07"                                           # a small trader (the insufficient_funds order)
DEVELOPERS = ["re-01", "re-02", "re-03"]                   # renewable developers: GECs and CCERs
CORPORATES = ["corp-01", "corp-02", "corp-03"]             # GEC / CCER buyers
SELLER_ISSUE = 6_000_000
BUYER_CASH = 150_000_000 * 100                            # fen, per CEA buyer
SURRENDER_CEA, SURRENDER_CCER = 190_000, 10_000           # exactly the 5% cap


class Ledger:
    """What each account may still commit, counted without releases (so it never over-promises)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.cash: dict[str, int] = {a: BUYER_CASH for a in BUYERS}
        self.units: dict[str, int] = {a: SELLER_ISSUE for a in SELLERS}
        self.units[SELLERS[0]] -= SURRENDER_CEA           # gen-01 keeps its surrender

    def buyer(self, cost: int, avoid: str | None = None) -> str:
        able = [a for a, c in self.cash.items() if c >= cost and a != avoid]
        if not able:
            raise ValueError("the buyers' cash is not enough")
        a = max(able, key=lambda a: self.cash[a] * self.rng.uniform(0.6, 1.0))
        self.cash[a] -= cost
        return a

    def seller(self, quantity: int, avoid: str | None = None) -> str:
        able = [a for a, u in self.units.items() if u >= quantity and a != avoid]
        if not able:
            raise ValueError("the sellers' allowances are not enough")
        a = max(able, key=lambda a: self.units[a] * self.rng.uniform(0.6, 1.0))
        self.units[a] -= quantity
        return a


def build(day: OfficialDay, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    script = Script(day.date)
    broker = {a: rng.choice(BROKERS) for a in SELLERS + BUYERS + [SMALL] + DEVELOPERS + CORPORATES}
    ledger = Ledger(rng)
    date = day.date.isoformat()
    listing_lo, listing_hi = band(day.reference, LISTING_BPS)
    block_lo, block_hi = band(day.reference, BLOCK_BPS)
    cea = day.product
    ym = day.date.year * 12 + day.date.month - 1

    def month(back: int) -> str:
        y, m = divmod(ym - back, 12)
        return f"{y}-{m + 1:02d}"

    def other_broker(account: str) -> str:
        return next(b for b in BROKERS if b != broker[account])

    # --- set-up: accounts, products, issuance, cash (before the open) -----------------------------------
    setup = script.stream().at(hms("08:30:00"))

    def op(type_: str, **f: Any) -> None:
        setup.emit(type_, id=script.next_id("op"), actor="operator", **f)

    def reg(type_: str, **f: Any) -> None:
        setup.emit(type_, id=script.next_id("reg"), actor="registry", **f)

    def bank(account: str, market: str, amount_fen: int) -> None:
        setup.emit("funds.deposit", id=script.next_id("bank"), actor="bank", account=account, market=market,
                   amount=yuan(amount_fen))

    for account, b in broker.items():
        reg("account.open", account=account, broker=b)
    op("product.list", market="CEA", product=cea, reference_price=yuan(day.reference))
    op("product.list", market="CCER", product="CCER")
    for a in SELLERS:
        reg("issue.cea", account=a, product=cea, quantity=SELLER_ISSUE)
    vintage = day.date.year if day.date.month >= 4 else day.date.year - 1
    # CCER projects from data/ccer_projects.csv (registered, crediting period covering the vintage)
    ccer_projects = [("re-01", "A110006", 120_000),    # 内蒙古中核龙腾 乌拉特中旗 100MW 槽式光热
                     ("re-02", "A210020", 150_000),    # 广恒新能源 江苏如东 H14# 200MW 海上风电
                     ("re-03", "N110001", 6_000)]      # 漠河林业局 大兴安岭 生态林造林碳汇
    for account, project, quantity in ccer_projects:
        reg("issue.ccer", account=account, product="CCER", project=project, vintage=vintage, quantity=quantity)
    gec_batches = {   # name -> (holder, project, province, technology, months old, subsidised, first, count)
        "nm-wind": ("re-01", "GEC-NM-WIND-0107", "Inner Mongolia", "wind", 6, False, 1_000_000_001, 60_000),
        "gs-solar": ("re-01", "GEC-GS-PV-0032", "Gansu", "solar", 19, True, 1_000_100_001, 20_000),
        "js-offshore": ("re-02", "GEC-JS-OW-0011", "Jiangsu", "offshore wind", 3, False, 2_000_000_001, 40_000),
        "qh-solar": ("re-02", "GEC-QH-PV-0218", "Qinghai", "solar", 2, False, 2_000_100_001, 50_000),
        "hl-biomass": ("re-03", "GEC-HL-BIO-0005", "Heilongjiang", "biomass", 12, False, 3_000_000_001, 10_000),
        "yn-hydro": ("re-03", "GEC-YN-HY-0042", "Yunnan", "hydro", 5, False, 3_000_100_001, 30_000),
    }
    for holder, project, province, tech, back, subsidised, first, count in gec_batches.values():
        reg("issue.gec", account=holder, project=project, province=province, technology=tech,
            production_month=month(back), subsidised=subsidised, first_serial=first, last_serial=first + count - 1)
    for a in BUYERS:
        bank(a, "CEA", BUYER_CASH)
    bank(SMALL, "CEA", 1_000_000 * 100)
    for a, amount in (("gen-01", 1_000_000), ("corp-01", 1_000_000), ("corp-02", 1_000_000), ("corp-03", 500_000)):
        bank(a, "CCER", amount * 100)
    for a, amount in (("corp-01", 2_000_000), ("corp-02", 2_000_000), ("corp-03", 3_000_000)):
        bank(a, "GEC", amount * 100)

    sessions = script.stream().at(hms("09:15:00"))
    for market in ("CEA", "CCER", "GEC"):
        sessions.emit("session.open", id=script.next_id("op"), actor="operator", market=market, date=date)
    sessions.at(hms("15:30:00"))
    for market in ("CEA", "CCER", "GEC"):
        sessions.emit("session.close", id=script.next_id("op"), actor="operator", market=market, date=date)

    # --- CEA listing ---------------------------------------------------------------------------------
    trades = listing_trades(rng, day)
    # Resting orders that never trade stay strictly outside [low, high]: bids below the low, asks above the high.
    bid_top = day.low - 3
    ask_bottom = day.high + 8

    def order(account: str, side: str, quantity: int, price: int, oid: str | None = None) -> dict:
        return dict(order_id=oid or script.next_id("cea"), actor=broker[account], account=account, product=cea,
                    side=side, quantity=quantity, price=yuan(price))

    def lift(account: str, target: str, quantity: int) -> dict:
        return dict(order_id=script.next_id("cea"), actor=broker[account], account=account, market="CEA",
                    target=target, quantity=quantity)

    def cancel(account: str, oid: str) -> dict:
        return dict(order_id=oid, actor=broker[account], account=account, market="CEA")

    items: list[list[tuple[str, dict]]] = []      # each item: commands that run back to back
    i = 0
    while i < len(trades):
        p, q = trades[i]
        r = rng.random()
        nxt = trades[i + 1: i + 3]
        if i and r < 0.18 and len(nxt) >= 1:                          # a sweep of two or three makers
            seg = trades[i: i + rng.choice((2, 3))]
            ps = [x[0] for x in seg]
            up, down = ps == sorted(ps), ps == sorted(ps, reverse=True)
            if len(seg) > 1 and (up or down) and sum(x[1] for x in seg) <= LISTING_MAX:
                buy_sweep = up if not (up and down) else rng.random() < 0.5
                item = []
                if buy_sweep:
                    makers = [ledger.seller(x[1]) for x in seg]
                    limit = max(ps)
                    taker = ledger.buyer(limit * sum(x[1] for x in seg))
                    for (pp, qq), m in zip(seg, makers):
                        item.append(("order.new", order(m, "sell", qq, pp)))
                    item.append(("order.new", order(taker, "buy", sum(x[1] for x in seg), limit)))
                else:
                    makers = [ledger.buyer(pp * qq) for pp, qq in seg]
                    taker = ledger.seller(sum(x[1] for x in seg))
                    for (pp, qq), m in zip(seg, makers):
                        item.append(("order.new", order(m, "buy", qq, pp)))
                    item.append(("order.new", order(taker, "sell", sum(x[1] for x in seg), min(ps))))
                items.append(item)
                i += len(seg)
                continue
        maker_sells = rng.random() < 0.55
        if i and len(nxt) >= 1 and nxt[0][0] == p and q + nxt[0][1] <= LISTING_MAX:  # one maker, two takers
            q2 = nxt[0][1]
            if maker_sells:
                m = ledger.seller(q + q2)
                t1, t2 = ledger.buyer(p * q), ledger.buyer(p * q2)
                mo = order(m, "sell", q + q2, p)
                items.append([("order.new", mo), ("order.lift", lift(t1, mo["order_id"], q)),
                              ("order.new", order(t2, "buy", q2, p))])
            else:
                m = ledger.buyer(p * (q + q2))
                t1, t2 = ledger.seller(q), ledger.seller(q2)
                mo = order(m, "buy", q + q2, p)
                items.append([("order.new", mo), ("order.new", order(t1, "sell", q, p)),
                              ("order.lift", lift(t2, mo["order_id"], q2))])
            i += 2
            continue
        kind = "lift" if i == 0 else rng.choices(("hit", "improve", "lift", "rest"), (45, 15, 28, 12))[0]
        extra = rng.randint(1, 40) * 100 if kind == "rest" and q + 4_000 <= LISTING_MAX else 0
        if maker_sells:
            m = ledger.seller(q + extra)
            mo = order(m, "sell", q + extra, p)
            limit = p if kind != "improve" else min(listing_hi, ask_bottom - 1, p + rng.randint(1, 12))
            t = ledger.buyer(limit * q)
            take = lift(t, mo["order_id"], q) if kind == "lift" else order(t, "buy", q, limit)
        else:
            m = ledger.buyer(p * (q + extra))
            mo = order(m, "buy", q + extra, p)
            limit = p if kind != "improve" else max(listing_lo, bid_top + 1, p - rng.randint(1, 12))
            t = ledger.seller(q)
            take = lift(t, mo["order_id"], q) if kind == "lift" else order(t, "sell", q, limit)
        item = [("order.new", mo), ("order.lift" if kind == "lift" else "order.new", take)]
        if extra:                                           # the maker withdraws what is left
            item.append(("order.cancel", cancel(m, mo["order_id"])))
        items.append(item)
        i += 1

    # resting orders that never trade, a few of them cancelled later
    quiet: list[list[tuple[str, dict]]] = []
    cancels: list[tuple[int, list[tuple[str, dict]]]] = []
    for k in range(24):
        sells = k % 2 == 1
        q = _quantity(rng, 3_000, 0.9, 100, 30_000, 100)
        if sells:
            top = min(listing_hi, ask_bottom + 150)
            if ask_bottom > top:
                continue
            price = rng.randint(ask_bottom, top)
            who = ledger.seller(q)
        else:
            bottom = max(listing_lo, bid_top - 150)
            if bid_top < bottom:
                continue
            price = rng.randint(bottom, bid_top)
            who = ledger.buyer(price * q)
        o = order(who, "sell" if sells else "buy", q, price)
        quiet.append([("order.new", o)])
        if k % 7 == 3:
            cancels.append((len(quiet) - 1, [("order.cancel", cancel(who, o["order_id"]))]))
    first, rest = items[0], items[1:]
    for item in quiet:                                       # spread among the trading, never before the open
        rest.insert(rng.randint(0, len(rest)), item)
    for qi, item in cancels:
        pos = next(n for n, it in enumerate(rest) if it is quiet[qi])
        rest.insert(rng.randint(pos + 1, len(rest)), item)
    # deliberately refused listing orders
    refused = [
        # B1: the band's upper limit is reference × 1.1 rounded half-up; one fen above it is refused
        [("order.new", order(BUYERS[2], "buy", 5_000, listing_hi + 1))],
        # A2: a small trader's cash does not cover price × quantity
        [("order.new", order(SMALL, "buy", LISTING_MAX, day.close))],
        # A1: a broker that does not hold the account
        [("order.new", dict(order(SELLERS[1], "sell", 2_000, day.high), actor=other_broker(SELLERS[1])))],
        # S1: a listing order above 99,999 t belongs in the block market
        [("order.new", order(SELLERS[2], "sell", 120_000, day.close))],
    ]
    for item in refused:
        rest.insert(rng.randint(0, len(rest)), item)
    items = [first] + rest

    listing = script.stream()
    morning = round(len(items) * 0.55)
    for start, end, part in ((hms("09:30:00"), hms("11:29:00"), items[:morning]),
                             (hms("13:00:00"), hms("14:59:00"), items[morning:])):
        slot = (end - start) // max(1, len(part))
        for k, item in enumerate(part):
            t = start + k * slot + rng.randint(0, max(0, slot // 3))
            gap = max(1, min(12, (slot * 2 // 3) // (len(item) + 1)))
            for type_, fields in item:
                listing.at(max(t, listing.t)).emit(type_, **fields)
                t += rng.randint(1, gap)
    # D1: an order in the lunch break
    lunch = script.stream().at(hms("12:05:00"))
    lunch.emit("order.new", **order(BUYERS[3], "buy", 1_000, day.close))

    # --- CEA block (13:00-15:00) -----------------------------------------------------------------------
    offers = block_offers(rng, day)
    block = script.stream()
    # D1: a block offer in the morning is outside the block session
    script.stream().at(hms("10:30:00")).emit("order.new", **dict(
        order(SELLERS[3], "sell", 500_000, day.close, oid=script.next_id("blk")), mode="block"))
    block_items: list[list[tuple[str, dict]]] = []
    addressed_refusal_done = False
    for o in offers:
        total = sum(o.accepts)
        sell_offer = rng.random() < 0.6
        leftover = 0
        if o.accepts[-1] >= 200_000 and rng.random() < 0.12 and len(o.accepts) == 1:
            leftover = rng.randint(1, 5) * 50_000                 # offered more than was taken
        if sell_offer:
            maker = ledger.seller(total + leftover)
            takers = [ledger.buyer(o.price * q) for q in o.accepts]
        else:
            maker = ledger.buyer(o.price * (total + leftover))
            takers = [ledger.seller(q) for q in o.accepts]
        addressed = len(o.accepts) == 1 and rng.random() < 0.35
        oid = script.next_id("blk")
        offer = dict(order(maker, "sell" if sell_offer else "buy", total + leftover, o.price, oid=oid), mode="block")
        if addressed:
            offer["counterparty"] = takers[0]
            if not leftover and rng.random() < 0.5:
                offer["partial"] = False
        item = [("order.new", offer)]
        if addressed and not addressed_refusal_done:
            # A1/M2: an addressed offer may only be taken by the account it names
            intruder = next(a for a in (ledger.cash if sell_offer else ledger.units) if a != takers[0])
            item.append(("order.accept", dict(order_id=script.next_id("blk"), actor=broker[intruder],
                                              account=intruder, market="CEA", target=oid, quantity=total)))
            addressed_refusal_done = True
        for t, q in zip(takers, o.accepts):
            item.append(("order.accept", dict(order_id=script.next_id("blk"), actor=broker[t], account=t,
                                              market="CEA", target=oid, quantity=q)))
        if leftover and rng.random() < 0.5:
            item.append(("order.cancel", cancel(maker, oid)))
        block_items.append(item)
    # offers nobody takes, and one refused for its price (B2: below reference × 0.7)
    for k in range(3):
        q = rng.randint(2, 10) * 50_000
        if k % 2:
            who = ledger.seller(q)
            price = min(block_hi, day.high + rng.randint(150, 400))
            offer = dict(order(who, "sell", q, price, oid=script.next_id("blk")), mode="block")
        else:
            price = max(block_lo, day.low - rng.randint(300, 600))
            who = ledger.buyer(price * q)
            offer = dict(order(who, "buy", q, price, oid=script.next_id("blk")), mode="block")
        block_items.insert(rng.randint(0, len(block_items)), [("order.new", offer)])
    low_offer = dict(order(SELLERS[4], "sell", 300_000, block_lo - 1, oid=script.next_id("blk")), mode="block")
    block_items.insert(rng.randint(0, len(block_items)), [("order.new", low_offer)])
    start, end = hms("13:00:30"), hms("14:58:00")
    slot = (end - start) // len(block_items)
    for k, item in enumerate(block_items):
        t = start + k * slot + rng.randint(0, max(0, slot // 4))
        for type_, fields in item:
            block.at(max(t, block.t)).emit(type_, **fields)
            t += rng.randint(5, max(6, slot // (2 * len(item))))

    # --- CCER listing (pooled product "CCER", no band) -----------------------------------------------------
    ccer = script.stream()

    def corder(account: str, side: str, quantity: int, price: str, oid: str | None = None) -> dict:
        return dict(order_id=oid or script.next_id("ccer"), actor=broker[account], account=account,
                    product="CCER", side=side, quantity=quantity, price=price)

    ccer.at(hms("09:50:12")).emit("order.new", **corder("re-02", "sell", 50_000, "38.50", oid="ccer-ask-1"))
    ccer.at(hms("09:52:40")).emit("order.new", **corder("gen-01", "buy", SURRENDER_CCER, "38.50"))
    ccer.at(hms("10:14:05")).emit("order.new", **corder("corp-01", "buy", 20_000, "39.00"))       # at 38.50
    ccer.at(hms("10:41:30")).emit("order.new", **corder("re-01", "sell", 30_000, "38.20", oid="ccer-ask-2"))
    ccer.at(hms("10:43:02")).emit("order.lift", order_id=script.next_id("ccer"), actor=broker["corp-02"],
                                  account="corp-02", market="CCER", target="ccer-ask-2", quantity=15_000)
    ccer.at(hms("11:05:51")).emit("order.new", **corder("re-03", "sell", 3_000, "52.00"))          # forestry: rests
    ccer.at(hms("13:21:09")).emit("order.new", **corder("corp-03", "buy", 10_000, "37.00", oid="ccer-bid-1"))
    # P2: CCER is multi-transfer: corp-01 sells on some of what it bought this morning, and corp-02 picks that
    # order (the third ask level) with a lift
    ccer.at(hms("13:40:27")).emit("order.new", **corder("corp-01", "sell", 5_000, "39.80", oid="ccer-ask-3"))
    ccer.at(hms("13:42:15")).emit("order.lift", order_id=script.next_id("ccer"), actor=broker["corp-02"],
                                  account="corp-02", market="CCER", target="ccer-ask-3", quantity=5_000)
    ccer.at(hms("14:30:00")).emit("order.cancel", order_id="ccer-bid-1", actor=broker["corp-03"],
                                  account="corp-03", market="CCER")

    # --- GEC: lots and filtered bids ------------------------------------------------------------------
    gec = script.stream()

    def lot(batch: str, offset: int, count: int, price: str, oid: str) -> dict:
        holder, *_, first, _ = gec_batches[batch]
        return dict(order_id=oid, actor=broker[holder], account=holder, product="GEC", side="sell",
                    quantity=count, price=price, first_serial=first + offset, last_serial=first + offset + count - 1)

    def bid(account: str, quantity: int, price: str, oid: str, beneficiary: str, **flt: Any) -> dict:
        out = dict(order_id=oid, actor=broker[account], account=account, product="GEC", side="buy",
                   quantity=quantity, price=price, beneficiary=beneficiary)
        if flt:
            out["filter"] = flt
        return out

    gec.at(hms("09:41:00")).emit("order.new", **lot("nm-wind", 0, 20_000, "38.00", "gec-lot-1"))
    gec.at(hms("09:44:30")).emit("order.new", **lot("js-offshore", 0, 10_000, "45.50", "gec-lot-2"))
    gec.at(hms("09:47:10")).emit("order.new", **lot("qh-solar", 0, 30_000, "36.80", "gec-lot-3"))
    gec.at(hms("09:52:45")).emit("order.new", **lot("yn-hydro", 0, 15_000, "32.00", "gec-lot-4"))
    gec.at(hms("09:58:20")).emit("order.new", **lot("gs-solar", 0, 5_000, "40.00", "gec-lot-5"))
    # solar only, at most 21 months old (an RE100 claim): the Qinghai lot, cheapest, fills it in part
    gec.at(hms("10:05:33")).emit("order.new", **bid("corp-01", 25_000, "40.00", "gec-bid-1",
                                                    "corp-01 Suzhou plant, RE100 2021",
                                                    technologies=["solar"], max_age_months=21))
    # no Inner Mongolia: takes the rest of the Qinghai lot, then rests
    gec.at(hms("10:20:02")).emit("order.new", **bid("corp-02", 30_000, "39.00", "gec-bid-2",
                                                    "corp-02 Shanghai campus",
                                                    exclude_provinces=["Inner Mongolia"],
                                                    technologies=["wind", "offshore wind", "solar"]))
    # a new lot meets the resting bid: the trade is at the bid's price (the resting side)
    gec.at(hms("10:35:48")).emit("order.new", **lot("qh-solar", 30_000, 20_000, "37.50", "gec-lot-6"))
    # a lift of one named lot, for part of it
    gec.at(hms("10:52:19")).emit("order.lift", order_id="gec-lift-1", actor=broker["corp-03"], account="corp-03",
                                 market="GEC", target="gec-lot-1", quantity=8_000,
                                 beneficiary="corp-03 Beijing data centre")
    gec.at(hms("11:10:40")).emit("order.new", **bid("corp-01", 10_000, "34.00", "gec-bid-3", "corp-01",
                                                    provinces=["Yunnan", "Sichuan"], technologies=["hydro"],
                                                    max_age_months=12))
    gec.at(hms("13:15:00")).emit("order.new", **bid("corp-03", 50_000, "30.00", "gec-bid-4",
                                                    "corp-03 Tianjin logistics park", technologies=["biomass"]))
    gec.at(hms("13:31:26")).emit("order.new", **lot("hl-biomass", 0, 10_000, "29.00", "gec-lot-7"))
    gec.at(hms("13:58:03")).emit("order.new", **bid("corp-02", 3_000, "46.00", "gec-bid-5", "corp-02 Shenzhen R&D",
                                                    technologies=["offshore wind"], max_age_months=6))
    gec.at(hms("14:12:37")).emit("order.cancel", order_id="gec-lot-5", actor=broker["re-01"], account="re-01",
                                 market="GEC")
    # G1: certificates bought this morning were cancelled in corp-01's name; they can never be listed again
    gec.at(hms("14:25:50")).emit("order.new", **lot("qh-solar", 0, 100, "36.00", "gec-lot-8"))

    # --- after the close: surrender (C1) ---------------------------------------------------------------
    after = script.stream().at(hms("15:45:00"))
    after.emit("surrender", id=script.next_id("reg"), actor="registry", account="gen-01",
               compliance_year=day.date.year - 1,
               cea={cea: SURRENDER_CEA}, ccer=SURRENDER_CCER)
    after.emit("surrender", id=script.next_id("reg"), actor="registry", account="gen-02",
               compliance_year=day.date.year - 1,
               cea={cea: 100_000}, ccer=6_000)           # 5.7% CCER: over the cap, refused
    return script.lines()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m certx.sample.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--date", default=DEFAULT_DATE, help="the CEA trading day to reproduce")
    parser.add_argument("--product", default="CEA", help="the CSV product (the 2021 data's product is CEA)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the official daily CEA statistics CSV")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=None, help="default: the date as a number (20211216)")
    args = parser.parse_args(argv)
    day = official_day(args.data, args.date, args.product)
    seed = args.seed if args.seed is not None else int(args.date.replace("-", ""))
    lines = build(day, seed)
    args.out.write_bytes(b"\n".join(lines) + b"\n")
    print(f"wrote {len(lines)} commands to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
