"""The settlement ledger: holdings and cash as settled, from the engine's events (DOMAIN A4, G1, G2, C1)."""
from certx.ledger.ledger import Ledger

__all__ = ["Ledger"]
