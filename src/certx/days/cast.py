"""Who trades in a built range, and which member broker holds each account (A1).

The brokers are the development principals' broker names (deploy/principals.dev), so a built file can be
replayed through the real gateway as well as embedded. Each account keeps one broker for good, dealt out in turn.

- CEA: generators long on allowances sell (`gen-01`..`gen-12`); short generators (`gen-13`..`gen-24`, the
  compliance accounts that surrender, C1) and traders (`trd-01`..`trd-06`) buy;
- CCER: each registered project's account sells (`dev-<code>`, certx.days.ccer); the short generators buy for
  their 5% offset, and a few corporates for voluntary claims;
- GEC: distributed-PV agents and utility developers sell, corporates buy (certx.days.gec).
"""
from __future__ import annotations

from dataclasses import dataclass

from certx.days import ccer, gec
from certx.days.official import ccer_projects

BROKERS = ("broker-a", "broker-b", "broker-c", "broker-d", "broker-e", "B0", "B1", "B2", "B3")
CEA_SELLERS = [f"gen-{i:02d}" for i in range(1, 13)]
COMPLIANCE = [f"gen-{i:02d}" for i in range(13, 25)]
TRADERS = [f"trd-{i:02d}" for i in range(1, 7)]
VOLUNTARY = 6                     # corporates that also buy CCER


@dataclass(frozen=True)
class Cast:
    brokers: dict[str, str]        # account -> broker, in the order the registry opens them
    cea_sellers: list[str]
    cea_buyers: list[str]
    compliance: list[str]
    ccer_sellers: list[str]
    ccer_buyers: list[str]
    gec_sellers: list[str]
    gec_buyers: list[str]


def cast(markets: tuple[str, ...], gec_scale: float) -> Cast:
    """The accounts the chosen markets need."""
    corporates = gec.buyers(gec_scale)
    cea_buyers = COMPLIANCE + TRADERS if "CEA" in markets else []
    ccer_sellers = [ccer.account(p) for p in ccer_projects()] if "CCER" in markets else []
    ccer_buyers = COMPLIANCE + corporates[:VOLUNTARY] if "CCER" in markets else []
    gec_sellers = gec.AGENTS + gec.DEVELOPERS if "GEC" in markets else []
    gec_buyers = corporates if "GEC" in markets else []
    accounts = (CEA_SELLERS if "CEA" in markets else []) + cea_buyers + ccer_sellers + ccer_buyers \
        + gec_sellers + gec_buyers
    brokers = {a: BROKERS[i % len(BROKERS)] for i, a in enumerate(dict.fromkeys(accounts))}
    return Cast(brokers, CEA_SELLERS if "CEA" in markets else [], cea_buyers,
                COMPLIANCE if "CEA" in markets else [], ccer_sellers, ccer_buyers, gec_sellers, gec_buyers)
