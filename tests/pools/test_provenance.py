"""Issue 13, aggregators, as settled: a pooled lot's fills settle as the owners' trades (A4: each owner paid its
part, G1: each part cancelled in the buyer's beneficiary's name), and a certificate's provenance (`certx
certificate SERIAL`) still names its own project, with the agent who sold it."""
from __future__ import annotations

from certx.ledger import Ledger
from certx.ledger.journal import Journal
from certx.store import open_store
from certx.wire import settlements as s

from pools.test_pooled_lots import bid, pool_desk, pooled


def test_g1_a4_a_pooled_fill_settles_to_each_owner_and_each_certificate_names_its_project_and_agent(tmp_path):
    d = pool_desk()
    pooled(d, rule="pro_rata", price="2.00")
    bid(d, "b1", "A", 50, "2.00", beneficiary="A data centre")
    d.close_day("GEC")
    journal = Journal(Ledger())
    settled = [x for ev in d.events for x in journal.add(ev)]
    assert not [x for x in settled if isinstance(x, s.SettlementRejected)]
    store = open_store(str(tmp_path / "certx.db"))
    try:
        store.write(journal.take())
        assert [store.holdings(o)["cash"].get("GEC") for o in ("O1", "O2", "O3", "AG")] == \
            ["60.00", "30.00", "10.00", None]
        assert [(r["serials"], r["project"], r["owner"]) for r in store.retirements("A data centre")] == [
            ([1, 30], "PV-1", "A"), ([101, 115], "PV-2", "A"), ([201, 205], "PV-3", "A")]
        c = store.certificate(103)
        assert (c["status"], c["project"]) == ("cancelled", "PV-2")
        steps = {h["step"]: h for h in c["history"]}
        assert list(steps) == ["issued", "listed", "traded", "cancelled"]
        assert (steps["issued"]["account"], steps["listed"]["account"]) == ("O2", "AG")
        assert (steps["traded"]["seller"], steps["traded"]["agent"]) == ("O2", "AG")
        # what the close gave back is the owner's again, listed once and never traded
        left = store.certificate(120)
        assert (left["status"], left["project"]) == ("held", "PV-2")
        assert [h["step"] for h in left["history"]] == ["issued", "listed"]
    finally:
        store.close()
