"""Properties that hold after every command, whatever brokers, the registry, the bank and the operator send.

Hypothesis draws a sequence of wire commands (right and wrong brokers, CEA/CCER listing orders in and out of the
band, cancels and lifts of earlier and unknown ids, block offers and accepts, auctions and sealed bids (M3), GEC
issuance, lots of held, unheld and already sold serials, filtered bids, GEC lifts, cash in and out, surrenders, and
day rolls) and plays it through `Desk`. After each command it checks:

- conservation: CEA/CCER units per product = issued - surrendered; cash per market = deposited - withdrawn;
  GEC serials held + in resting lots + cancelled + retired = issued; nothing negative;
- reservations: cash_held and held units are exactly what the resting orders, offers, bids, open auctions and
  their sealed bids reserve;
- every auction trade is at or above its reserve, and an auction sells what its trades say (M3);
- every book checks its own invariants (`check()`): listing books, block boards, GEC books and open auctions; so
  no listing book is crossed;
- no GEC serial is in two places, and no serial is traded twice;
- a refused command produces exactly one event (per market leg) and changes nothing; only the closes of auctions
  whose time the command reached may come before its rejection (M3);
- the same sequence replayed into a fresh Desk gives byte-identical events.

Issue 13: the registry attaches hourly curves (usually ones that add up with what is issued, sometimes not), and
some bids filter on hours (an hour-of-day mask, a window, a minimum share or strict), so lots are taken from their
middle and rest as several ranges. And aggregators: the registry grants mandates (in force, lapsing, from the wrong
owner, not the registry's), and an agent lists pooled lots of its owners' shares (usually theirs and of one
bucket's attributes, sometimes not; fifo or pro rata), which bids, lifts, cancels, the close and expiry meet. Then
also: a holding, a lot's or a pool part's serials, and a trade's seller's, are only ever serials issued to that
account (GEC is single-transfer, so a serial never changes owner but to be cancelled); the seller of a pooled
lot's trade is the part's owner and names the agent that listed the lot, and a pool rests only under a mandate in
force today for each owner's share left in it (a grant that no longer covers one cancels the pool).

And the 24/7 match (`gec.match`, issue 13): short hourly loads, most started near the hours of a resting lot's
certificates (`aim`), over hours with curves and without, under caps, budgets, filters and beneficiaries, some
refused. Its one `gec.allocated` is checked against the command and the curves (`Ledger.check_allocation`), and its
trades count as any trade's: their serials cancelled once (G1), the cash moved, nothing left reserved.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

import msgspec
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from support import Desk, engine_state
from certx.books.gec import Bid, Eligibility, Lot, PooledLot
from certx.hours.clock import EPOCH, hour_at, month_hours
from certx.hours.curve import KWH
from certx.money import parse
from certx.registry.issuance import month_index
from certx.registry.serials import RangeSet
from certx.wire import events as e
from certx.wire.codec import encode
from certx.wire.commands import GecFilter

ACCOUNTS = {"A": "B1", "B": "B1", "S": "B2", "T": "B3"}
DATES = ["2025-12-29", "2025-12-30", "2025-12-31", "2026-01-02", "2026-01-05", "2026-01-06", "2026-01-07"]
MARKETS = ("CEA", "CCER", "GEC")
CHINA = dt.timezone(dt.timedelta(hours=8))
MULTI_LEG = {"account.open", "issue.gec", "issue.ccer", "surrender"}


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


# --- the set-up every sequence starts from -------------------------------------------------------------------

def setup_ops() -> list[dict]:
    ops: list[dict] = [{"type": "account.open", "actor": "registry", "account": a, "broker": b}
                       for a, b in ACCOUNTS.items()]
    ops.append({"type": "product.list", "actor": "operator", "market": "CEA", "product": "CEA21",
                "reference_price": "50.00"})
    for a in ACCOUNTS:
        ops.append({"type": "funds.deposit", "actor": "bank", "account": a, "market": "CEA", "amount": "20000000"})
        ops.append({"type": "funds.deposit", "actor": "bank", "account": a, "market": "CCER", "amount": "1000000"})
        ops.append({"type": "funds.deposit", "actor": "bank", "account": a, "market": "GEC", "amount": "5000"})
    for a, q in (("S", 1_000_000), ("T", 1_000_000), ("A", 200_000)):
        ops.append({"type": "issue.cea", "actor": "registry", "account": a, "product": "CEA21", "quantity": q})
    ops.append({"type": "issue.ccer", "actor": "registry", "account": "S", "product": "CCER", "project": "P9",
                "vintage": 2023, "quantity": 100_000})
    for a, project, province, tech, month, sub, first in (
            ("S", "P1", "Gansu", "wind", "2023-06", False, 1),       # legacy: valid through 2025-12
            ("T", "P2", "Qinghai", "solar", "2024-01", False, 101),  # valid through 2025-12
            ("S", "P3", "Yunnan", "hydro", "2025-06", True, 201),
            # issue 13: P3's attributes, for pooled lots of several owners (outside the blocks `issue_gec` draws)
            ("T", "P5", "Yunnan", "hydro", "2025-06", True, 801), ("A", "P6", "Yunnan", "hydro", "2025-06", True, 901),
            # issue 13: a month whose certificates each sit in one hour, for the 24/7 match's greedy path
            ("T", "P7", "Hebei", "biomass", "2025-06", False, 1001)):
        ops.append({"type": "issue.gec", "actor": "registry", "account": a, "project": project,
                    "province": province, "technology": tech, "production_month": month, "subsidised": sub,
                    "first_serial": first, "last_serial": first + 99})
    # issue 13: P1's June 2023 and P3's June 2025 by the hour (P3's with 250 kWh carried to July); P2's none yet
    ops.append({"type": "curve.attach", "actor": "registry", "project": "P1", "production_month": "2023-06",
                "_fit": 0, "_shape": "flat"})
    ops.append({"type": "curve.attach", "actor": "registry", "project": "P3", "production_month": "2025-06",
                "_fit": 250, "_shape": "day"})
    ops.append({"type": "curve.attach", "actor": "registry", "project": "P7", "production_month": "2025-06",
                "_fit": 0, "_shape": "whole"})
    # and a batch of P3's June issued after its curve: it has no hours (README, "Hours on GECs")
    ops.append({"type": "issue.gec", "actor": "registry", "account": "S", "project": "P3", "province": "Yunnan",
                "technology": "hydro", "production_month": "2025-06", "subsidised": True, "first_serial": 1101,
                "last_serial": 1150})
    # agent B's mandates: from S, T and A for their Yunnan projects and P1; from T for P2 until the year's end
    for owner, project, until in (("S", "P3", "2026-12-31"), ("T", "P5", "2026-12-31"), ("A", "P6", "2026-12-31"),
                                  ("S", "P1", "2026-12-31"), ("T", "P2", "2025-12-31")):
        ops.append({"type": "mandate.grant", "actor": "registry", "agent": "B", "owner": owner, "project": project,
                    "filing_code": f"F-{project}", "valid_from": "2025-12-01", "valid_to": until})
    ops += [{"type": "session.open", "actor": "operator", "market": m, "_date": True} for m in MARKETS]
    return ops


def production(hours: int, total: int, shape: str) -> list[int]:
    """`total` kWh over a month's hours: by day (06:00-18:00 China time), flat, all in one hour, or a whole
    certificate's 1,000 kWh an hour every seventh hour (the rest in the last: every certificate in one hour)."""
    if shape == "whole":
        kwh = [0] * hours
        for h in range(3, hours, 7):
            kwh[h] = min(KWH, total - sum(kwh))
        kwh[-1] += total - sum(kwh)
        return kwh
    producing = [h for h in range(hours) if shape == "flat" or (shape == "day" and 6 <= h % 24 < 18)] or [hours - 9]
    kwh = [0] * hours
    each, extra = divmod(total, len(producing))
    for i, h in enumerate(producing):
        kwh[h] = each + (i < extra)
    return kwh


def curve_of(desk: Desk, op: dict) -> dict:
    """A `curve.attach` drawn as what it should add up to: its kWh from the engine's issuance and the project's
    previous curve, so that it adds up when `_fit` is a remainder below 1000 and does not when it is not."""
    gec = desk.engines["GEC"]
    month = month_index(op["production_month"])
    issued = sum(b.last - b.first + 1 for b in gec.issuance.of_project(op["project"]) if b.month == month)
    previous = gec.curves.curve_of(op["project"], month - 1)
    total = max(0, KWH * issued + op.pop("_fit") - (0 if previous is None else previous.carry_out))
    op["kwh"] = production(month_hours(month) + op.pop("_longer", 0), total, op.pop("_shape"))
    return op


def aim(desk: Desk, op: dict) -> None:
    """A `gec.match` drawn to meet the book: when a public lot with hours rests (the `_aim`th of them from the
    newest, counting round), its start moves to a few hours from the first hour of its middle certificate's energy,
    mostly so that the load holds that hour. In place: the ledger checks the allocation against the command sent
    (`expand` gave this match a dict of its own)."""
    k, shift = op.pop("_aim")
    gec = desk.engines["GEC"]
    lots = [o for o in gec.lots.orders.values() if isinstance(o, Lot) and not isinstance(o, PooledLot)
            and o.counterparty is None and gec.lots.curve_for(o.batch) is not None]
    if lots:
        lot = lots[-1 - k % len(lots)]
        ranges = list(lot.serials)
        first, last = ranges[len(ranges) // 2]
        middle = (first + last) // 2
        hour = gec.lots.curve_for(lot.batch).hours(middle, middle)[0][0] + max(shift, 1 - len(op["loads"]))
        start = dt.datetime.fromisoformat(op["start"])
        op["start"] = (EPOCH + dt.timedelta(hours=hour, minutes=start.minute)).astimezone(CHINA).isoformat()


# --- strategies: one wire command (or a day roll) each ---------------------------------------------------------

# Order ids are given by `expand`: "@new" is a fresh id, "@dup" the market's last one again. A cancel or a target
# names an earlier order of its market by how far back it is (0 = the latest), or something never sent.
new_ids = st.sampled_from(["@new"] * 11 + ["@dup"])
refs = st.sampled_from([0, 0, 0, 1, 1, 2, 3, 5, "unknown"])
times = st.sampled_from(["10:00", "10:30", "11:00", "13:30", "14:00", "14:30"] * 3 + ["12:00"])
block_times = st.sampled_from(["13:30", "14:00", "14:30"] * 3 + ["10:00"])


@st.composite
def who(draw, allow_unknown: bool = True):
    """An account and the broker sending for it: usually its own broker, sometimes another one."""
    account = draw(st.sampled_from(sorted(ACCOUNTS) * 3 + (["Z"] if allow_unknown else [])))
    right = draw(st.integers(0, 9)) > 0
    broker = ACCOUNTS.get(account, "B1") if right else draw(st.sampled_from(["B1", "B2", "B3", "BX"]))
    return account, broker


@st.composite
def listing_order(draw):
    account, broker = draw(who())
    return {"type": "order.new", "time": draw(times), "order_id": draw(new_ids), "actor": broker,
            "account": account, "product": draw(st.sampled_from(["CEA21"] * 6 + ["CCER", "CEA22"])),
            "side": draw(st.sampled_from(["buy", "sell"])),
            "quantity": draw(st.integers(1, 3000) | st.sampled_from([99_999, 100_000])),
            "price": yuan(draw(st.integers(4400, 5600)))}


@st.composite
def cancel(draw):
    account, broker = draw(who())
    if draw(st.integers(0, 3)):
        account = broker = "@owner"    # the account that placed it, through its broker
    return {"type": "order.cancel", "time": draw(times), "order_id": draw(refs), "actor": broker,
            "account": account, "market": draw(st.sampled_from(["CEA", "CEA", "GEC", "GEC", "CCER"]))}


@st.composite
def lift(draw):
    account, broker = draw(who())
    return {"type": "order.lift", "time": draw(times), "order_id": draw(new_ids), "actor": broker,
            "account": account, "market": draw(st.sampled_from(["CEA", "CEA", "CCER"])),
            "target": draw(refs), "quantity": draw(st.integers(1, 3000))}


@st.composite
def block_offer(draw):
    account, broker = draw(who())
    op = {"type": "order.new", "mode": "block", "time": draw(block_times),
          "order_id": draw(new_ids), "actor": broker, "account": account,
          "product": draw(st.sampled_from(["CEA21"] * 5 + ["CCER"])), "side": draw(st.sampled_from(["buy", "sell"])),
          "quantity": draw(st.sampled_from([50_000, 100_000, 150_000, 250_000])),
          "price": yuan(draw(st.integers(3300, 6700))), "partial": draw(st.booleans())}
    if draw(st.booleans()):
        op["counterparty"] = draw(st.sampled_from(sorted(ACCOUNTS) + ["Z"]))
    return op


@st.composite
def auction_bid(draw):
    account, broker = draw(who())
    return {"type": "auction.bid", "time": draw(times), "order_id": draw(new_ids), "actor": broker,
            "account": account, "market": draw(st.sampled_from(["CEA"] * 4 + ["CCER"])),
            "auction_id": draw(refs), "quantity": draw(st.sampled_from([1, 100, 800, 3_000, 10_000, 60_000, 300_001])),
            "price": yuan(draw(st.integers(4300, 6000)))}


@st.composite
def auction_open(draw):
    """M3: usually the seller's broker, sometimes the operator or another broker; closing times all over the day;
    with a few sealed bids sent right after it (`_bids`, mostly naming it)."""
    account, broker = draw(who())
    if draw(st.integers(0, 3)) > 0:
        account = draw(st.sampled_from(["S", "T"]))      # the sellers: they hold CEA21
        broker = ACCOUNTS[account]
    if draw(st.integers(0, 4)) == 0:
        broker = "operator"
    product = draw(st.sampled_from(["CEA21"] * 5 + ["CCER", "CEA22"]))
    time = draw(times)
    quantity = draw(st.sampled_from([1, 500, 5_000, 20_000, 100_000, 300_000]))
    reserve = draw(st.integers(4400, 5600))
    bids = []
    for b in draw(st.lists(auction_bid(), min_size=1, max_size=5)):
        # sized and priced around the auction: parts, all, a little too much; the reserve, above, just below
        b.update(time=time, market="CCER" if product == "CCER" else "CEA",
                 auction_id=draw(st.sampled_from([0] * 5 + [1])),
                 quantity=max(1, quantity * draw(st.sampled_from([1, 1, 2, 3, 4, 5])) // 4),
                 price=yuan(reserve + draw(st.sampled_from([-1, 0, 0, 1, 50, 50, 300]))))
        bids.append(b)
    return {"type": "auction.open", "time": time, "auction_id": draw(new_ids), "actor": broker,
            "seller": account, "product": product, "quantity": quantity, "reserve_price": yuan(reserve),
            "closes": draw(st.sampled_from(["10:15", "10:45", "11:15", "13:45", "14:45"] + ["16:00"] * 5)),
            "_bids": bids}


@st.composite
def accept(draw):
    account, broker = draw(who())
    return {"type": "order.accept", "time": draw(block_times),
            "order_id": draw(new_ids), "actor": broker, "account": account, "market": "CEA",
            "target": draw(refs), "quantity": draw(st.sampled_from([50_000, 100_000, 150_000, 250_000]))}


PROVINCES = ["Gansu", "Qinghai", "Yunnan", "Hebei"]
TECHS = ["wind", "solar", "hydro", "biomass"]
MONTHS = ["2023-06", "2024-01", "2025-06", "2025-11"]


@st.composite
def issue_gec(draw):
    block = draw(st.integers(0, 7))
    first = block * 100 + 1 + draw(st.sampled_from([0, 0, 0, 50]))
    return {"type": "issue.gec", "actor": draw(st.sampled_from(["registry"] * 7 + ["B1"])),
            "account": draw(st.sampled_from(sorted(ACCOUNTS) + ["Z"])),
            "project": draw(st.sampled_from(["P1", "P2", "P3", "P4", "P9"])),
            "province": draw(st.sampled_from(PROVINCES)), "technology": draw(st.sampled_from(TECHS)),
            "production_month": draw(st.sampled_from(MONTHS)), "subsidised": draw(st.booleans()),
            "first_serial": first, "last_serial": first + draw(st.sampled_from([49, 99]))}


@st.composite
def issue_other(draw):
    account = draw(st.sampled_from(sorted(ACCOUNTS) + ["Z"]))
    if draw(st.booleans()):
        return {"type": "issue.cea", "actor": "registry", "account": account, "product": "CEA21",
                "quantity": draw(st.integers(1, 200_000))}
    return {"type": "issue.ccer", "actor": "registry", "account": account, "product": "CCER",
            "project": draw(st.sampled_from(["P1", "P2", "P4", "P9"])), "vintage": draw(st.integers(2023, 2025)),
            "quantity": draw(st.integers(1, 50_000))}


@st.composite
def curve_attach(draw):
    """Issue 13: usually the registry's curve that adds up with what a project-month was issued (when anything
    was), sometimes one that is off by a kWh or a certificate, the wrong length, or not the registry's."""
    project, month = draw(st.sampled_from([("P2", "2024-01")] * 3 + [(p, m) for p in ("P1", "P3", "P4", "P9")
                                                                      for m in MONTHS]))
    op = {"type": "curve.attach", "actor": draw(st.sampled_from(["registry"] * 9 + ["B1"])),
          "project": project, "production_month": month,
          "_fit": draw(st.sampled_from([0, 0, 1, 500, 999, 1_000, -1])),
          "_shape": draw(st.sampled_from(["day", "day", "flat", "one"]))}
    if draw(st.integers(0, 9)) == 0:
        op["_longer"] = -24
    return op


HOLDER = {0: "S", 1: "T", 2: "S", 8: "T", 9: "A", 10: "T", 11: "S"}   # the set-up's batches


@st.composite
def gec_lot(draw):
    """Usually a part of a batch its seller holds (or held: sold or listed serials); sometimes anything."""
    account, broker = draw(who())
    block = draw(st.sampled_from([0, 0, 1, 1, 2, 2, 3, 4, 10, 11]))
    if block in HOLDER and draw(st.integers(0, 3)) > 0:
        account = HOLDER[block]
        broker = ACCOUNTS[account]
    offset = draw(st.integers(0, 99))
    first = block * 100 + 1 + offset
    count = draw(st.integers(1, 100 - offset)) if draw(st.integers(0, 5)) else draw(st.integers(1, 150))
    wrong = draw(st.integers(0, 9)) == 0
    lot = {"type": "order.new", "time": draw(times), "order_id": draw(new_ids), "actor": broker,
           "account": account, "product": "GEC", "side": "sell", "quantity": count + (1 if wrong else 0),
           "price": yuan(draw(st.integers(100, 800))), "first_serial": first, "last_serial": first + count - 1}
    if draw(st.integers(0, 4)) == 0:        # M5: addressed to one buyer, sometimes whole or nothing
        lot["counterparty"] = draw(st.sampled_from(sorted(ACCOUNTS)))
        lot["partial"] = draw(st.booleans())
    return lot


@st.composite
def mandate(draw):
    """Issue 13: usually the registry's, for an owner's own project, sometimes lapsed or not yet in force."""
    return {"type": "mandate.grant", "actor": draw(st.sampled_from(["registry"] * 5 + ["B1"])),
            "agent": draw(st.sampled_from(["B", "B", "A", "T"])), "owner": draw(st.sampled_from(sorted(ACCOUNTS))),
            "project": draw(st.sampled_from(["P1", "P2", "P3", "P4", "P5", "P6"])), "filing_code": "F",
            "valid_from": draw(st.sampled_from(["2025-01-01", "2026-01-05"])),
            "valid_to": draw(st.sampled_from(["2025-12-30", "2026-12-31"]))}


@st.composite
def pooled_lot(draw):
    """Issue 13: an agent's pooled lot, usually agent B's of its owners' Yunnan ranges (blocks 2, 8, 9: one bucket),
    sometimes of ranges of other attributes, someone else's, overlapping, listed, sold; the quantity sometimes
    not the shares' total, sometimes addressed (refused: a pool is public)."""
    account, broker = ("B", "B1") if draw(st.integers(0, 4)) else draw(who())
    shares = []
    for block in draw(st.lists(st.sampled_from([2, 2, 8, 8, 9, 9, 0, 1]), min_size=1, max_size=3)):
        owner = HOLDER[block] if draw(st.integers(0, 7)) else draw(st.sampled_from(sorted(ACCOUNTS)))
        offset = draw(st.integers(0, 99))
        first = block * 100 + 1 + offset
        shares.append({"owner": owner, "first_serial": first,
                       "last_serial": first + draw(st.integers(0, min(30, 99 - offset)))})
    total = sum(x["last_serial"] - x["first_serial"] + 1 for x in shares)
    op = {"type": "order.new", "time": draw(times), "order_id": draw(new_ids), "actor": broker, "account": account,
          "product": "GEC", "side": "sell", "quantity": total + (draw(st.integers(0, 9)) == 0),
          "price": yuan(draw(st.integers(100, 800))),
          "pool": {"rule": draw(st.sampled_from(["fifo", "pro_rata"])), "shares": shares}}
    if draw(st.integers(0, 9)) == 0:
        op["counterparty"] = "A"
    return op


@st.composite
def gec_filter(draw):
    f: dict = {}
    if draw(st.integers(0, 3)) == 0:
        f["provinces"] = draw(st.lists(st.sampled_from(PROVINCES), min_size=1, max_size=2, unique=True))
    if draw(st.integers(0, 3)) == 0:
        f["exclude_provinces"] = draw(st.lists(st.sampled_from(PROVINCES), min_size=1, max_size=2, unique=True))
    if draw(st.integers(0, 3)) == 0:
        f["technologies"] = draw(st.lists(st.sampled_from(TECHS), min_size=1, max_size=2, unique=True))
    if draw(st.integers(0, 3)) == 0:
        f["subsidised"] = draw(st.booleans())
    if draw(st.integers(0, 4)) == 0:
        f["production_from"] = draw(st.sampled_from(MONTHS))
    if draw(st.integers(0, 4)) == 0:
        f["production_to"] = draw(st.sampled_from(MONTHS))
    if draw(st.integers(0, 3)) == 0:
        f["max_age_months"] = draw(st.sampled_from([1, 6, 21, 24, 30]))
    if draw(st.integers(0, 2)) == 0:
        f.update(draw(hour_terms()))
    return f


@st.composite
def hour_terms(draw):
    """Issue 13: an hour-of-day mask, a window (around June 2025 mostly), or both; a minimum share or strict."""
    f: dict = {}
    if draw(st.booleans()):
        edges = sorted(draw(st.sets(st.integers(0, 24), min_size=2, max_size=4)))
        f["hours"] = [[a, b] for a, b in zip(edges[::2], edges[1::2])]
    if not f or draw(st.booleans()):
        start = draw(st.sampled_from(["2025-06-01T00:00:00+08:00", "2025-06-10T06:00:00+08:00",
                                      "2025-06-30T17:00:00+08:00", "2024-01-15T00:00:00+08:00",
                                      "2023-06-03T00:00:00+08:00"]))
        start = dt.datetime.fromisoformat(start) + dt.timedelta(hours=draw(st.integers(0, 48)))
        f["hours_from"] = start.isoformat()
        f["hours_to"] = (start + dt.timedelta(hours=draw(st.sampled_from([1, 6, 24, 24 * 7, 24 * 40])))).isoformat()
    if draw(st.booleans()):
        f["strict"] = True
    else:
        f["min_share"] = draw(st.sampled_from([1, 30, 50, 100]))
    return f


@st.composite
def gec_bid(draw):
    account, broker = draw(who())
    op = {"type": "order.new", "time": draw(times), "order_id": draw(new_ids), "actor": broker,
          "account": account, "product": "GEC", "side": "buy", "quantity": draw(st.integers(1, 150)),
          "price": yuan(draw(st.integers(100, 800)))}
    if draw(st.booleans()):
        op["filter"] = draw(gec_filter() | hour_terms())
    if draw(st.integers(0, 3)) == 0:
        op["beneficiary"] = draw(st.sampled_from(["plant-1", "plant-2"]))
    return op


@st.composite
def take(draw):
    """A buyer, through its broker, taking a few certificates at any lot's price: a bid without a filter, or a lift
    of one of the latest lots (its cash, 50 yuan, pays for a few)."""
    account = draw(st.sampled_from(["A", "S", "T"]))
    op = {"time": draw(times), "order_id": "@new", "actor": ACCOUNTS[account], "account": account,
          "quantity": draw(st.integers(1, 6))}
    if draw(st.booleans()):
        return {"type": "order.new", "product": "GEC", "side": "buy", "price": "8.00", **op}
    return {"type": "order.lift", "market": "GEC", "target": draw(st.sampled_from([0, 0, 1, 2])), **op}


@st.composite
def gec_lift(draw):
    account, broker = draw(who())
    return {"type": "order.lift", "time": draw(times), "order_id": draw(new_ids), "actor": broker,
            "account": account, "market": "GEC", "target": draw(refs), "quantity": draw(st.integers(1, 80))}


# Issue 13, the 24/7 match: the months the loads start in, when `aim` does not move them. Curves are P3's and P7's
# June 2025 (P3's by day, with 250 kWh carried to July, which has no curve; P7's a certificate an hour), P1's June
# 2023 (flat), P2's January 2024 once attached; none in May 2025.
MATCH_MONTHS = [dt.datetime(y, m, 1, tzinfo=CHINA) for y, m in [(2025, 6)] * 4 + [(2023, 6)] * 2 +
                [(2024, 1), (2025, 5), (2025, 7)]]
MAX_LOAD = 10**9                # kWh in an hour the allocation takes; the contract admits up to 10^12


@st.composite
def gec_match(draw):
    """Issue 13: a short hourly load over hours with curves or without, loads of zero up to past what the allocation
    takes (within the contract), sometimes a cap, a budget (binding or past the free cash), a filter (without hours;
    sometimes with: refused), a beneficiary, a start off the hour or another market (refused)."""
    account, broker = draw(who())
    start = draw(st.sampled_from(MATCH_MONTHS)) + dt.timedelta(hours=draw(st.integers(-12, 30 * 24)))
    if draw(st.integers(0, 19)) == 0:
        start += dt.timedelta(minutes=30)
    loads = draw(st.lists(st.sampled_from([0, 0, 1, 278, 999, 1_000, 1_500, 4_000, MAX_LOAD]), min_size=1,
                          max_size=24))
    if draw(st.integers(0, 14)) == 0:
        loads[draw(st.integers(0, len(loads) - 1))] = draw(st.sampled_from([MAX_LOAD + 1, 10**12]))
    op = {"type": "gec.match", "time": draw(times), "order_id": draw(new_ids), "actor": broker, "account": account,
          "start": start.isoformat(), "loads": loads}
    if draw(st.booleans()):
        op["price_cap"] = yuan(draw(st.integers(100, 900)))
    if draw(st.integers(0, 2)) == 0:
        op["budget"] = yuan(draw(st.sampled_from([1, 150, 499, 500, 1_000, 2_500, 10_000, 500_000, 10**9])))
    if draw(st.integers(0, 2)) == 0:
        f = draw(gec_filter())
        if draw(st.integers(0, 5)):
            for k in ("hours", "hours_from", "hours_to", "min_share", "strict"):
                f.pop(k, None)
        op["filter"] = f
    if draw(st.integers(0, 3)) == 0:
        op["beneficiary"] = draw(st.sampled_from(["plant-1", "plant-2"]))
    if draw(st.integers(0, 19)) == 0:
        op["market"] = draw(st.sampled_from(["GEC", "CEA"]))
    if draw(st.integers(0, 2)):
        op["_aim"] = (draw(st.sampled_from([0, 0, 0, 1, 2, 7])), draw(st.integers(-6, 2)))    # see `aim`
    if draw(st.booleans()):         # a lot listed right before it by its holder: P1's, P3's or P7's, or P3's late one
        block = draw(st.sampled_from([0, 2, 10, 0, 2, 10, 11]))
        size = 50 if block == 11 else 100
        first = block * 100 + 1 + draw(st.integers(0, size - 1))
        op["_lots"] = [{"type": "order.new", "time": op["time"], "order_id": "@new", "actor": ACCOUNTS[HOLDER[block]],
                        "account": HOLDER[block], "product": "GEC", "side": "sell", "quantity": 0,
                        "price": yuan(draw(st.integers(100, 800))), "first_serial": first,
                        "last_serial": draw(st.integers(first, block * 100 + size))}]
        op["_lots"][0]["quantity"] = op["_lots"][0]["last_serial"] - first + 1
    return op


@st.composite
def funds(draw):
    return {"type": draw(st.sampled_from(["funds.deposit", "funds.withdraw"])),
            "actor": draw(st.sampled_from(["bank"] * 5 + ["B1"])),
            "account": draw(st.sampled_from(sorted(ACCOUNTS) + ["Z"])), "market": draw(st.sampled_from(MARKETS)),
            "amount": yuan(draw(st.integers(1, 3_000_000_00)))}


@st.composite
def surrender(draw):
    cea = draw(st.sampled_from([0, 0, 95, 1_000, 19_000, 500_000]))
    return {"type": "surrender", "actor": "registry", "account": draw(st.sampled_from(sorted(ACCOUNTS) + ["Z"])),
            "compliance_year": 2025, "cea": {"CEA21": cea} if cea else {},
            "ccer": draw(st.sampled_from([0, 1, 5, 50, 1_000]))}


@st.composite
def operator(draw):
    kind = draw(st.sampled_from(["next_day", "next_day", "next_day", "close_one", "reopen", "band"]))
    if kind == "band":
        return {"type": "band.set", "actor": "operator", "product": "CEA21",
                "mode": draw(st.sampled_from(["listing", "block"])), "ratio": draw(st.sampled_from(["0.05", "0.2"]))}
    return {"type": kind, "market": draw(st.sampled_from(MARKETS))}


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, each as often as its weight."""
    return st.sampled_from([s for w, s in choices for _ in range(w)]).flatmap(lambda s: s)


STEPS = {
    "listing": listing_order(), "cancel": cancel(), "lift": lift(), "block": block_offer(), "accept": accept(),
    "issue_gec": issue_gec(), "lot": gec_lot(), "bid": gec_bid(), "gec_lift": gec_lift(),
    "funds": funds(), "issue": issue_other(), "surrender": surrender(), "operator": operator(),
    "auction": auction_open(), "auction_bid": auction_bid(), "curve": curve_attach(),
    "mandate": mandate(), "pool": pooled_lot(), "match": gec_match(), "take": take(),
}
mixed = st.lists(weighted(
    (12, STEPS["listing"]), (3, STEPS["cancel"]), (3, STEPS["lift"]), (3, STEPS["block"]), (3, STEPS["accept"]),
    (1, STEPS["issue_gec"]), (4, STEPS["lot"]), (3, STEPS["bid"]), (1, STEPS["gec_lift"]),
    (1, STEPS["funds"]), (1, STEPS["issue"]), (1, STEPS["surrender"]), (1, STEPS["operator"]),
    (1, STEPS["auction"]), (1, STEPS["auction_bid"]), (1, STEPS["curve"]), (1, STEPS["pool"]),
    (2, STEPS["match"]),
), min_size=30, max_size=80)
gec_heavy = st.lists(weighted(
    (2, STEPS["issue_gec"]), (8, STEPS["lot"]), (6, STEPS["bid"]), (3, STEPS["gec_lift"]), (2, STEPS["cancel"]),
    (1, STEPS["funds"]), (1, STEPS["operator"]), (2, STEPS["curve"]), (4, STEPS["pool"]), (1, STEPS["mandate"]),
    (4, STEPS["match"]),
), min_size=30, max_size=80)
# Aggregators' days (issue 13): pooled lots that buyers take a few certificates of at a time, so that a pool's rule
# and what is left of each share matter while it rests; mandates granted again under them.
pool_heavy = st.lists(weighted(
    (6, STEPS["pool"]), (6, STEPS["take"]), (2, STEPS["bid"]), (2, STEPS["cancel"]), (2, STEPS["mandate"]),
    (2, STEPS["lot"]), (1, STEPS["match"]), (1, STEPS["operator"]),
), min_size=20, max_size=60)


# --- playing a sequence ----------------------------------------------------------------------------------------

def market_of(op: dict) -> str:
    if op["type"] == "gec.match":
        return "GEC"                        # whatever market it names (another is refused there, wrong_market)
    if "market" in op:
        return op["market"]
    return "GEC" if op["product"] == "GEC" else "CCER" if op["product"].startswith("CCER") else "CEA"


def kind_of(op: dict) -> str:
    """What an order is, for what may name it later: a lift names a listing order (or a GEC lot), an accept a
    block offer, a cancel any order of its market."""
    if op["type"] == "auction.open":
        return "auction"
    if op["type"] != "order.new":
        return "taker"
    if op.get("mode") == "block":
        return "block"
    if op["product"] == "GEC":
        return "lot" if op["side"] == "sell" else "bid"
    return "listing"


TARGETS = {"order.lift": ("listing", "lot"), "order.accept": ("block",)}


class Ids:
    """Order ids for a sequence: fresh ones, repeats, and references back to earlier orders of a market."""

    def __init__(self) -> None:
        self.count = 0
        self.sent: dict[tuple[str, str], list[str]] = defaultdict(list)    # (market, kind) -> ids
        self.every: dict[str, list[str]] = defaultdict(list)                # market -> ids
        self.owner: dict[str, tuple[str, str]] = {}

    def resolve(self, op: dict) -> dict:
        op = dict(op)
        market = market_of(op)
        if op["type"] == "order.cancel":
            op["order_id"] = self.back(self.every[market], op["order_id"])
            if op["account"] == "@owner":
                op["account"], op["actor"] = self.owner.get(op["order_id"], ("A", "B1"))
            return op
        if "target" in op:
            targets = [i for kind in TARGETS[op["type"]] for i in self.sent[market, kind]]
            op["target"] = self.back(sorted(targets, key=lambda i: int(i[1:])), op["target"])
        if op["type"] == "auction.bid":
            op["auction_id"] = self.back(self.sent[market, "auction"], op["auction_id"])
        key = "auction_id" if op["type"] == "auction.open" else "order_id"     # an auction id is an order id
        sent = self.sent[market, kind_of(op)]
        if op[key] == "@dup" and self.every[market]:
            op[key] = self.every[market][-1]
        else:
            self.count += 1
            op[key] = f"n{self.count}"
            sent.append(op[key])
            self.every[market].append(op[key])
            self.owner[op[key]] = (op.get("account") or op["seller"], op["actor"])
        return op

    @staticmethod
    def back(sent: list[str], ref) -> str:
        return sent[-1 - ref] if ref != "unknown" and ref < len(sent) else "never-sent"


def expand(ops: list[dict]) -> list[tuple[str, dict]]:
    """The wire commands of a sequence, each with its trading date. A day roll closes and opens all markets."""
    day = 0
    ids = Ids()
    out: list[tuple[str, dict]] = []
    for op in setup_ops() + ops:
        date = DATES[day]
        kind = op["type"]
        if kind == "next_day":
            if day + 1 == len(DATES):
                continue
            for m in MARKETS:
                out.append((date, {"type": "session.close", "actor": "operator", "market": m, "date": date,
                                   "time": "15:30"}))
            day += 1
            for m in MARKETS:
                out.append((DATES[day], {"type": "session.open", "actor": "operator", "market": m,
                                         "date": DATES[day], "time": "09:00"}))
        elif kind == "close_one":
            out.append((date, {"type": "session.close", "actor": "operator", "market": op["market"], "date": date,
                               "time": "15:30"}))
        elif kind == "reopen" or op.get("_date"):
            out.append((date, {"type": "session.open", "actor": "operator", "market": op["market"], "date": date,
                               "time": "09:00"}))
        elif kind.startswith(("order.", "auction.")) or kind == "gec.match":
            out += [(date, ids.resolve(lot)) for lot in op.get("_lots", ())]
            out.append((date, ids.resolve({k: v for k, v in op.items() if k not in ("_bids", "_lots")})))
            out += [(date, ids.resolve(bid)) for bid in op.get("_bids", ())]
        else:
            out.append((date, op))
    return out


def send(desk: Desk, date: str, op: dict) -> list[e.Event]:
    if "_aim" in op:
        aim(desk, op)
    fields = dict(op)
    type_ = fields.pop("type")
    time = fields.pop("time", "10:00")
    desk.date = dt.date.fromisoformat(date)
    if "closes" in fields:
        fields["closes_at"] = desk.at(fields.pop("closes"))
    if "_fit" in fields:
        fields = curve_of(desk, fields)
    return desk.send(type_, time=time, **fields)


class Ledger:
    """What the events say should be in the engines, and the checks against what is."""

    def __init__(self) -> None:
        self.units: Counter = Counter()         # (market, product) -> issued - surrendered
        self.cash: Counter = Counter()          # market -> deposited - withdrawn (fen)
        self.gec_issued = 0
        self.traded = RangeSet()                # every GEC serial that changed hands
        self.issued_to: dict[str, RangeSet] = defaultdict(RangeSet)     # account -> the GEC serials issued to it
        self.listed_by: dict[str, str] = {}     # GEC sell order -> the account that listed it
        self.listed_at: dict[str, int] = {}     # GEC sell order -> its price (fen)
        self.gec_cash: dict[str, tuple[int, int]] = {}  # GEC account -> (cash, cash_held) after the last command
        self.seq = Counter()                    # market -> next event seq
        self.auctions: dict[tuple[str, str], dict] = {}   # (market, auction id) -> what was offered, bid, sold

    def record(self, desk: Desk, events: list[e.Event], op: dict | None = None) -> None:
        for ev in events:
            assert ev.seq == self.seq[ev.market], f"event seq gap in {ev.market}: {ev}"
            self.seq[ev.market] += 1
            if isinstance(ev, e.Issued):
                if ev.market == "GEC":
                    assert ev.product == "GEC" and ev.serials
                    self.gec_issued += ev.quantity
                    assert ev.quantity == sum(b - a + 1 for a, b in ev.serials)
                    for a, b in ev.serials:
                        self.issued_to[ev.account].add(a, b)
                else:
                    self.units[ev.market, ev.product] += ev.quantity
            elif isinstance(ev, e.Surrendered):
                for product, q in ev.units.items():
                    assert q > 0
                    self.units[ev.market, product] -= q
            elif isinstance(ev, e.FundsDeposited):
                self.cash[ev.market] += int(ev.amount)
            elif isinstance(ev, e.FundsWithdrawn):
                self.cash[ev.market] -= int(ev.amount)
            elif isinstance(ev, e.Trade):
                self.check_trade(desk, ev)
            elif isinstance(ev, e.AuctionOpened):
                self.auctions[ev.market, ev.auction_id] = {"quantity": ev.quantity, "reserve": int(ev.reserve_price),
                                                           "bids": [], "fills": []}
            elif isinstance(ev, e.OrderAccepted) and ev.market == "GEC" and ev.side == "sell":
                self.listed_by[ev.order_id] = ev.account
                self.listed_at[ev.order_id] = int(ev.price)
            elif isinstance(ev, e.Allocated):
                self.check_allocation(desk, ev, op)
            elif isinstance(ev, e.OrderAccepted) and ev.auction_id is not None:
                auction = self.auctions[ev.market, ev.auction_id]
                assert int(ev.price) >= auction["reserve"] and ev.quantity <= auction["quantity"], ev
                auction["bids"].append((ev.order_id, int(ev.price), ev.quantity))
            elif isinstance(ev, e.AuctionClosed):
                self.check_auction(self.auctions.pop((ev.market, ev.auction_id)), ev)

    def check_trade(self, desk: Desk, t: e.Trade) -> None:
        assert t.quantity >= 1 and int(t.price) >= 1
        if t.market == "GEC":
            assert t.mode in ("lot", "match") and t.serials, t
            assert sum(b - a + 1 for a, b in t.serials) == t.quantity, t
            for a, b in t.serials:
                assert not self.traded.overlaps(a, b), f"serials [{a}, {b}] traded twice: {t}"
                assert self.issued_to[t.seller].contains(a, b), f"{t.seller} sold [{a}, {b}], not issued to it: {t}"
                self.traded.add(a, b)
            # a lot's trade names who listed it: the seller, or for a pooled lot the agent (its seller the owner)
            assert self.listed_by[t.sell_order] == (t.seller if t.agent is None else t.agent), t
            return
        if t.mode == "auction":
            self.auctions[t.market, t.sell_order]["fills"].append((t.buy_order, int(t.price), t.quantity))
            return
        product = desk.engines[t.market].products[t.product]
        lo, hi = product.listing_limits if t.mode == "listing" else product.block_limits
        assert lo <= int(t.price) <= hi, f"{t.mode} trade outside its band [{lo}, {hi}]: {t}"

    def check_allocation(self, desk: Desk, a: e.Allocated, op: dict | None) -> None:
        """Issue 13, a 24/7 match: the allocation is the command's; each trade takes from a public lot at its price
        (M4), within the cap and the filter (G4), in the beneficiary's name (G1: `check_trade` then counts its
        serials traded, so cancelled, once); every certificate taken has hours (its batch's curve covers it) and
        brings energy the load lacks without it; the matched kWh are what the curves give the loads; the cost is
        within the budget; the buyer paid it and each seller got its trades' worth, nothing left reserved."""
        gec = desk.engines["GEC"]
        assert op is not None and op["type"] == "gec.match", (op, a)
        beneficiary = op.get("beneficiary", op["account"])
        assert (a.allocation_id, a.account, a.beneficiary, a.loads) == (op["order_id"], op["account"], beneficiary,
                                                                       op["loads"]), a
        assert a.start == dt.datetime.fromisoformat(op["start"]) and a.load_kwh == sum(a.loads), a
        eligibility = Eligibility(msgspec.json.decode(msgspec.json.encode(op["filter"]), type=GecFilter)
                                  if "filter" in op else None)
        cap = int(parse(op["price_cap"])) if "price_cap" in op else None
        start, month = hour_at(a.start), gec.today_month()
        supplied: Counter = Counter()
        taken: list[list[tuple[int, int]]] = []
        flows: Counter = Counter()
        for t in a.trades:
            assert t.market in ("", "GEC"), t           # a trade inside the allocation: its market is the allocation's
            self.check_trade(desk, msgspec.structs.replace(t, market="GEC"))
            assert (t.mode, t.buyer, t.buy_order, t.beneficiary, t.agent) == \
                ("match", a.account, a.allocation_id, beneficiary, None), t
            assert int(t.price) == self.listed_at[t.sell_order] and (cap is None or int(t.price) <= cap), t
            flows[t.seller] += int(t.price) * t.quantity
            for first, last in t.serials:
                batch = gec.issuance.batch_of(first, last)
                assert batch is not None and (t.project, t.province, t.technology, t.production_month, t.subsidised) \
                    == (batch.project, batch.province, batch.technology, batch.production_month, batch.subsidised), t
                assert eligibility.accepts(batch, month), f"G4: [{first}, {last}] is not what the filter admits: {t}"
                curve = gec.lots.curve_for(batch)
                assert curve is not None, f"[{first}, {last}] taken without hours: {t}"
                for serial in range(first, last + 1):
                    taken.append(curve.hours(serial, serial))
                    for hour, kwh in taken[-1]:
                        supplied[hour] += kwh
        load = {start + h: kwh for h, kwh in enumerate(a.loads)}
        assert a.matched_kwh == sum(min(kwh, supplied[h]) for h, kwh in load.items()), a
        for mix in taken:            # its removal would match less: it brings kWh to an hour that lacks them
            assert any(supplied[h] - kwh < load.get(h, 0) for h, kwh in mix), f"a certificate matches nothing: {a}"
        cost = sum(flows.values())
        assert int(a.cost) == cost and cost <= self.gec_cash[a.account][0], a
        assert "budget" not in op or cost <= int(parse(op["budget"])), a
        flows[a.account] -= cost
        for account, w in gec.wallets.items():
            cash, held = self.gec_cash.get(account, (0, 0))
            assert (w.cash, w.cash_held) == (cash + flows[account], held), (account, cash, held, flows, a)

    @staticmethod
    def check_auction(auction: dict, closed: e.AuctionClosed) -> None:
        """M3: the quantity went to the highest prices first, earlier bids first at equal prices, each at its own
        price, and the seller kept the rest."""
        left, expected = auction["quantity"], []
        for order_id, price, quantity in sorted(auction["bids"], key=lambda b: -b[1]):
            if left:
                expected.append((order_id, price, min(left, quantity)))
                left -= expected[-1][2]
        assert auction["fills"] == expected, (auction, closed)
        assert (closed.sold, closed.unsold) == (auction["quantity"] - left, left), closed

    def check(self, desk: Desk) -> None:
        engines = desk.engines
        # conservation of units (CEA, CCER) and of cash (every market); nothing negative
        units: Counter = Counter()
        for market in MARKETS:
            eng = engines[market]
            total_cash = 0
            for w in eng.wallets.values():
                assert w.cash >= 0 and w.cash_held >= 0, (market, w.account, w.cash, w.cash_held)
                total_cash += w.cash + w.cash_held
                for product, pos in w.positions.items():
                    assert pos.free >= 0 and pos.held >= 0 and pos.locked >= 0, (market, w.account, product)
                    units[market, product] += pos.total()
            assert total_cash == self.cash[market], f"{market} cash {total_cash} != {self.cash[market]}"
        held_units = {k: v for k, v in units.items() if v}
        owed_units = {k: v for k, v in self.units.items() if v}
        assert held_units == owed_units, f"units {held_units} != issued - surrendered {owed_units}"
        self.check_reservations(desk)
        self.check_gec(desk)
        self.gec_cash = {account: (w.cash, w.cash_held) for account, w in engines["GEC"].wallets.items()}

    def check_reservations(self, desk: Desk) -> None:
        """A2: what each account has reserved is exactly what its resting orders, offers and bids hold."""
        for market in MARKETS:
            eng = desk.engines[market]
            cash: Counter = Counter()
            held: Counter = Counter()
            for product in eng.products.values():
                for o in product.book.orders.values():
                    assert o.remaining > 0
                    if o.is_buy:
                        cash[o.account] += o.price * o.remaining
                    else:
                        held[o.account, product.name] += o.remaining
            for o in eng.blocks.offers.values():
                assert o.remaining > 0
                if o.is_buy:
                    cash[o.account] += o.price * o.remaining
                else:
                    held[o.account, o.product] += o.remaining
            for a in eng.auctions.values():
                held[a.seller, a.product] += a.quantity
                for b in a.bids:
                    cash[b.account] += b.price * b.quantity
            for leg in eng.surrenders.values():             # C1: a leg held until its surrender is decided
                for product, quantity in leg.units.items():
                    held[leg.account, product] += quantity
            for o in eng.lots.orders.values():
                if isinstance(o, Bid):
                    assert o.remaining > 0
                    cash[o.account] += o.price * o.remaining
            for w in eng.wallets.values():
                assert w.cash_held == cash[w.account], (market, w.account, w.cash_held, cash[w.account])
                for product, pos in w.positions.items():
                    assert pos.held == held[w.account, product], f"{market} {w.account} {product} held"

    def check_gec(self, desk: Desk) -> None:
        gec = desk.engines["GEC"]
        places: list[tuple[int, int, str]] = []
        for account, serials in gec.serials.items():
            places += [(a, b, f"held by {account}") for a, b in serials]
        lots = [o for o in gec.lots.orders.values() if isinstance(o, Lot)]
        public = [lot for lot in lots if lot.counterparty is None]      # an addressed lot is no bid's (M5)
        assert len(public) == len(gec.lots.lots) and len(gec.lots.orders) == len(lots) + len(gec.lots.bids)
        gec.lots.lots.check()
        for account, serials in gec.serials.items():
            for a, b in serials:
                assert self.issued_to[account].contains(a, b), f"{account} holds [{a}, {b}], not issued to it"
        for lot in lots:
            assert lot.remaining == lot.serials.count() > 0, f"empty lot {lot.order_id} rests"
            # each certificate is of the batch it is listed under: a lot's, or its pool part's (the pool's union joins
            # two parts' adjacent ranges, of two batches: serials 900 of P5 and 901 of P6 make one range 900-901)
            for batch, serials in ([(p.batch, p.serials) for p in lot.parts] if isinstance(lot, PooledLot)
                                   else [(lot.batch, lot.serials)]):
                for first, last in serials:
                    assert batch.first <= first and last <= batch.last, f"lot {lot.order_id}: [{first}, {last}]"
            places += [(first, last, f"lot {lot.order_id}") for first, last in lot.serials]
            # issue 13: a pool rests only under its agent's mandates in force today, one for each share left
            if isinstance(lot, PooledLot) and gec.date is not None:
                for p in lot.parts:
                    assert gec.mandates.allows(lot.account, p.owner, p.batch.project, gec.date), \
                        f"pool {lot.order_id}: {lot.account} holds no mandate from {p.owner} for {p.batch.project}"
            # each owner's serials in the lot: a pool part's its owner's, a lot's its seller's
            for owner, serials in ([(p.owner, p.serials) for p in lot.parts] if isinstance(lot, PooledLot)
                                   else [(lot.account, lot.serials)]):
                for a, b in serials:
                    assert self.issued_to[owner].contains(a, b), f"lot {lot.order_id}: [{a}, {b}] is not {owner}'s"
        places += [(a, b, "cancelled") for a, b in gec.cancelled]
        places += [(a, b, "retired") for a, b in gec.retired]
        places.sort()
        for (a1, b1, w1), (a2, b2, w2) in zip(places, places[1:]):
            assert b1 < a2, f"serials [{a2}, {min(b1, b2)}] both {w1} and {w2}"
        issued = gec.issuance.issued
        for a, b, where in places:
            assert issued.contains(a, b), f"[{a}, {b}] {where} was never issued"
        counted = sum(b - a + 1 for a, b, _ in places)
        assert counted == issued.count() == self.gec_issued, (counted, issued.count(), self.gec_issued)
        # M4: after matching, no resting bid crosses a resting lot it accepts
        if gec.date is not None:
            month = gec.today_month()
            for bid in gec.lots.bids:
                for lot in public:
                    if isinstance(lot, PooledLot) and bid.eligibility.hours is not None:
                        continue            # bids with hours pass pooled lots by: a pool's fill is its rule's
                    assert lot.price > bid.price or not bid.eligibility.accepts(lot.batch, month) or \
                        not gec.lots.accepted(lot.serials, lot.batch, bid.eligibility, 1), \
                        (bid.order_id, lot.order_id, "cross")
        # everything traded is cancelled, and only that (G1)
        assert list(gec.cancelled) == list(self.traded)
        # both partitions keep the same issuance record (G3)
        ccer = desk.engines["CCER"].issuance
        assert list(ccer.issued) == list(issued)
        assert ccer.gec_years == gec.issuance.gec_years and ccer.ccer_years == gec.issuance.ccer_years


def play(ops: list[dict]) -> list[bytes]:
    """Play a sequence, checking every property after every command; returns the encoded events."""
    desk, ledger = Desk(date=DATES[0]), Ledger()
    encoded: list[bytes] = []
    for date, op in expand(ops):
        before = {m: engine_state(desk.engines[m]) for m in MARKETS}
        events = send(desk, date, op)
        note(f"{date} {op} -> {[type(x).__name__ + '(' + getattr(x, 'reason', '') + ')' for x in events]}")
        by_market, by_command = defaultdict(list), defaultdict(list)
        for ev in events:
            by_market[ev.market].append(ev)
            by_command[ev.market, ev.origin.offset].append(ev)   # a surrender's relayed vote and decision too
        own_events = 0
        for (market, _), evs in by_command.items():
            prelude, own = auction_closes(evs)
            own_events += len(own)
            if any(isinstance(x, (e.OrderRejected, e.CommandRejected)) for x in own):
                # refused: the rejection is this command's only output in this market, and, when nothing else
                # happened there (the closes of auctions its time reached come first, M3; a surrender's
                # decision may follow), the market's state did not change
                assert len(own) == 1, f"a refusal is the only output: {evs}"
                if not prelude and by_market[market] == own:
                    assert engine_state(desk.engines[market]) == before[market], f"refused {op} changed {market}"
        refused = [x for x in events if isinstance(x, (e.OrderRejected, e.CommandRejected))]
        if op["type"] != "surrender":
            # one answer per command, however many markets it reaches (a surrender's legs answer for themselves)
            assert len(by_market) <= 1 or op["type"] in MULTI_LEG
            assert not refused or own_events == 1, f"a refusal is the only output: {events}"
        else:
            check_surrender(desk, events)
        ledger.record(desk, events, op)
        ledger.check(desk)
        check_books(desk)
        encoded += [encode(x) for x in events]
    return encoded


def check_books(desk: Desk) -> None:
    """Every book of every market checks its own invariants (DESIGN: a book that can check itself)."""
    for engine in desk.engines.values():
        for product in engine.products.values():
            product.book.check()
        engine.blocks.check()
        engine.lots.check()
        for auction in engine.auctions.values():
            auction.check()


def check_surrender(desk: Desk, events: list[e.Event]) -> None:
    """C1, all or nothing: once decided, no leg is left held, every leg that was held is surrendered or released as
    one, never one leg surrendered and the other not; and what is surrendered holds at most 5% CCER."""
    for market in ("CEA", "CCER"):
        assert not desk.engines[market].surrenders, f"{market} holds a leg with no decision coming"
    held = {x.market for x in events if isinstance(x, e.SurrenderHeld)}
    done = {x.market: x.units for x in events if isinstance(x, e.Surrendered)}
    released = {x.market for x in events if isinstance(x, e.SurrenderReleased)}
    legs = next((x.legs for x in events if isinstance(x, e.SurrenderHeld)), None)
    if legs is not None and len(legs) == 2:
        assert set(done) in (set(), set(legs)), f"half a surrender: {events}"
        assert held == set(done) | released and not (set(done) & released), events
    if done:
        cea = sum(q for m, units in done.items() if m == "CEA" for q in units.values())
        ccer = sum(q for m, units in done.items() if m == "CCER" for q in units.values())
        assert ccer * 10_000 <= desk.engines["CEA"].rules.ccer_offset_cap_bps * (cea + ccer), done


def auction_closes(evs: list[e.Event]) -> tuple[list[e.Event], list[e.Event]]:
    """A leg's output split after its last `auction.closed`: the auctions closed before the command (M3; at a
    session.close, also those it closed), and the rest."""
    n = max((i + 1 for i, x in enumerate(evs) if isinstance(x, e.AuctionClosed)), default=0)
    for x in evs[:n]:
        assert isinstance(x, (e.AuctionClosed, e.OrderExpired)) or (isinstance(x, e.Trade) and x.mode == "auction"), x
    return evs[:n], evs[n:]


def replay(ops: list[dict]) -> list[bytes]:
    desk = Desk(date=DATES[0])
    return [encode(x) for date, op in expand(ops) for x in send(desk, date, op)]


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(mixed)
def test_properties_hold_after_every_command(ops):
    first = play(ops)
    assert replay(ops) == first, "the same commands gave different events"


@SETTINGS
@given(gec_heavy)
def test_gec_serials_are_conserved_and_traded_at_most_once(ops):
    first = play(ops)
    assert replay(ops) == first, "the same commands gave different events"


@SETTINGS
@given(pool_heavy)
def test_pooled_lots_taken_a_few_at_a_time_and_mandates_granted_again_keep_every_property(ops):
    """Issue 13: pools that rest while buyers take parts of them, and mandates granted again under them (a grant
    that no longer covers a resting pool's share cancels the pool, its owners given back what is left)."""
    first = play(ops)
    assert replay(ops) == first, "the same commands gave different events"
