"""The engine: one market's pure, deterministic state machine, `Engine.apply(command, at) -> events`."""
from certx.engine.engine import Engine, Rejected

__all__ = ["Engine", "Rejected"]
