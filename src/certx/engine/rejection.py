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


class Fault(Exception):
    """Anything but a refusal, raised while a command was applied: a bug, and the engine's state may be half
    changed, so the service stops (crash-only) rather than go on from it. It names where the command is, so the
    operator can find it (`certx tail commands`), and keeps the error as its cause."""

    def __init__(self, market: str, place: str, kind: str, ref: str, error: BaseException) -> None:
        super().__init__(f"the {market} engine failed on the command at {place} ({kind}, ref {ref!r}): "
                         f"{type(error).__name__}: {error}"[:1000])
        self.market, self.place, self.kind, self.ref = market, place, kind, ref
