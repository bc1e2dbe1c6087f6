"""The real servers that `deploy/test.sh` starts: where they are, and PostgreSQL schemas for tests."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from typing import Iterator

import pytest


def address(variable: str, required_by: str, what: str) -> str:
    """A server's address from the environment. Without one the test skips, unless the test command has set
    `required_by`: then it fails, so CI never passes by skipping the real parts."""
    value = os.environ.get(variable)
    if not value:
        if os.environ.get(required_by):
            pytest.fail(f"{variable} is not set but the test command requires the real {what}")
        pytest.skip(f"no {what}: run the suite with `bash deploy/test.sh`")
    return value


def postgres_dsn() -> str:
    return address("CERTX_PG_DSN", "CERTX_REQUIRE_PG", "PostgreSQL")


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
