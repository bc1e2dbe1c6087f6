"""Engine snapshots (DESIGN 2): the whole state of one market's engine as bytes, including `offset`, the
next input offset it has not applied. Loading a snapshot and applying the log from that offset gives the same
engine as applying the whole log."""
from __future__ import annotations

import pickle
import zlib

from certx.engine.engine import Engine

_MAGIC = b"certx-engine-1:"


def dump(engine: Engine) -> bytes:
    return _MAGIC + zlib.compress(pickle.dumps(engine, protocol=pickle.HIGHEST_PROTOCOL), 1)


def load(data: bytes) -> Engine:
    if not data.startswith(_MAGIC):
        raise ValueError("not a certx engine snapshot")
    engine = pickle.loads(zlib.decompress(data[len(_MAGIC):]))
    if not isinstance(engine, Engine):
        raise ValueError("snapshot does not hold an Engine")
    return engine
