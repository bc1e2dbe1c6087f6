"""The registry's, bank's and operator's commands of a built range (certx.days.year): accounts once, products
listed with their reference (B4), sessions each trading day (D1), deposits within the contract (A2), and the
compliance deadline's surrenders (C1: CEA plus at most 5% CCER, both legs all or nothing)."""
from __future__ import annotations

import datetime as dt
from collections import Counter

from certx.money import MAX_MARKET_CASH, Amount, parse
from certx.wire import events as e

from days.figures import built, official_summary


def test_C1_the_deadline_surrenders_cea_with_at_most_5_percent_ccer_in_two_legs_all_or_nothing():
    b = built("2025-12-30", "2025-12-31")
    asked = [c for c in b.commands if c["type"] == "surrender"]
    assert asked and all(c["compliance_year"] == 2024 and c["at"].startswith("2025-12-31T15:45") for c in asked)
    assert any(c.get("ccer") for c in asked)
    done: dict[str, dict[str, int]] = {}
    for ev in b.events:
        if isinstance(ev, e.Surrendered):
            done.setdefault(ev.ref, {}).update(ev.units)
    assert set(done) == {c["id"] for c in asked}                  # every surrender committed, both legs
    for c in asked:
        units = done[c["id"]]
        cea = sum(q for p, q in units.items() if p.startswith("CEA"))
        ccer = units.get("CCER", 0)
        assert ccer == c.get("ccer", 0) and cea == sum(c["cea"].values())
        assert ccer * 100 <= 5 * (cea + ccer)
        assert all(int(p[3:] or 20) <= 24 for p in c["cea"])       # vintages up to the compliance year
    assert not any(isinstance(ev, e.SurrenderReleased) for ev in b.events)


def test_C1_no_surrender_before_the_ccer_market_or_away_from_the_deadline():
    assert not any(c["type"] == "surrender" for c in built("2023-12-28", "2023-12-29", markets=("CEA",)).commands)
    assert not any(c["type"] == "surrender" for c in built("2025-12-29", "2025-12-30").commands)


def test_B4_products_are_listed_once_with_the_previous_close_or_their_first_open():
    b = built("2023-08-25", "2023-08-29", markets=("CEA",))
    listed = {c["product"]: (c["at"][:10], parse(c["reference_price"])) for c in b.commands
              if c["type"] == "product.list"}
    assert listed == {
        "CEA": ("2023-08-25", official_summary(dt.date(2023, 8, 24), "CEA")["close"]),
        "CEA21": ("2023-08-28", official_summary(dt.date(2023, 8, 28), "CEA21")["open"]),
        "CEA22": ("2023-08-28", official_summary(dt.date(2023, 8, 28), "CEA22")["open"]),
    }


def test_D1_each_market_opens_and_closes_each_of_its_trading_days_and_accounts_open_once():
    b = built("2025-03-06", "2025-03-10")
    sessions = Counter((c["type"], c["market"]) for c in b.commands if c["type"].startswith("session."))
    assert sessions == {("session.open", "CEA"): 3, ("session.close", "CEA"): 3, ("session.open", "CCER"): 2,
                        ("session.close", "CCER"): 2, ("session.open", "GEC"): 3, ("session.close", "GEC"): 3}
    opened = [c["account"] for c in b.commands if c["type"] == "account.open"]
    assert len(opened) == len(set(opened)) and all(c["at"].startswith("2025-03-06") for c in b.commands
                                                    if c["type"] == "account.open")


def test_A2_deposits_stay_within_the_contract_and_a_market_far_under_2_to_the_62_fen():
    b = built("2021-12-31", "2022-01-04")
    deposits = [c for c in b.commands if c["type"] == "funds.deposit"]
    assert {c["at"][:10] for c in deposits} == {"2021-12-31", "2022-01-04"}       # the start of each year
    assert all(parse(c["amount"], Amount) <= Amount.MAX for c in deposits)
    per_market = Counter()
    for c in deposits:
        per_market[c["market"]] += parse(c["amount"])
    assert all(total < MAX_MARKET_CASH // 1_000 for total in per_market.values())
    issued = [c.get("quantity") or c["last_serial"] - c["first_serial"] + 1 for c in b.commands
              if c["type"].startswith("issue.")]
    assert issued and all(1 <= q <= 10**10 for q in issued)


def test_every_line_has_its_time_in_china_and_an_actor_and_the_file_is_in_time_order():
    b = built("2025-07-16", "2025-07-17")
    times = [dt.datetime.fromisoformat(c["at"]) for c in b.commands]
    assert all(c["at"].endswith("+08:00") and c["actor"] for c in b.commands)
    assert times == sorted(times)


def test_C1_the_ccer_leg_is_exactly_the_5_percent_cap_when_the_account_holds_more_and_the_engine_agrees():
    from certx.days import year
    from certx.days.balances import Holdings
    from certx.days.cast import cast
    from certx.days.script import Script
    from certx.replay import Replay

    holdings = Holdings()
    holdings.issue("gen-13", "CEA23", 1_900_000)
    holdings.issue("gen-13", "CCER", 500_000)
    script = Script(dt.date(2024, 12, 31), per_second=1000, scope="20241231")
    setup = script.stream().at(script.time("08:30:00"))
    setup.emit("account.open", id="a", actor="registry", account="gen-13", broker="broker-a")
    setup.emit("issue.cea", id="c", actor="registry", account="gen-13", product="CEA23", quantity=1_900_000)
    setup.emit("issue.ccer", id="v", actor="registry", account="gen-13", product="CCER", project="A210027",
               vintage=2024, quantity=500_000)
    year.surrender(script, holdings, cast(("CEA", "CCER"), 0.001), 2023, ["CEA23"], with_ccer=True)
    replay = Replay()
    events = list(replay.run(script.lines()))
    legs = {ev.market: ev.units for ev in events if isinstance(ev, e.Surrendered)}
    assert legs == {"CEA": {"CEA23": 1_900_000}, "CCER": {"CCER": 100_000}}     # 100,000 / 2,000,000 = 5%
    assert holdings.free("gen-13", "CCER") == 400_000 and holdings.free("gen-13", "CEA23") == 0
