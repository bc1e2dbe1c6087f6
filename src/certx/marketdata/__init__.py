"""Market data (issue 14): quotes derived from the engine's state after each batch, pure (certx.marketdata.quote)."""
from certx.marketdata.quote import Changes, quotes

__all__ = ["Changes", "quotes"]
