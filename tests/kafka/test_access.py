"""Who may do what on the broker (certx.kafka.access): the rights each principal's name gives it (DESIGN 0)."""
from __future__ import annotations

import pytest

from certx.kafka import access


@pytest.mark.parametrize("name", ["certx", "certx-gateway", "certx-matcher", "broker"])
def test_a_principal_whose_own_prefix_covers_another_s_groups_or_transactional_ids_is_refused(tmp_path, name):
    """A principal may use the consumer groups and transactional ids that begin `<name>-`. Named `certx`, a sender
    would own `certx-gateway` (commit the gateway's positions, and their sightings) and `certx-gateway-a` (fence
    the gateway at every start, a sequencer that never runs); named `broker`, beside `broker-a`, it could fence
    broker-a's transactions. The principals file is refused, naming the line (DESIGN 0: each writes only its own)."""
    principals = tmp_path / "principals"
    principals.write_text(f"admin admin a\ngateway gateway g\nbroker-a broker x\n{name} broker y\n")
    with pytest.raises(ValueError, match=":4:"):
        access.read_principals(principals)


def test_the_development_principals_are_read():
    assert {"gateway", "B1", "broker-a"} <= {p.name for p in access.read_principals()}
