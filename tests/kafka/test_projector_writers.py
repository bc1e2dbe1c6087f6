"""Two projectors on one read model (a second instance of the same group, started by mistake or by a process
manager that thought the first was gone): the projector reads `certx.events` by assignment, not as a group
member, so nothing in Kafka keeps the second out, and both write the database. Whatever they interleave, the read
model must stay what one projector would write: A4, each deposit and each fill settled exactly once."""
from __future__ import annotations

import pytest

from certx.kafka.connection import Connection
from certx.kafka.projector import Projector, ProjectorSettings
from certx.store import open_store
from certx.store.sql import Superseded
from certx.wire import events as e


def projector(db: str) -> Projector:
    p = Projector(ProjectorSettings(kafka=Connection("unused: no Kafka here"), db=db))
    p.open()
    return p


def deposit(offset: int, account: str, amount: int) -> tuple:
    """The CEA partition's record at `offset`: a deposit the engine published for the command at that offset."""
    event = e.FundsDeposited(market="CEA", seq=offset, origin=e.Origin(0, offset, 0), ref=f"d{offset}",
                             account=account, amount=amount)
    return (0, offset, event, 1_710_200_000_000 + offset)


def cash(db: str) -> dict:
    store = open_store(db)
    try:
        return {(a, m): v for a, m, v in store.query("SELECT account, market, amount FROM cash")}
    finally:
        store.close()


def test_A4_a_second_projector_behind_the_first_never_takes_the_read_model_back(tmp_path):
    """The first settles two deposits; the second, started with it, settles the first deposit after that. Its
    write must not set the read model back to one deposit with the other's row kept: a projector that starts (or
    reconnects) from there would settle the second deposit twice. It is refused (Superseded: the projector then
    reads the database again, as after a restart) and writes nothing."""
    db = str(tmp_path / "read-model.db")
    ahead, behind = projector(db), projector(db)
    ahead.settle([deposit(0, "A", 100), deposit(1, "B", 50)])
    with pytest.raises(Superseded):
        behind.settle([deposit(0, "A", 100)])
    ahead.store.close()
    behind.store.close()
    again = projector(db)                    # a restart, or either one back from a database restart
    again.settle([deposit(0, "A", 100), deposit(1, "B", 50)][again.journal_offsets().get(0, 0):])
    again.store.close()
    assert cash(db) == {("A", "CEA"): 100, ("B", "CEA"): 50}, "each deposit settled once"
