"""Accounts, issuance and cash: the registry's and the bank's commands (A1, A2, G3)."""
from __future__ import annotations

from certx.accounts import Wallet
from certx.engine.accounts import Accounts
from certx.engine.rejection import Rejected
from certx.hours.clock import month_hours
from certx.hours.curve import KWH
from certx.pools.mandates import Mandate
from certx.registry.issuance import Batch, month_index
from certx.registry.serials import RangeSet
from certx.wire import commands as c
from certx.wire import events as e
from certx.wire.reasons import Reason
from certx.money import MAX_MARKET_CASH
from certx.wire.routing import home, market_of_product


class RegistryDesk(Accounts):
    def on_account_open(self, cmd: c.AccountOpen, at: int) -> None:
        self.require(cmd.actor, "registry")
        if cmd.account in self.wallets:
            raise Rejected(Reason.duplicate_account, cmd.account)
        self.wallets[cmd.account] = Wallet(cmd.account, cmd.broker)
        if self.market == home(cmd):
            self.out.append(e.AccountOpened(account=cmd.account, broker=cmd.broker))

    def on_issue_cea(self, cmd: c.IssueCea, at: int) -> None:
        self.require(cmd.actor, "registry")
        wallet = self.wallet_of(cmd.account)
        if market_of_product(cmd.product) != "CEA":
            raise Rejected(Reason.unknown_product, cmd.product)
        self.issue(wallet, cmd.product, cmd.quantity)
        self.out.append(e.Issued(account=cmd.account, product=cmd.product, quantity=cmd.quantity))

    def ccer_product(self, project: str, vintage: int) -> str:
        """P2: the CCER product key, pooled by default."""
        return "CCER" if self.rules.ccer_product_key == "pooled" else f"CCER-{project}-{vintage}"

    def on_issue_ccer(self, cmd: c.IssueCcer, at: int) -> None:
        """Both the CCER and the GEC engines see this; both record it (G3), only CCER issues units."""
        self.require(cmd.actor, "registry")
        wallet = self.wallet_of(cmd.account)
        product = self.ccer_product(cmd.project, cmd.vintage)
        if cmd.product != product:
            raise Rejected(Reason.unknown_product, f"CCER product key is {product!r}")
        if self.issuance.ccer_conflict(cmd.project, cmd.vintage):
            raise Rejected(Reason.double_issuance, f"{cmd.project} has GECs for {cmd.vintage}")
        self.issuance.record_ccer(cmd.project, cmd.vintage)
        if self.market != home(cmd):
            return
        if product not in self.products:
            self.list_product(product)
        self.issue(wallet, product, cmd.quantity)
        self.out.append(e.Issued(account=cmd.account, product=product, quantity=cmd.quantity,
                                  project=cmd.project, vintage=cmd.vintage))

    def on_issue_gec(self, cmd: c.IssueGec, at: int) -> None:
        """Both the CCER and the GEC engines see this; both record it (G3), only GEC holds serials."""
        self.require(cmd.actor, "registry")
        self.wallet_of(cmd.account)
        if cmd.last_serial < cmd.first_serial:
            raise Rejected(Reason.malformed, "last_serial is before first_serial")
        if self.issuance.gec_conflict(cmd.project, cmd.production_month, cmd.first_serial, cmd.last_serial):
            raise Rejected(Reason.double_issuance, f"{cmd.project} {cmd.production_month} or serials already issued")
        batch = Batch(cmd.project, cmd.province, cmd.technology, cmd.production_month, cmd.subsidised,
                      cmd.first_serial, cmd.last_serial, self.valid_through(cmd.production_month))
        self.issuance.record_gec(batch)
        if self.market != home(cmd):
            return
        holding = self.serials.get(cmd.account)
        if holding is None:
            holding = self.serials[cmd.account] = RangeSet()
        holding.add(cmd.first_serial, cmd.last_serial)
        self.out.append(e.Issued(
            account=cmd.account, product="GEC", quantity=cmd.last_serial - cmd.first_serial + 1,
            project=cmd.project, serials=[(cmd.first_serial, cmd.last_serial)], province=cmd.province,
            technology=cmd.technology, production_month=cmd.production_month, subsidised=cmd.subsidised,
        ))

    def on_mandate_grant(self, cmd: c.MandateGrant, at: int) -> None:
        """An owner's mandate to an agent for one project (issue 13): the registry's to file, between accounts
        that exist, over days in order; a later grant for the same agent and project replaces it, and cancels the
        agent's resting pools it no longer covers (certx.engine.pools)."""
        self.require(cmd.actor, "registry")
        self.wallet_of(cmd.agent)
        self.wallet_of(cmd.owner)
        if cmd.valid_to < cmd.valid_from:
            raise Rejected(Reason.malformed, "valid_to is before valid_from")
        self.mandates.grant(Mandate(cmd.agent, cmd.owner, cmd.project, cmd.filing_code, cmd.valid_from,
                                    cmd.valid_to))
        self.out.append(e.MandateGranted(agent=cmd.agent, owner=cmd.owner, project=cmd.project,
                                         filing_code=cmd.filing_code, valid_from=cmd.valid_from,
                                         valid_to=cmd.valid_to))
        self.unmandated(cmd.agent, cmd.project)

    def on_curve_attach(self, cmd: c.CurveAttach, at: int) -> None:
        """Issue 13: the registry attaches a project-month's hourly production to the month's GECs (their batches,
        in serial order), once, in production order, while none of them rests in a lot, and only if it adds up
        with them (certx.hours.overlay)."""
        self.require(cmd.actor, "registry")
        project, month, curves = cmd.project, month_index(cmd.production_month), self.curves
        if curves.curve_of(project, month) is not None:
            raise Rejected(Reason.curve_exists, f"{project} has a curve for {cmd.production_month}")
        if not curves.in_order(project, month):
            raise Rejected(Reason.curve_out_of_order,
                           f"{project} has a curve for a month after {cmd.production_month}: curves attach in "
                           f"production order")
        hours = month_hours(month)
        if len(cmd.kwh) != hours:
            raise Rejected(Reason.malformed, f"{len(cmd.kwh)} hourly values for {cmd.production_month}'s {hours} hours")
        batches = [b for b in self.issuance.of_project(project) if b.month == month]
        if not batches:
            raise Rejected(Reason.curve_mismatch, f"no GECs issued for {project} {cmd.production_month}")
        if any(self.lots.listed(b) for b in batches):
            # A curve changes what bids with hours accept: attached under resting lots, it could leave a resting
            # bid crossing one (M4). Before the certificates are listed, or after the close (D2), it cannot.
            raise Rejected(Reason.certificates_listed,
                           f"some of {project} {cmd.production_month}'s certificates rest in a lot")
        ranges = [(b.first, b.last) for b in batches]
        curve = curves.curve(project, month, cmd.kwh, ranges)
        if not curve.adds_up():
            raise Rejected(Reason.curve_mismatch,
                           f"{curve.carry_in} kWh carried in + {curve.total} kWh produced is not {curve.issued} GECs "
                           f"x {KWH} kWh plus a remainder below {KWH}")
        curves.add(curve)
        self.out.append(e.CurveAttached(project=project, production_month=cmd.production_month, serials=ranges,
                                        carry_in=curve.carry_in, carry_out=curve.carry_out, kwh=cmd.kwh))

    def valid_through(self, production_month: str) -> int:
        """G2: valid for 24 months counting the production month; older than 2024 through 2025-12."""
        month = month_index(production_month)
        if month < month_index(self.rules.gec_legacy_before):
            return month_index(self.rules.gec_legacy_valid_until)
        return month + self.rules.gec_validity_months - 1

    def on_funds(self, cmd: c.FundsDeposit | c.FundsWithdraw, at: int) -> None:
        """A1, A2: only the bank moves cash, per account and market."""
        self.require(cmd.actor, "bank")
        wallet = self.wallet_of(cmd.account)
        if isinstance(cmd, c.FundsDeposit):
            if self.cash_total + cmd.amount > MAX_MARKET_CASH:
                raise Rejected(Reason.over_limit,
                               f"the {self.market} market would hold more than {MAX_MARKET_CASH} fen")
            self.deposit(wallet, cmd.amount)
            self.out.append(e.FundsDeposited(account=cmd.account, amount=cmd.amount))
            return
        self.withdraw(wallet, cmd.amount)
        self.out.append(e.FundsWithdrawn(account=cmd.account, amount=cmd.amount))
