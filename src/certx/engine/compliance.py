"""Compliance (DOMAIN C1): an account hands in CEA and CCER for a compliance year, the CCER at most 5% of the total
(configurable); surrendered units are cancelled.

A surrender's CEA leg is in the CEA market and its CCER leg in the CCER market: two partitions, two engines. So a
surrender with both legs is all or nothing by two phases through the log, deterministic and replayable like
everything else:
1. each leg checks its own units (and both the cap, on the same numbers) and either holds them, reserved so that
   they can be neither sold nor surrendered again (`surrender.held`), or refuses its leg (`command.rejected`);
2. the gateway carries the CCER leg's answer to the surrender's home market, CEA, as a `surrender.vote` command;
   CEA decides for both (`surrender.decided`: commit when both legs are held, else release) and concludes its own
   leg (`surrendered` or `surrender.released`);
3. the gateway carries the decision to the CCER leg as a `surrender.decide` command, which concludes it.
The vote and the decision are commands in the log, written by the gateway in a transaction with the positions of
the events they answer: a crash anywhere between the phases loses neither, and writes neither twice.

A surrender with one leg is atomic in its one market: it is cancelled at once (`surrendered`).
"""
from __future__ import annotations

from certx.accounts import Wallet
from certx.engine.accounts import Accounts
from certx.engine.rejection import Rejected
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.reasons import Reason
from certx.wire.routing import market_of_product, markets


class HeldLeg:
    """This market's leg of a two-leg surrender, held until the decision."""

    __slots__ = ("account", "compliance_year", "units", "legs")

    def __init__(self, account: str, compliance_year: int, units: dict[str, int], legs: list[str]) -> None:
        self.account = account
        self.compliance_year = compliance_year
        self.units = units
        self.legs = legs


class ComplianceDesk(Accounts):
    def on_surrender(self, cmd: c.Surrender, at: int) -> None:
        self.require(cmd.actor, "registry")
        wallet = self.wallet_of(cmd.account)
        total = sum(cmd.cea.values()) + cmd.ccer
        if not total:
            raise Rejected(Reason.lot_size, "nothing to surrender")
        if cmd.ccer * 10_000 > self.rules.ccer_offset_cap_bps * total:
            raise Rejected(Reason.offset_cap_exceeded,
                           f"CCER {cmd.ccer} is over {self.rules.ccer_offset_cap_bps / 100}% of {total}")
        take = self._cea_leg(wallet, cmd.cea) if self.market == "CEA" else self._ccer_leg(wallet, cmd.ccer)
        legs = list(markets(cmd))
        if len(legs) == 1:
            self._cancel(wallet, take)
            self.out.append(e.Surrendered(account=cmd.account, compliance_year=cmd.compliance_year, units=take))
            return
        self.hold_for_surrender(wallet, take)
        self.surrenders[cmd.id] = HeldLeg(cmd.account, cmd.compliance_year, take, legs)
        self.out.append(e.SurrenderHeld(account=cmd.account, compliance_year=cmd.compliance_year, units=take,
                                         legs=legs))

    def _cea_leg(self, wallet: Wallet, cea: dict[str, int]) -> dict[str, int]:
        for product, quantity in cea.items():
            pos = wallet.positions.get(product)
            if pos is None or pos.free < quantity:
                raise Rejected(Reason.insufficient_holdings, f"{product}: {pos.free if pos else 0} < {quantity}",
                               leg=True)
        return dict(cea)

    def _ccer_leg(self, wallet: Wallet, quantity: int) -> dict[str, int]:
        """CCER to hand in, from the account's CCER products in name order."""
        take: dict[str, int] = {}
        for product in sorted(wallet.positions):
            if quantity and market_of_product(product) == "CCER":
                n = min(quantity, wallet.positions[product].free)
                if n:
                    take[product] = n
                    quantity -= n
        if quantity:
            raise Rejected(Reason.insufficient_holdings, f"CCER short by {quantity}", leg=True)
        return take

    def on_surrender_vote(self, cmd: c.SurrenderVote, at: int) -> None:
        """The home market hears the other leg's answer, and decides for both."""
        if cmd.ref in self.decided:
            return                  # decided already: a surrender is decided once
        leg = self.surrenders.pop(cmd.ref, None)
        if leg is None:
            # This leg was refused, so nothing is held here: the surrender is released, and the other leg must
            # give back what it holds (if it refused too, nothing is held anywhere and nothing is said).
            if cmd.vote == "held":
                self.decided.add(cmd.ref)
                self.out.append(e.SurrenderDecided(account=cmd.account, compliance_year=cmd.compliance_year,
                                                    decision="release", legs=cmd.legs))
            return
        self.decided.add(cmd.ref)
        decision = "commit" if cmd.vote == "held" else "release"
        self.out.append(e.SurrenderDecided(account=leg.account, compliance_year=leg.compliance_year,
                                            decision=decision, legs=leg.legs))
        self._conclude(leg, decision)

    def on_surrender_decide(self, cmd: c.SurrenderDecide, at: int) -> None:
        """The other leg hears the home market's decision."""
        leg = self.surrenders.pop(cmd.ref, None)
        if leg is not None:
            self._conclude(leg, cmd.decision)

    def _conclude(self, leg: HeldLeg, decision: str) -> None:
        self.conclude_surrender(self.wallets[leg.account], leg.units, decision == "commit")
        if decision == "commit":
            self.surrendered_units(leg.units)
            self.out.append(e.Surrendered(account=leg.account, compliance_year=leg.compliance_year,
                                           units=leg.units))
        else:
            self.out.append(e.SurrenderReleased(account=leg.account, compliance_year=leg.compliance_year,
                                                 units=leg.units))

    def _cancel(self, wallet: Wallet, units: dict[str, int]) -> None:
        self.cancel_free(wallet, units)
        self.surrendered_units(units)

    def surrendered_units(self, units: dict[str, int]) -> None:
        for product, quantity in units.items():
            self.surrendered[product] = self.surrendered.get(product, 0) + quantity

