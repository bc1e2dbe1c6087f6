"""The registry's, the bank's and the operator's commands of a built range, before the trading they make
possible, as in a real year:

- the registry opens every account once, at the start of the range (each to its broker, A1);
- a CEA product is listed on its first day with its reference price (B4: the previous close, or its first
  official open on the day it starts trading) and its allowances are allocated to the generators;
- at the start of each year the bank funds the buyers of each market (A2), and the registry issues the CCER
  reductions of the years before (certx.days.ccer);
- at the start of each month the registry issues the month's GEC batches (certx.days.gec);
- each trading day the operator opens and closes each market's session (D1) with its date;
- at the compliance deadline, the last CEA trading day of December, from 2024 on (the CCER market's first year),
  the short generators surrender what they hold for the year before (C1): every free allowance of a vintage up
  to that year, and CCER up to the 5% cap (CCER x 19 <= CEA, so CCER / (CEA + CCER) <= 5%), both legs in one
  command, which the engines settle all or nothing.

No band.set: the files' highs and lows all lie within +/-10% of the previous close, half-up (B1), and every day's
block value within +/-30% (B2), so the default bands hold throughout (tests/days check it).

Sizes come from the official files, with room to spare, so that no built order is refused for want of units
or cash: each seller's allocation of a product is 1.5 times the product's whole traded volume shared out, and
each buyer's yearly deposit 1.5 times its market's traded value that year shared out, plus a margin for the
background's reservations. Deposits stay within the contract (at most 10^12 yuan each) and a market's cash far
under 2^62 fen.
"""
from __future__ import annotations

import datetime as dt
import math
from functools import cache

from certx.days import ccer, gec, official
from certx.days.balances import Holdings
from certx.days.cast import Cast
from certx.days.official import CeaDay, vintage
from certx.days.script import Script, Stream, yuan
from certx.money import Amount

OWN_ALLOCATION = 1_000_000         # t of each product a short generator is allocated (it buys the rest)
SELLER_MARGIN = 5_000_000          # t: the background's resting asks on a busy day
CASH_MARGIN = {"CEA": 100_000_000 * 100, "CCER": 10_000_000 * 100, "GEC": 1_000_000 * 100}   # fen a buyer, a year
GEC_TOP = gec.TRADE_PRICES[1]


@cache
def traded(product: str) -> int:
    """A CEA product's whole traded volume in the files."""
    return sum(d.listing_volume + d.block_volume + d.auction_volume
               for days in official.cea_days().values() for d in days if d.product == product)


@cache
def yearly_value(market: str, year: int) -> int:
    if market == "CEA":
        return sum(d.listing_value + d.block_value + d.auction_value
                   for date, days in official.cea_days().items() if date.year == year for d in days)
    return sum(d.value for date, d in official.ccer_days().items() if date.year == year)


@cache
def days_2024() -> int:
    return sum(1 for date in official.cea_days() if date.year == 2024)


def open_accounts(script: Script, stream: Stream, cast: Cast) -> None:
    for account, broker in cast.brokers.items():
        stream.emit("account.open", id=script.next_id("reg"), actor="registry", account=account, broker=broker)


def list_product(script: Script, stream: Stream, day: CeaDay) -> None:
    stream.emit("product.list", id=script.next_id("op"), actor="operator", market="CEA", product=day.product,
                reference_price=yuan(day.reference))


def allocate(script: Script, stream: Stream, holdings: Holdings, cast: Cast, product: str) -> None:
    share = math.ceil(traded(product) * 1.5 / len(cast.cea_sellers)) + SELLER_MARGIN
    for account, quantity in [(a, share) for a in cast.cea_sellers] + [(a, OWN_ALLOCATION) for a in cast.compliance]:
        stream.emit("issue.cea", id=script.next_id("reg"), actor="registry", account=account, product=product,
                    quantity=quantity)
        holdings.issue(account, product, quantity)


def deposit(script: Script, stream: Stream, holdings: Holdings, market: str, buyers: list[str], value: int) -> None:
    """Fund `buyers` in `market` for a year worth `value` fen of trading."""
    if not buyers:
        return
    amount = math.ceil(value * 1.5 / len(buyers)) + CASH_MARGIN[market]
    assert amount <= Amount.MAX, amount
    for account in buyers:
        stream.emit("funds.deposit", id=script.next_id("bank"), actor="bank", account=account, market=market,
                    amount=yuan(amount))
        holdings.deposit(account, market, amount)


def year_start(script: Script, stream: Stream, holdings: Holdings, cast: Cast, markets: tuple[str, ...],
               gec_scale: float, ccer_issued: set[tuple[str, int]]) -> None:
    """The bank's deposits of the year and the registry's CCER issuance."""
    year = script.date.year
    if "CEA" in markets:
        deposit(script, stream, holdings, "CEA", cast.cea_buyers, yearly_value("CEA", year))
    if "CCER" in markets and year >= 2024:
        deposit(script, stream, holdings, "CCER", cast.ccer_buyers, yearly_value("CCER", year))
        for project, vintage_, quantity in ccer.issuance(official.ccer_projects(), year, ccer_issued):
            account = ccer.account(project)
            stream.emit("issue.ccer", id=script.next_id("reg"), actor="registry", account=account,
                        product=ccer.PRODUCT, project=project.code, vintage=vintage_, quantity=quantity)
            holdings.issue(account, ccer.PRODUCT, quantity)
    if "GEC" in markets:
        days = len(official.trading_days(dt.date(year, 1, 1), dt.date(year, 12, 31)))
        volume = round(gec.daily_volume(year, days_2024()) * gec_scale) * days
        deposit(script, stream, holdings, "GEC", cast.gec_buyers, volume * GEC_TOP)


def issue_gec(script: Script, stream: Stream, lots: list[gec.Lot]) -> None:
    for lot in lots:
        stream.emit("issue.gec", id=script.next_id("reg"), actor="registry", **lot.issue())


def sessions(script: Script, markets: list[str]) -> None:
    stream = script.stream().at(script.time("09:15:00"))
    for market in markets:
        stream.emit("session.open", id=script.next_id("op"), actor="operator", market=market,
                    date=script.date.isoformat())
    stream.at(script.time("15:30:00"))
    for market in markets:
        stream.emit("session.close", id=script.next_id("op"), actor="operator", market=market,
                    date=script.date.isoformat())


def deadline(date: dt.date) -> int | None:
    """The compliance year whose deadline is `date`: the last CEA trading day of a December, from 2024."""
    if date.month != 12 or date.year < 2024:
        return None
    last = max((d for d in official.cea_days() if d.year == date.year and d.month == 12), default=None)
    return date.year - 1 if last == date else None


def surrender(script: Script, holdings: Holdings, cast: Cast, year: int, products: list[str],
              with_ccer: bool) -> None:
    """C1: each short generator hands in its free allowances of vintages up to `year`, and CCER up to the cap."""
    stream = script.stream().at(script.time("15:45:00"))
    for account in cast.compliance:
        cea = {p: holdings.free(account, p) for p in products if vintage(p) <= year and holdings.free(account, p)}
        total = sum(cea.values())
        if not total:
            continue
        units = min(holdings.free(account, ccer.PRODUCT), total // 19) if with_ccer else 0
        stream.emit("surrender", id=script.next_id("reg"), actor="registry", account=account,
                    compliance_year=year, cea=cea, **({"ccer": units} if units else {}))
        for product, quantity in cea.items():
            holdings.take(account, product, quantity)
        if units:
            holdings.take(account, ccer.PRODUCT, units)
