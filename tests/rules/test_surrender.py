"""C1: CEA and CCER surrendered for compliance in one command; CCER at most 5% of the total (configurable);
surrendered units are cancelled, so they leave the holdings for good."""
from __future__ import annotations

import pytest

from support import Desk, only
from certx.rules import Rules
from certx.wire import events as e


def compliance_desk(rules: Rules | None = None, ccer_product: str = "CCER") -> Desk:
    """Account E (broker B1) holding 10,000 t of CEA21 and 1,000 t of CCER (project P1, vintage 2023)."""
    desk = Desk(rules) if rules is not None else Desk()
    desk.open_account("E", "B1")
    desk.issue_cea("E", "CEA21", 10_000)
    desk.send("issue.ccer", actor="registry", account="E", product=ccer_product, project="P1", vintage=2023,
              quantity=1_000)
    return desk


def surrender(desk: Desk, cea: dict[str, int], ccer: int, account: str = "E") -> list[e.Event]:
    return desk.send("surrender", actor="registry", account=account, compliance_year=2024, cea=cea, ccer=ccer)


def units(desk: Desk, market: str, product: str, account: str = "E") -> int:
    """All the account's units of a product: free, held by resting sells, or locked for T+1."""
    pos = desk.engines[market].wallets[account].positions.get(product)
    return 0 if pos is None else pos.total()


def refusals(events: list[e.Event]) -> set[str]:
    """Each leg of a surrender answers for itself; when refused, every answer is a rejection."""
    reasons = {x.reason for x in events if isinstance(x, e.CommandRejected)}
    if reasons:
        assert all(isinstance(x, e.CommandRejected) for x in events), events
    return reasons


@pytest.mark.parametrize("cea,ccer", [(95, 5), (19, 1), (9_500, 500)])
def test_c1_ccer_of_exactly_5_percent_of_the_total_is_accepted(cea, ccer):
    # 5/100 of the total, which is more than 5% of the CEA part alone (5/95): the cap is on the total.
    desk = compliance_desk()
    ev = surrender(desk, {"CEA21": cea}, ccer)
    assert refusals(ev) == set()
    handed_in = {(x.market, p): q for x in only(ev, e.Surrendered) for p, q in x.units.items()}
    assert handed_in == {("CEA", "CEA21"): cea, ("CCER", "CCER"): ccer}
    assert all(x.account == "E" and x.compliance_year == 2024 for x in only(ev, e.Surrendered))
    assert units(desk, "CEA", "CEA21") == 10_000 - cea
    assert units(desk, "CCER", "CCER") == 1_000 - ccer


@pytest.mark.parametrize("cea,ccer", [(95, 6), (18, 1), (9_499, 500), (0, 1)])
def test_c1_ccer_over_5_percent_is_refused_and_nothing_moves(cea, ccer):
    desk = compliance_desk()
    ev = surrender(desk, {"CEA21": cea} if cea else {}, ccer)
    assert refusals(ev) == {"offset_cap_exceeded"}
    assert units(desk, "CEA", "CEA21") == 10_000
    assert units(desk, "CCER", "CCER") == 1_000


def test_c1_surrendered_units_leave_the_holdings_and_cannot_be_sold_or_surrendered_again():
    desk = compliance_desk()
    surrender(desk, {"CEA21": 9_500}, 500)
    assert units(desk, "CEA", "CEA21") == 500
    assert units(desk, "CCER", "CCER") == 500
    assert refusals(surrender(desk, {"CEA21": 501}, 0)) == {"insufficient_holdings"}
    assert refusals(surrender(desk, {"CEA21": 9_519}, 501)) == {"insufficient_holdings"}   # 501 = 5% of 10,020
    # what is left can still be sold, and no more
    desk.list_product("CEA21", "50.00")
    desk.open_day("CEA")
    ev = desk.order("s1", "E", "B1", "CEA21", "sell", 501, "50.00")
    assert [x.reason for x in ev] == ["insufficient_holdings"]
    assert only(desk.order("s2", "E", "B1", "CEA21", "sell", 500, "50.00"), e.OrderAccepted)


def test_c1_cea_only_surrender_across_vintages():
    desk = compliance_desk()
    desk.issue_cea("E", "CEA19-20", 300)
    ev = surrender(desk, {"CEA21": 700, "CEA19-20": 300}, 0)
    [done] = only(ev, e.Surrendered)
    assert done.units == {"CEA21": 700, "CEA19-20": 300}
    assert units(desk, "CEA", "CEA21") == 9_300 and units(desk, "CEA", "CEA19-20") == 0


def test_c1_cea_reserved_by_a_resting_sell_cannot_be_surrendered():
    desk = compliance_desk()
    desk.list_product("CEA21", "50.00")
    desk.open_day("CEA")
    desk.order("s1", "E", "B1", "CEA21", "sell", 9_000, "55.00")
    assert refusals(surrender(desk, {"CEA21": 1_001}, 0)) == {"insufficient_holdings"}
    assert only(surrender(desk, {"CEA21": 1_000}, 0), e.Surrendered)
    pos = desk.engines["CEA"].wallets["E"].positions["CEA21"]
    assert (pos.free, pos.held) == (0, 9_000)


def test_c1_the_cap_is_configurable():
    desk = compliance_desk(Rules(ccer_offset_cap_bps=1_000))
    assert refusals(surrender(desk, {"CEA21": 90}, 10)) == set()
    assert refusals(surrender(desk, {"CEA21": 90}, 11)) == {"offset_cap_exceeded"}


def test_c1_ccer_product_key_per_project_and_vintage():
    rules = Rules(ccer_product_key="project_vintage")
    desk = compliance_desk(rules, ccer_product="CCER-P1-2023")
    # the pooled key is not a product under this rule
    ev = desk.send("issue.ccer", actor="registry", account="E", product="CCER", project="P2", vintage=2024,
                   quantity=100)
    assert refusals(ev) == {"unknown_product"}
    ev = desk.send("issue.ccer", actor="registry", account="E", product="CCER-P2-2024", project="P2",
                   vintage=2024, quantity=100)
    assert only(ev, e.Issued)[0].product == "CCER-P2-2024"
    ccer = desk.engines["CCER"]
    assert {"CCER-P1-2023", "CCER-P2-2024"} <= set(ccer.products)
    # a surrender draws its CCER from the account's CCER products; 1,050 = 5% of 21,000
    desk.issue_cea("E", "CEA21", 10_000)
    ev = surrender(desk, {"CEA21": 19_950}, 1_050)
    [ccer_leg] = [x for x in only(ev, e.Surrendered) if x.market == "CCER"]
    assert ccer_leg.units == {"CCER-P1-2023": 1_000, "CCER-P2-2024": 50}
    assert units(desk, "CCER", "CCER-P1-2023") == 0 and units(desk, "CCER", "CCER-P2-2024") == 50
    assert units(desk, "CEA", "CEA21") == 50


def test_c1_ccer_short_is_refused():
    desk = compliance_desk()
    ev = surrender(desk, {"CEA21": 9_999}, 1)
    assert refusals(ev) == set()
    ev = surrender(desk, {}, 0)
    assert len(ev) == 1 and isinstance(ev[0], e.CommandRejected)
    desk2 = compliance_desk()
    desk2.issue_cea("E", "CEA21", 100_000)
    ev = surrender(desk2, {"CEA21": 100_000}, 1_001)     # 1,001 ≤ 5% of 101,001 but E holds 1,000 CCER
    assert [(x.market, x.reason) for x in ev if isinstance(x, e.CommandRejected)] == \
        [("CCER", "insufficient_holdings")]
    assert units(desk2, "CCER", "CCER") == 1_000



@pytest.mark.parametrize("actor", ["B1", "bank", "operator"])
def test_c1_a1_a_surrender_is_the_registrys_command_not_even_the_accounts_brokers(actor):
    # PROTOCOL lists `surrender` among the registry's commands (who may send what: DOMAIN A1); B1 is E's broker.
    desk = compliance_desk()
    ev = desk.send("surrender", actor=actor, account="E", compliance_year=2024, cea={"CEA21": 9_500}, ccer=500)
    assert refusals(ev) == {"not_authorised"}
    assert units(desk, "CEA", "CEA21") == 10_000
    assert units(desk, "CCER", "CCER") == 1_000
    assert not desk.engines["CEA"].surrenders and not desk.engines["CCER"].surrenders
    assert not desk.engines["CEA"].surrendered and not desk.engines["CCER"].surrendered


# --- C1 across two markets: all or nothing, in two phases through the log -------------------------------------

def kinds(events: list[e.Event]) -> list[tuple[str, str]]:
    return [(x.market, x.__struct_config__.tag) for x in events]


def test_c1_a_two_leg_surrender_is_held_in_both_markets_then_decided_by_its_home_and_committed_in_both():
    desk = compliance_desk()
    ev = surrender(desk, {"CEA21": 95}, 5)
    assert kinds(ev) == [("CEA", "surrender.held"), ("CCER", "surrender.held"), ("CEA", "surrender.decided"),
                         ("CEA", "surrendered"), ("CCER", "surrendered")]
    assert only(ev, e.SurrenderDecided)[0].decision == "commit"
    assert len({x.ref for x in ev}) == 1, "every step carries the surrender's id"
    assert not desk.engines["CEA"].surrenders and not desk.engines["CCER"].surrenders


def engines_with_a_held_surrender():
    """The two engines after phase one of a surrender of 9,500 CEA21 and 500 CCER, before any decision."""
    from certx.wire import commands as c

    desk = compliance_desk()
    cea, ccer = desk.engines["CEA"], desk.engines["CCER"]
    cmd = c.Surrender(id="S1", actor="registry", account="E", compliance_year=2024, cea={"CEA21": 9_500}, ccer=500)
    assert kinds(cea.apply(cmd, 0)) == [("CEA", "surrender.held")]
    assert kinds(ccer.apply(cmd, 0)) == [("CCER", "surrender.held")]
    return desk, cea, ccer


def test_c1_held_units_can_be_neither_sold_nor_surrendered_again_while_the_decision_is_pending():
    from certx.wire import commands as c

    desk, cea, ccer = engines_with_a_held_surrender()
    pos = cea.wallets["E"].positions["CEA21"]
    assert (pos.free, pos.held) == (500, 9_500)
    again = c.Surrender(id="S2", actor="registry", account="E", compliance_year=2024, cea={"CEA21": 501}, ccer=0)
    assert [x.reason for x in cea.apply(again, 0)] == ["insufficient_holdings"]
    desk.list_product("CEA21", "50.00")
    desk.open_day("CEA")
    assert [x.reason for x in desk.order("s1", "E", "B1", "CEA21", "sell", 501, "50.00")] == \
        ["insufficient_holdings"]
    again = c.Surrender(id="S3", actor="registry", account="E", compliance_year=2024, cea={"CEA21": 10_000},
                        ccer=501)                                 # 501 is under 5% of 10,501: only CCER is short
    assert [x.reason for x in ccer.apply(again, 0)] == ["insufficient_holdings"]


def test_c1_the_home_commits_on_a_held_vote_and_the_other_leg_on_the_decision():
    from certx.gateway.relay import relay
    from certx.wire import commands as c

    desk, cea, ccer = engines_with_a_held_surrender()
    vote = c.SurrenderVote(actor="gateway", ref="S1", market="CEA", vote="held", account="E", compliance_year=2024,
                           legs=["CEA", "CCER"])
    decided = cea.apply(vote, 0)
    assert kinds(decided) == [("CEA", "surrender.decided"), ("CEA", "surrendered")]
    ((market, decide),) = relay(decided[0])
    assert market == "CCER" and decide.decision == "commit"
    assert kinds(ccer.apply(decide, 0)) == [("CCER", "surrendered")]
    assert units(desk, "CEA", "CEA21") == 500 and units(desk, "CCER", "CCER") == 500
    assert cea.surrendered == {"CEA21": 9_500} and ccer.surrendered == {"CCER": 500}
    assert cea.apply(vote, 0) == [] and ccer.apply(decide, 0) == [], "a decided surrender is decided once"


def test_c1_a_refused_vote_releases_both_legs():
    from certx.wire import commands as c

    desk, cea, ccer = engines_with_a_held_surrender()
    decided = cea.apply(c.SurrenderVote(actor="gateway", ref="S1", market="CEA", vote="refused"), 0)
    assert kinds(decided) == [("CEA", "surrender.decided"), ("CEA", "surrender.released")]
    assert kinds(ccer.apply(c.SurrenderDecide(actor="gateway", ref="S1", market="CCER", decision="release"), 0)) == \
        [("CCER", "surrender.released")]
    assert (cea.wallets["E"].positions["CEA21"].free, ccer.wallets["E"].positions["CCER"].free) == (10_000, 1_000)
    assert not cea.surrendered and not ccer.surrendered


def test_c1_when_the_home_leg_is_refused_the_held_ccer_leg_is_released():
    """CEA short, CCER held: the CCER leg's vote reaches a home that holds nothing, which decides `release`."""
    desk = compliance_desk()
    ev = surrender(desk, {"CEA21": 19_000}, 1_000)
    assert kinds(ev) == [("CEA", "command.rejected"), ("CCER", "surrender.held"), ("CEA", "surrender.decided"),
                         ("CCER", "surrender.released")]
    assert only(ev, e.CommandRejected)[0].reason == "insufficient_holdings"
    assert units(desk, "CCER", "CCER") == 1_000 and desk.engines["CCER"].wallets["E"].positions["CCER"].free == 1_000


def test_c1_a_leg_that_has_seen_the_surrenders_id_refuses_it_aloud_and_the_held_leg_is_released():
    """The registry's ids are per sender, and each market knows those of the commands it saw: here CCER saw `X` (an
    issue.ccer) and CEA did not. CCER refuses its leg as a duplicate, and must say so, or CEA's leg stays held with no
    decision coming (before: CEA held the 9,500 t for good, and the surrender was never answered as a whole)."""
    desk = compliance_desk()
    desk.send("issue.ccer", id="X", actor="registry", account="E", product="CCER", project="P2", vintage=2022,
              quantity=100)
    ev = desk.send("surrender", id="X", actor="registry", account="E", compliance_year=2024, cea={"CEA21": 9_500},
                   ccer=500)
    assert kinds(ev) == [("CEA", "surrender.held"), ("CCER", "command.rejected"), ("CEA", "surrender.decided"),
                         ("CEA", "surrender.released")]
    assert only(ev, e.CommandRejected)[0].reason == "duplicate_command"
    assert not desk.engines["CEA"].surrenders and desk.engines["CEA"].wallets["E"].positions["CEA21"].free == 10_000
    assert units(desk, "CCER", "CCER") == 1_100


def test_c1_a_held_surrender_survives_a_snapshot_and_is_decided_after_it():
    from certx.engine import snapshot
    from certx.wire import commands as c

    desk, cea, ccer = engines_with_a_held_surrender()
    cea, _ = snapshot.load(snapshot.dump(cea, 7))
    ccer, _ = snapshot.load(snapshot.dump(ccer, 7))
    assert cea.surrenders["S1"].units == {"CEA21": 9_500}
    vote = c.SurrenderVote(actor="gateway", ref="S1", market="CEA", vote="held", account="E", compliance_year=2024,
                           legs=["CEA", "CCER"])
    assert kinds(cea.apply(vote, 0))[-1] == ("CEA", "surrendered")
    assert kinds(ccer.apply(c.SurrenderDecide(actor="gateway", ref="S1", market="CCER", decision="commit"), 0)) == \
        [("CCER", "surrendered")]
