"""The gateway's door, pure (DESIGN stage 0): the actor comes from where a record came from (DOMAIN A1), the time
is the exchange's (U3), and the route comes from the command itself."""
from __future__ import annotations

import msgspec

from certx.gateway import Admitted, Door
from certx.wire import commands as c
from certx.wire.codec import NotAnObject

NOW = 1_790_000_000_000


def raw(**fields) -> bytes:
    return msgspec.json.encode(fields)


def new_order(order_id: str = "o1", product: str = "CEA21", **extra) -> bytes:
    return raw(**{"type": "order.new", "order_id": order_id, "account": "A", "product": product, "side": "buy",
                  "quantity": 1, "price": "1.00", **extra})


def test_A1_the_sender_is_the_actor_when_the_command_names_none():
    admitted = Door().admit(new_order(), "B1", NOW)
    assert isinstance(admitted.command, c.OrderNew) and admitted.command.actor == "B1"
    assert admitted.markets == ("CEA",) and admitted.at == NOW


def test_A1_a_command_naming_another_actor_is_refused_not_authorised_where_it_would_have_gone():
    admitted = Door().admit(new_order(actor="registry", product="GEC"), "B1", NOW)
    refusal = admitted.command
    assert isinstance(refusal, c.Refusal) and refusal.reason == "not_authorised" and refusal.order
    assert (refusal.ref, refusal.account, refusal.actor) == ("o1", "A", "B1") and "registry" in refusal.detail
    assert admitted.markets == ("GEC",)


def test_U3_a_senders_at_counts_for_nothing_on_its_inbound_topic():
    admitted = Door().admit(new_order(at="2020-01-01T10:00:00+08:00"), "B1", NOW)
    assert admitted.at == NOW and admitted.command.at is None, "the time travels only as the record timestamp"


def test_U3_the_replay_path_keeps_recorded_actors_and_times_and_needs_both():
    door = Door()
    admitted = door.admit(new_order(actor="B7", at="2021-12-16T10:00:00+08:00"), None)
    assert admitted.command.actor == "B7" and admitted.at == 1_639_620_000_000
    missing = door.admit(new_order(actor="B7"), None)
    assert missing.command.reason == "malformed" and "`at`" in missing.command.detail


def test_routing_a_cancel_or_lift_by_the_order_it_targets_and_refusing_an_unknown_one():
    door = Door()
    door.admit(new_order("g1", product="GEC"), "B1", NOW)
    cancel = door.admit(raw(type="order.cancel", order_id="g1", account="A"), "B1", NOW)
    assert isinstance(cancel.command, c.OrderCancel) and cancel.markets == ("GEC",)
    lift = door.admit(raw(type="order.lift", order_id="l1", account="B", target="g1", quantity=1), "B2", NOW)
    assert lift.markets == ("GEC",)
    unknown = door.admit(raw(type="order.cancel", order_id="nope", account="A"), "B1", NOW)
    assert unknown.command.reason == "unknown_order" and "market" in unknown.command.detail


def test_A1_another_sender_reusing_an_order_id_routes_neither_the_owners_cancel_nor_the_takers_of_the_order():
    """PROTOCOL: ids are unique per sender, so two senders may use one. The door once remembered the last order of
    an id: B2 sending `o1` for a GEC lot sent B1's cancels of its CEA order `o1`, and every lift of it, to GEC,
    where they were refused (a denial of service on any order whose id another broker can guess)."""
    door = Door()
    door.admit(new_order("o1"), "B1", NOW)                            # B1's CEA order
    door.admit(new_order("o1", product="GEC"), "B2", NOW)             # B2 reuses the id in another market
    cancel = door.admit(raw(type="order.cancel", order_id="o1", account="A"), "B1", NOW)
    assert isinstance(cancel.command, c.OrderCancel) and cancel.markets == ("CEA",)
    lift = door.admit(raw(type="order.lift", order_id="l1", account="B", target="o1", quantity=1), "B3", NOW)
    assert lift.markets == ("CEA",)
    own = door.admit(raw(type="order.cancel", order_id="o1", account="A"), "B2", NOW)
    assert own.markets == ("GEC",), "B2 cancels its own order where it is"
    stranger = door.admit(raw(type="order.cancel", order_id="o1", account="A"), "B4", NOW)
    assert stranger.markets == ("CEA",), "not B4's: where the first o1 is, whose engine says not_authorised"


def test_only_an_id_another_sender_reused_costs_the_door_a_second_entry():
    """The door remembers a million orders: a second map of every (sender, id) took 454 MB for a million (137
    before it, 167 now, with each first order's sender); only a reused id needs a second entry, and an order the
    door forgets takes its sender along."""
    door = Door(remember=3)
    for oid in ("o1", "o2", "o3"):
        door.admit(new_order(oid), "B1", NOW)
    assert (len(door.targets), len(door.owners), len(door.reused)) == (3, 3, 0)
    door.admit(new_order("o3", product="GEC"), "B2", NOW)
    assert door.reused == {("B2", "o3"): "GEC"} and door.targets["o3"] == "CEA"
    door.admit(new_order("o4"), "B1", NOW)                            # o1 forgotten, with its sender
    assert list(door.targets) == ["o2", "o3", "o4"] and "o1" not in door.owners


def test_A1_one_brokers_flood_of_orders_forgets_its_own_orders_never_anothers():
    """The door remembers a bounded number of orders for the commands that target one without naming their market.
    It forgot the oldest of all: a broker sending a million well-formed orders (even orders its engine refuses)
    pushed every other broker's orders out, and their cancels and takers were refused `unknown_order`. When full,
    the sender holding the most gives up its oldest."""
    door = Door(remember=6)
    door.admit(new_order("b1-a", product="GEC"), "B1", NOW)
    door.admit(new_order("b2-a", product="CCER"), "B2", NOW)
    door.admit(new_order("b1-a", product="CCER"), "B2", NOW)       # B2 reuses B1's id: the second memory
    for k in range(50):
        door.admit(new_order(f"flood-{k}"), "B0", NOW)
    assert len(door.targets) == 6 and "flood-0" not in door.targets and "flood-49" in door.targets
    assert set(door.owners) == set(door.targets), "an order forgotten takes its sender along"
    cancel = door.admit(raw(type="order.cancel", order_id="b1-a", account="A"), "B1", NOW)
    lift = door.admit(raw(type="order.lift", order_id="l1", account="B", target="b2-a", quantity=1), "B3", NOW)
    own = door.admit(raw(type="order.cancel", order_id="b1-a", account="A"), "B2", NOW)
    assert (cancel.markets, lift.markets, own.markets) == (("GEC",), ("CCER",), ("CCER",))


def test_the_multi_market_registry_commands_go_to_each_of_their_markets():
    door = Door()
    assert door.admit(raw(type="account.open", id="a", account="A", broker="B1"), "registry", NOW).markets == \
        ("CEA", "CCER", "GEC")
    issue = raw(type="issue.ccer", id="i", account="A", product="CCER", project="P", vintage=2023, quantity=1)
    assert door.admit(issue, "registry", NOW).markets == ("CCER", "GEC")


def test_the_door_remembers_a_bounded_number_of_orders_forgetting_the_oldest():
    door = Door(remember=2)
    for oid, product in (("o1", "CEA21"), ("o2", "GEC"), ("o3", "CCER")):
        door.admit(new_order(oid, product=product), "B1", NOW)
    assert list(door.targets) == ["o2", "o3"]


def test_a_malformed_command_is_answered_where_its_readable_fields_point():
    door = Door()
    door.admit(new_order("g1", product="GEC"), "B1", NOW)
    by_product = door.admit(new_order("bad", product="CCER", side="hold"), "B1", NOW)
    assert by_product.command.reason == "malformed" and by_product.markets == ("CCER",)
    by_target = door.admit(raw(type="order.cancel", order_id="g1", account="A", extra=1), "B1", NOW)
    assert by_target.markets == ("GEC",) and by_target.command.ref == "g1"
    nowhere = door.admit(raw(type="nonsense", id="n1"), "B1", NOW)
    assert nowhere.markets == ("CEA",) and nowhere.command.ref == "n1" and not nowhere.command.order


def test_bytes_that_are_not_an_object_are_for_the_dead_letters():
    assert isinstance(Door().admit(b"\xff not json", "B1", NOW), NotAnObject)
    assert not isinstance(Door().admit(b"{}", "B1", NOW), NotAnObject)


def test_a_refusal_encodes_as_the_command_log_expects():
    from certx.wire.codec import decode_logged, encode

    admitted: Admitted = Door().admit(new_order(actor="registry"), "B1", NOW)
    assert decode_logged(encode(admitted.command)) == admitted.command


def test_a_malformed_gec_match_is_answered_by_the_gec_market():
    # Red team: a gec.match over the 64 kB record limit (8,784 hours of 7-digit loads) was answered on CEA's
    # stream, where the GEC sender watching its market's events would not find it.
    line = raw(type="gec.match", order_id="m1", account="A", start="2025-01-01T00:00:00+08:00",
               loads=[9_999_999] * 8_784, price_cap="5.00")
    assert len(line) > 65_536
    admitted = Door().admit(line, "B1", NOW)
    assert isinstance(admitted.command, c.Refusal) and admitted.command.reason == "malformed"
    assert admitted.command.ref == "m1" and admitted.markets == ("GEC",)
    curve = Door().admit(raw(type="curve.attach", id="k1", project="P", production_month="2025-05", kwh=[-1]),
                         "registry", NOW)
    assert isinstance(curve.command, c.Refusal) and curve.markets == ("GEC",)
