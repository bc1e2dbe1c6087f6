"""Build the shipped sample trade day, `certx/sample/trade_day.jsonl`, from one real CEA day.

    python -m certx.sample.build [--date 2021-12-16] [--out PATH] [--seed N]

One use of the range builder (certx.days), for one day and one product: its CEA listing, block and background
are certx.days.cea's, so they reproduce the official statistics of the day exactly (open, high, low, close,
listing and block volume and value; the previous trading day's close is the reference price). Around them, what
makes the sample a tour of the engine rather than a load: its own small cast, the registry's set-up, CCER and GEC
scenes written by hand (a lift, multi-transfer, filtered GEC bids, a regional exclusion, a lot of certificates
already cancelled), a surrender at the 5% cap and one over it, and a handful of deliberately refused commands
(see `DELIBERATE`). The background is a quarter of the default (two resting orders a trade) so that the file
stays readable.

Deterministic: a seeded `random.Random` and nothing else, times in whole seconds.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
from collections import Counter
from pathlib import Path
from typing import Any

from certx.days import cea as cea_market, official, year
from certx.days.background import DEFAULT as BACKGROUND
from certx.days.balances import Budget, Holdings
from certx.days.exact import LISTING_MAX
from certx.days.listing import Tickets, schedule, windows
from certx.days.official import CeaDay
from certx.days.script import Script, hms, yuan
from certx.wire.reasons import Reason

DEFAULT_DATE = "2021-12-16"
DEFAULT_OUT = Path(__file__).resolve().parent / "trade_day.jsonl"
SAMPLE_BACKGROUND = BACKGROUND.scaled(0.25)

# The commands in the file that are meant to be refused: reason -> number of rejection events (one each:
# the surrender over the 5% cap reaches the CEA and the CCER partitions, and only its home market answers).
DELIBERATE = Counter({
    Reason.price_out_of_band: 2, Reason.not_authorised: 2, Reason.market_closed: 2, Reason.insufficient_funds: 1,
    Reason.lot_size: 1, Reason.already_cancelled: 1, Reason.offset_cap_exceeded: 1,
})

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


def build(day: CeaDay, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    script = Script(day.date)
    broker = {a: rng.choice(BROKERS) for a in SELLERS + BUYERS + [SMALL] + DEVELOPERS + CORPORATES}
    cea = day.product
    ym = day.date.year * 12 + day.date.month - 1
    listing_band, block_band = cea_market.bands(day.reference)

    def month(back: int) -> str:
        y, m = divmod(ym - back, 12)
        return f"{y}-{m + 1:02d}"

    def other_broker(account: str) -> str:
        return next(b for b in BROKERS if b != broker[account])

    # --- set-up: accounts, products, issuance, cash (before the open) -----------------------------------
    setup = script.stream().at(hms("08:30:00"))

    def reg(type_: str, **f: Any) -> None:
        setup.emit(type_, id=script.next_id("reg"), actor="registry", **f)

    def bank(account: str, market: str, amount_fen: int) -> None:
        setup.emit("funds.deposit", id=script.next_id("bank"), actor="bank", account=account, market=market,
                   amount=yuan(amount_fen))

    holdings = Holdings()
    for account, b in broker.items():
        reg("account.open", account=account, broker=b)
    year.list_product(script, setup, day)
    setup.emit("product.list", id=script.next_id("op"), actor="operator", market="CCER", product="CCER")
    for a in SELLERS:
        reg("issue.cea", account=a, product=cea, quantity=SELLER_ISSUE)
        holdings.issue(a, cea, SELLER_ISSUE)
    holdings.take(SELLERS[0], cea, SURRENDER_CEA)           # gen-01 keeps its surrender
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
        holdings.deposit(a, "CEA", BUYER_CASH)
    bank(SMALL, "CEA", 1_000_000 * 100)
    for a, amount in (("gen-01", 1_000_000), ("corp-01", 1_000_000), ("corp-02", 1_000_000), ("corp-03", 500_000)):
        bank(a, "CCER", amount * 100)
    for a, amount in (("corp-01", 2_000_000), ("corp-02", 2_000_000), ("corp-03", 3_000_000)):
        bank(a, "GEC", amount * 100)
    year.sessions(script, ["CEA", "CCER", "GEC"])

    # --- CEA listing: the official day's trades and background (certx.days), and refused orders -------------
    budget = Budget(rng, holdings, "CEA", BUYERS, SELLERS, [cea])
    tickets = Tickets(script, broker, cea, "CEA")
    items = cea_market.listing_day(rng, script, day, budget, tickets, [], SAMPLE_BACKGROUND)
    order = tickets.new
    refused = [
        # B1: the band's upper limit is reference × 1.1 rounded half-up; one fen above it is refused
        [("order.new", order(BUYERS[2], "buy", 5_000, listing_band[1] + 1))],
        # A2: a small trader's cash does not cover price × quantity
        [("order.new", order(SMALL, "buy", LISTING_MAX, day.close))],
        # A1: a broker that does not hold the account
        [("order.new", dict(order(SELLERS[1], "sell", 2_000, day.high), actor=other_broker(SELLERS[1])))],
        # S1: a listing order above 99,999 t belongs in the block market
        [("order.new", order(SELLERS[2], "sell", 120_000, day.close))],
    ]
    for item in refused:
        items.insert(rng.randint(1, len(items)), item)
    schedule(rng, script.stream(), items, windows(script, cea_market.RULES.listing_sessions), script.per_second)
    # D1: an order in the lunch break
    script.stream().at(hms("12:05:00")).emit("order.new", **order(BUYERS[3], "buy", 1_000, day.close))

    # --- CEA block (13:00-15:00) -----------------------------------------------------------------------
    # D1: a block offer in the morning is outside the block session
    script.stream().at(hms("10:30:00")).emit("order.new", **order(SELLERS[3], "sell", 500_000, day.close,
                                                                   oid=script.next_id("blk"), mode="block"))
    blocks = cea_market.block_items(rng, script, day, budget, tickets, [], SAMPLE_BACKGROUND)
    # A1/M2: an addressed offer may only be taken by the account it names
    item = next(it for it in blocks if it[0][1].get("counterparty") and len(it) > 1)
    offer, accept = item[0][1], item[1][1]
    intruder = next(a for a in BUYERS + SELLERS if a not in (offer["counterparty"], offer["account"]))
    item.insert(1, ("order.accept", tickets.accept(intruder, offer["order_id"], accept["quantity"])))
    # B2: a block offer one fen below reference × 0.7 is refused
    low_offer = order(SELLERS[4], "sell", 300_000, block_band[0] - 1, oid=script.next_id("blk"), mode="block")
    blocks.insert(rng.randint(0, len(blocks)), [("order.new", low_offer)])
    schedule(rng, script.stream(), blocks, windows(script, cea_market.RULES.block_sessions), script.per_second)

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
    parser.add_argument("--product", default="CEA", help="the CEA product (the 2021 data's product is CEA)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=None, help="default: the date as a number (20211216)")
    args = parser.parse_args(argv)
    day = official.cea_day(dt.date.fromisoformat(args.date), args.product)
    seed = args.seed if args.seed is not None else int(args.date.replace("-", ""))
    lines = build(day, seed)
    args.out.write_bytes(b"\n".join(lines) + b"\n")
    print(f"wrote {len(lines)} commands to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
