"""The real PostgreSQL that `deploy/test.sh` starts, as isolated schemas for tests."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from typing import Iterator

import pytest


def postgres_dsn() -> str:
    """The server's DSN; skips without one, unless CERTX_REQUIRE_PG (set by the test command) makes it fail."""
    dsn = os.environ.get("CERTX_PG_DSN")
    if not dsn:
        if os.environ.get("CERTX_REQUIRE_PG"):
            pytest.fail("CERTX_PG_DSN is not set but the test command requires the real PostgreSQL")
        pytest.skip("no PostgreSQL: run the suite with `bash deploy/test.sh`")
    return dsn


@contextmanager
def schema_of_its_own() -> Iterator[str]:
    """A DSN whose connections work in a new, empty schema, dropped afterwards."""
    import psycopg

    dsn = postgres_dsn()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{dsn}{'&' if '?' in dsn else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
