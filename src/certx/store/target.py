"""Where `certx replay` settles (DESIGN 8: never delete data it was not told to).

- no `--db`: a new SQLite file named after the run (`certx-replay-20261130-101500.db` in the current folder), so
  the README's main command can run any number of times, and each run's read model stays there to be queried;
- `--db FILE` or `--db postgresql://…` that holds no read model yet: settled there;
- one that already holds a read model: refused (WouldOverwrite), unless `--fresh`, which replaces it and says so;
  a file that is not a read model is never replaced (BadFile);
- `--db :memory:`: nothing kept.
"""
from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from certx.mistakes import BadFile, WouldOverwrite
from certx.store.sql import Outdated, Store, is_postgres, not_a_file, open_store, sqlite_file


class Target(NamedTuple):
    store: Store
    db: str         # where, as it may be shown: a DSN without its password
    how: str        # what was done to get it: new, replaced, in memory


def run_name(now: float | None = None) -> Path:
    """A file of this run's own: named after the time, with a number when the name is taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    path, n = Path(f"certx-replay-{stamp}.db"), 1
    while path.exists():
        n += 1
        path = Path(f"certx-replay-{stamp}-{n}.db")
    return path


def open_target(db: str | None, fresh: bool, timeout_s: float | None = None) -> Target:
    if db is None:
        path = run_name()
        return Target(open_store(str(path)), str(path), "new")
    if db == ":memory:":
        return Target(open_store(db), db, "in memory, not kept")
    if is_postgres(db):
        try:
            store = open_store(db, timeout_s=timeout_s)
        except Outdated:            # an earlier release's read model: one all the same
            store = None
        if store is not None and not store.holds_read_model():
            return Target(store, shown(db), "new")
        if store is not None:
            store.close()
        if not fresh:
            raise WouldOverwrite(f"the database {shown(db)} already holds a read model: give --fresh to replace "
                                 f"it, or another --db")
        return Target(open_store(db, timeout_s=timeout_s, fresh=True), shown(db), "replaced (--fresh)")
    path = Path(sqlite_file(db))
    if path.is_dir():
        raise not_a_file(db)
    if not path.exists():
        return Target(open_store(db), db, "new")
    if not fresh:
        raise WouldOverwrite(f"{db} already exists: give --fresh to replace it, or another --db (without --db, "
                             f"each run settles into a new file)")
    if not _read_model(str(path)):
        raise BadFile(f"{db} is not a read model: --fresh replaces only a read model, give another --db")
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    return Target(open_store(db), db, "replaced (--fresh)")


def _read_model(path: str) -> bool:
    """Whether a file is a SQLite read model (it has the marks table), looked at without writing to it."""
    try:
        with contextlib.closing(sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)) as conn:
            conn.execute("SELECT 1 FROM marks LIMIT 1")
    except sqlite3.DatabaseError:
        return False
    return True


def unsaid(text: str, dsn: str) -> str:
    """`text` (a driver's error about `dsn`) without the DSN's passwords, which libpq quotes when it cannot parse
    them (`invalid percent-encoded token: "50%off"`). Read as libpq reads a URI, but never raising."""
    rest, _, query = dsn.partition("://")[2].partition("?")
    found = [rest.split("/")[0].rpartition("@")[0].partition(":")[2]]
    found += [v for k, _, v in (p.partition("=") for p in query.split("&")) if k.lower() == "password"]
    for password in filter(None, found):
        text = text.replace(password, "(password)")
    return text


def shown(dsn: str) -> str:
    """Where a DSN points, without its password: neither the address's (`user:password@`) nor a `password=`
    parameter (libpq takes both). A file's name as it is."""
    if not is_postgres(dsn):
        return dsn
    try:
        parts = urlsplit(dsn)
    except ValueError:              # not even a URL: nothing of it is safe to show
        return "a PostgreSQL DSN"
    query = "&".join(p for p in parts.query.split("&") if p and p.partition("=")[0].lower() != "password")
    return parts.netloc.rpartition("@")[2] + parts.path + (f"?{query}" if query else "")
