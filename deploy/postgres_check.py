"""Smoke check for the certx PostgreSQL server (see deploy/postgres.sh).

Usage: python deploy/postgres_check.py DSN

Verifies that the database itself refuses overlapping GEC cancellations: an
int8range column with a GiST exclusion constraint (serials WITH &&).
Uses a temporary table, so it leaves nothing behind. Exits non-zero on failure.
"""

import sys

import psycopg
from psycopg import errors


def main(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        conn.execute(
            "CREATE TEMP TABLE gec_cancelled ("
            " serials int8range NOT NULL, owner text,"
            " EXCLUDE USING gist (serials WITH &&))"
        )
        ins = "INSERT INTO gec_cancelled (serials, owner) VALUES (%s::int8range, %s)"
        conn.execute(ins, ("[1,100]", "alice"))
        try:
            conn.execute(ins, ("[50,60]", "bob"))
        except errors.ExclusionViolation as e:
            print(f"ok: overlapping [50,60] refused: {e.diag.constraint_name}")
        else:
            print("FAIL: overlapping [50,60] was accepted", file=sys.stderr)
            return 1
        conn.execute(ins, ("[101,200]", "carol"))
        rows = conn.execute("SELECT serials::text FROM gec_cancelled ORDER BY serials").fetchall()
        got = [r[0] for r in rows]
        # int8range is canonicalised to half-open form.
        if got != ["[1,101)", "[101,201)"]:
            print(f"FAIL: unexpected rows {got}", file=sys.stderr)
            return 1
        print(f"ok: adjacent [101,200] accepted; rows={got}; server {version}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
