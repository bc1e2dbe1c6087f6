"""How much a built day quotes without trading: orders that rest, and are cancelled or expire at the close.

The exchanges publish no order-to-trade ratio for China's carbon or certificate markets, so the default takes
the shape of the flow certx's engine benchmark measures (loadtest/engine_bench.py: 75% limit orders, about one
in ten crossing, 25% cancels): about ten orders a trade. A built listing trade already takes about 2.2 orders of
its own (a maker, a taker, now and then a second taker or a withdrawn rest), so:

- listing: 8 background orders a trade, which makes about 10 orders a trade, as in the benchmark;
- one background order in 3 is cancelled later in the day (the benchmark's 25% cancels over 75% orders),
  the rest expire at the close (D2);
- block: negotiated, most offers are taken; one offer in 16 trades' worth goes untaken (8/16 = 0.5 an offer);
- auctions: one losing bid for every two winning ones (8/16);
- GEC: 2 background lots or bids a trade (8/4): lots priced above every bid that trades and bids below every
  lot that trades, the unsold certificates that make issuance ten times trading (DOMAIN: 4.73 billion issued,
  446 million traded in 2024).

`scaled(r)` multiplies them all: `--background 0` builds the trades alone.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Background:
    listing: float = 8.0          # resting listing orders per listing trade
    block: float = 0.5            # untaken block offers per taken offer
    auction: float = 0.5          # losing bids per winning bid
    gec: float = 2.0              # resting GEC lots and bids per GEC trade
    cancel_every: int = 3         # every third background order is cancelled, the rest expire (D2)

    def scaled(self, r: float) -> "Background":
        return Background(self.listing * r, self.block * r, self.auction * r, self.gec * r, self.cancel_every)

    @property
    def none(self) -> bool:
        return not (self.listing or self.block or self.auction or self.gec)


DEFAULT = Background()
