"""G3: GEC and CCER exclude each other for the same project and period, and no GEC serial is issued twice.

`issue.ccer` and `issue.gec` reach both the CCER and the GEC engines; the home market issues, the other only
records the period, so each can check G3 in either direction."""
from __future__ import annotations

from support import Desk, only
from certx.wire import events as e


def registry_desk() -> Desk:
    desk = Desk(date="2025-06-16")
    desk.open_account("R", "B1")
    desk.open_account("Q", "B2")
    return desk


def issue_gec(desk: Desk, first: int, last: int, *, project: str = "P1", month: str = "2024-05",
              account: str = "R") -> list[e.Event]:
    return desk.send("issue.gec", actor="registry", account=account, project=project, province="Gansu",
                     technology="wind", production_month=month, subsidised=False,
                     first_serial=first, last_serial=last)


def issue_ccer(desk: Desk, vintage: int, *, project: str = "P1", quantity: int = 1000,
               account: str = "R") -> list[e.Event]:
    return desk.send("issue.ccer", actor="registry", account=account, product="CCER", project=project,
                     vintage=vintage, quantity=quantity)


def refusal(events: list[e.Event]) -> str | None:
    """The reason a cross-market issuance was refused (None if it was not), read from every leg's answer."""
    reasons = {ev.reason for ev in events if isinstance(ev, e.CommandRejected)}
    assert len(reasons) <= 1, events
    if reasons:
        assert all(isinstance(ev, e.CommandRejected) for ev in events), events
        return reasons.pop()
    return None


def gec_held(desk: Desk, account: str = "R") -> list[tuple[int, int]]:
    serials = desk.engines["GEC"].serials.get(account)
    return [] if serials is None else list(serials)


def ccer_free(desk: Desk, account: str = "R") -> int:
    pos = desk.engines["CCER"].wallets[account].positions.get("CCER")
    return 0 if pos is None else pos.free


def test_g3_ccer_refused_for_a_project_year_already_issued_as_gec():
    desk = registry_desk()
    assert refusal(issue_gec(desk, 1, 1000, project="P1", month="2024-05")) is None
    assert refusal(issue_ccer(desk, 2024, project="P1")) == "double_issuance"
    assert ccer_free(desk) == 0
    # another year of the same project, or the same year of another project, is fine
    assert only(issue_ccer(desk, 2023, project="P1"), e.Issued)[0].quantity == 1000
    assert only(issue_ccer(desk, 2024, project="P2"), e.Issued)[0].quantity == 1000
    assert ccer_free(desk) == 2000


def test_g3_gec_refused_for_a_project_year_already_issued_as_ccer():
    desk = registry_desk()
    assert refusal(issue_ccer(desk, 2024, project="P1")) is None
    # any month of that year
    assert refusal(issue_gec(desk, 1, 100, project="P1", month="2024-01")) == "double_issuance"
    assert refusal(issue_gec(desk, 101, 200, project="P1", month="2024-12")) == "double_issuance"
    assert gec_held(desk) == []
    assert refusal(issue_gec(desk, 1, 100, project="P1", month="2025-01")) is None
    assert refusal(issue_gec(desk, 101, 200, project="P2", month="2024-06")) is None
    assert gec_held(desk) == [(1, 200)]


def test_g3_the_exclusion_holds_after_several_batches_of_the_same_kind():
    desk = registry_desk()
    issue_gec(desk, 1, 100, project="P1", month="2024-02")
    issue_gec(desk, 101, 200, project="P1", month="2024-03")     # more GEC for the same year: allowed
    assert gec_held(desk) == [(1, 200)]
    issue_ccer(desk, 2025, project="P1")
    issue_ccer(desk, 2025, project="P1")                          # more CCER for the same vintage: allowed
    assert ccer_free(desk) == 2000
    assert refusal(issue_ccer(desk, 2024, project="P1")) == "double_issuance"
    assert refusal(issue_gec(desk, 201, 300, project="P1", month="2025-07")) == "double_issuance"


def test_g3_a_gec_batch_whose_serials_overlap_earlier_ones_is_refused():
    desk = registry_desk()
    issue_gec(desk, 1001, 2000, project="P1", month="2024-05")
    for first, last in [(1001, 2000), (500, 1001), (2000, 2500), (1200, 1300), (900, 2100)]:
        assert refusal(issue_gec(desk, first, last, project="P9", month="2025-01", account="Q")) == \
            "double_issuance", (first, last)
    assert gec_held(desk, "Q") == []
    # touching, not overlapping: fine
    assert refusal(issue_gec(desk, 2001, 2100, project="P9", month="2025-01", account="Q")) is None
    assert refusal(issue_gec(desk, 1, 1000, project="P9", month="2025-02", account="Q")) is None
    assert gec_held(desk, "Q") == [(1, 1000), (2001, 2100)]
    assert gec_held(desk, "R") == [(1001, 2000)]


def test_g3_only_the_home_market_issues_and_both_keep_the_record():
    desk = registry_desk()
    ev = issue_gec(desk, 1, 100, project="P1", month="2024-05")
    [issued] = only(ev, e.Issued)
    assert issued.market == "GEC" and [tuple(r) for r in issued.serials] == [(1, 100)]
    assert len(ev) == 1
    ev = issue_ccer(desk, 2023, project="P1")
    assert len(ev) == 1 and ev[0].market == "CCER" and isinstance(ev[0], e.Issued)
    for market in ("CCER", "GEC"):
        issuance = desk.engines[market].issuance
        assert issuance.ccer_conflict("P1", 2024) and issuance.gec_conflict("P1", "2023-01", 500, 600)


def test_g3_a_refused_issuance_is_answered_once():
    # DOMAIN "Reject reasons": a refused command's rejection is the only output it causes; the brief: only the
    # home market answers an issue.* (the other market records the period, or refuses it, silently).
    desk = registry_desk()
    issue_gec(desk, 1, 100, project="P1", month="2024-05")
    ev = issue_ccer(desk, 2024, project="P1")
    assert [(x.market, x.reason) for x in ev] == [("CCER", "double_issuance")]
    ev = issue_gec(desk, 50, 60, project="P2", month="2024-05")
    assert [(x.market, x.reason) for x in ev] == [("GEC", "double_issuance")]
