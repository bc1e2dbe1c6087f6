"""A refused command (DOMAIN: reject reasons)."""
from certx.wire.reasons import Reason


class Rejected(Exception):
    """A command broke a rule. Raised before any state changes; the engine turns it into exactly one
    rejection event with a machine-readable reason, a member of `Reason`."""

    def __init__(self, reason: Reason, detail: str = "", leg: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail
        # A refusal of this market's own leg of a multi-market command (a surrender's holdings): this
        # market must say it even when another market answers the command as a whole.
        self.leg = leg
