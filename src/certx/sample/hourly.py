"""A data centre's year, matched hour by hour (issue 13): the commands of a scenario for tests and benchmarks.

    lines = year(projects=12, seed=1)      # JSON lines, as `certx replay` and `certx submit --replay` take them

A year (2025) of hourly production from `projects` wind, solar and hydro projects in a few provinces, each
project-month issued as GECs with its curve attached (the kWh left over from a month's whole certificates carry
to the next), every project's certificates listed in monthly lots at a price of its own, then one `gec.match` of a
data centre's 8,760 hourly loads against the book, on a trading day in January 2026. Deterministic: a seeded
`random.Random`, whole seconds. The shapes are plausible, not measured: solar by day, stronger in summer; wind
at any hour, gusty; hydro nearly flat, higher in the wet season.
"""
from __future__ import annotations

import calendar
import datetime as dt
import math
import random

import msgspec

CST = dt.timezone(dt.timedelta(hours=8))
YEAR = 2025
TRADE_DAY = dt.datetime(2026, 1, 5, 10, 0, tzinfo=CST)
PROVINCES = ("Gansu", "Qinghai", "Yunnan", "Inner Mongolia")
TECHNOLOGIES = ("solar", "wind", "hydro")
SELLER, SELLER_BROKER = "gen-hourly", "broker-b"
BUYER, BUYER_BROKER = "dc-01", "broker-a"


def hours_in(month: int) -> int:
    return calendar.monthrange(YEAR, month)[1] * 24


def production(technology: str, month: int, rng: random.Random, size_kw: int) -> list[int]:
    """kWh in each hour of `month`, China time, for a project of `size_kw` capacity."""
    season = 1 + 0.3 * math.cos((month - 7) / 12 * 2 * math.pi)          # high in July
    wet = 1 + 0.4 * math.cos((month - 8) / 12 * 2 * math.pi)             # high in August
    out, gust = [], 0.4
    for h in range(hours_in(month)):
        hour = h % 24
        if technology == "solar":
            sun = max(0.0, math.sin((hour - 6) / 12 * math.pi))
            kw = size_kw * 0.8 * sun * season * rng.uniform(0.6, 1.0)
        elif technology == "wind":
            gust = min(1.0, max(0.0, gust + rng.uniform(-0.15, 0.15)))
            kw = size_kw * gust * (2 - season) * 0.8
        else:
            kw = size_kw * 0.5 * wet * rng.uniform(0.95, 1.05)
        out.append(int(kw))
    return out


def loads(rng: random.Random, mean_kw: int) -> list[int]:
    """A data centre's hourly load for the year: a flat base, a little more in the afternoon and in summer."""
    days = 366 if calendar.isleap(YEAR) else 365
    out = []
    for h in range(days * 24):
        month = (dt.date(YEAR, 1, 1) + dt.timedelta(days=h // 24)).month
        cooling = 1 + 0.15 * math.cos((month - 7) / 12 * 2 * math.pi)
        daily = 1 + 0.1 * math.sin((h % 24 - 9) / 24 * 2 * math.pi)
        out.append(int(mean_kw * cooling * daily * rng.uniform(0.97, 1.03)))
    return out


def year(projects: int = 6, seed: int = 1, load_kw: int = 200, size_kw: int = 150) -> list[bytes]:
    rng = random.Random(seed)
    enc = msgspec.json.encode
    at = TRADE_DAY.replace(hour=9, minute=0)
    n = 0

    def cmd(**fields) -> None:
        nonlocal n
        n += 1
        lines.append(enc({**fields, "at": (at + dt.timedelta(seconds=n)).isoformat()}))

    lines: list[bytes] = []
    cmd(type="account.open", id="open-seller", actor="registry", account=SELLER, broker=SELLER_BROKER)
    cmd(type="account.open", id="open-buyer", actor="registry", account=BUYER, broker=BUYER_BROKER)
    cmd(type="funds.deposit", id="cash-buyer", actor="bank", account=BUYER, market="GEC", amount="100000000")
    serial = 1
    lots = []
    for p in range(projects):
        technology, province = TECHNOLOGIES[p % len(TECHNOLOGIES)], PROVINCES[p % len(PROVINCES)]
        project, carry = f"H{p:03d}", 0
        for month in range(1, 13):
            kwh = production(technology, month, rng, size_kw)
            certificates, carry = divmod(carry + sum(kwh), 1000)
            if not certificates:
                continue
            production_month = f"{YEAR}-{month:02d}"
            first, last = serial, serial + certificates - 1
            serial = last + 1
            cmd(type="issue.gec", id=f"issue-{project}-{month}", actor="registry", account=SELLER, project=project,
                province=province, technology=technology, production_month=production_month, subsidised=False,
                first_serial=first, last_serial=last)
            cmd(type="curve.attach", id=f"curve-{project}-{month}", actor="registry", project=project,
                production_month=production_month, kwh=kwh)
            lots.append((first, last, f"{rng.randint(2, 30)}.00"))
    cmd(type="session.open", id="open-gec", actor="operator", market="GEC", date=TRADE_DAY.date().isoformat())
    at = TRADE_DAY
    for i, (first, last, price) in enumerate(lots):
        cmd(type="order.new", order_id=f"lot-{i}", actor=SELLER_BROKER, account=SELLER, product="GEC", side="sell",
            quantity=last - first + 1, price=price, first_serial=first, last_serial=last)
    cmd(type="gec.match", order_id="dc-2025", actor=BUYER_BROKER, account=BUYER,
        start=dt.datetime(YEAR, 1, 1, tzinfo=CST).isoformat(), loads=loads(rng, load_kw), price_cap="30.00",
        beneficiary="dc-01 Ulanqab campus")
    return lines
