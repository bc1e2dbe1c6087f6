"""`certx holdings | certificate | retirements | compliance`: one question to a read model, read only, answered
as JSON."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from certx.mistakes import BadFile, MissingFile


def query(args: argparse.Namespace, ask, none: str | None = None) -> int:
    """Print the answer as JSON; an answer of None (a certificate never issued) is `null`, exit 1, and the line
    `none` on stderr, with `{db}` the read model asked."""
    import json

    from certx.store import open_store
    from certx.store.sql import is_postgres, sqlite_file
    from certx.store.target import shown

    if not is_postgres(args.db) and not Path(sqlite_file(args.db)).exists():
        raise MissingFile(f"no read model at {args.db}: give --db (a file `certx replay` wrote, or the projector's "
                          f"database)")
    store = open_store(args.db, read_only=True, timeout_s=args.timeout)   # the reader's role may read, nothing more
    try:
        answer = ask(store)
    except Exception as exc:
        if not not_a_read_model(exc):
            raise
        raise BadFile(f"{shown(args.db)} is not a read model ({' '.join(str(exc).split())[:200]}): give "
                      f"--db a file `certx replay` wrote, or the projector's database") from None
    finally:
        store.close()
    print(json.dumps(answer, indent=2, ensure_ascii=False))
    if answer is None and none:
        print(f"certx: {none.format(db=shown(args.db))}", file=sys.stderr)
    return 0 if answer is not None else 1


def not_a_read_model(exc: BaseException) -> bool:
    """A database that answers but holds no read model: not SQLite at all, or without the tables."""
    import sqlite3

    psycopg = sys.modules.get("psycopg")
    return type(exc) is sqlite3.DatabaseError \
        or isinstance(exc, sqlite3.OperationalError) and "no such table" in str(exc) \
        or psycopg is not None and isinstance(exc, psycopg.errors.UndefinedTable)
