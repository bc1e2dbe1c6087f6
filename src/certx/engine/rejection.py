"""A refused command (DOMAIN: reject reasons)."""


class Rejected(Exception):
    """A command broke a rule. Raised before any state changes; the engine turns it into exactly one
    rejection event with a machine-readable reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail
