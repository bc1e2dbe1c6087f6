"""The real servers that `deploy/test.sh` starts: where they are, and PostgreSQL schemas for tests."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
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
    """The projector's DSN: it owns the database and writes the read model."""
    return address("CERTX_PG_DSN", "CERTX_REQUIRE_PG", "PostgreSQL")


def postgres_reader_dsn() -> str:
    """The reader's DSN: it may read the read model, nothing else."""
    return address("CERTX_PG_READER_DSN", "CERTX_REQUIRE_PG", "PostgreSQL")


def postgres_admin_dsn() -> str:
    """The superuser's DSN, for the tests' set-up only."""
    return address("CERTX_PG_ADMIN_DSN", "CERTX_REQUIRE_PG", "PostgreSQL")


def in_schema(dsn: str, schema: str) -> str:
    """`dsn` with its connections working in `schema`."""
    return f"{dsn}{'&' if '?' in dsn else '?'}options=-csearch_path%3D{schema}"


@dataclass(frozen=True)
class Schema:
    """A schema of a test's own, as each role sees it."""
    name: str
    projector: str     # DSN: owns the schema, creates and writes its tables
    reader: str        # DSN: may read every table the projector creates there, nothing else


@contextmanager
def schema_of_its_own() -> Iterator[Schema]:
    """A new, empty schema, owned by the projector's role as the database's schema public is (so the tests use
    the roles a deployment does); dropped afterwards."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    projector, reader = postgres_dsn(), postgres_reader_dsn()
    owner, readers = conninfo_to_dict(projector)["user"], conninfo_to_dict(reader)["user"]
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_admin_dsn(), autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema} AUTHORIZATION {owner}")
        admin.execute(f"GRANT USAGE ON SCHEMA {schema} TO {readers}")
        admin.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} GRANT SELECT ON TABLES TO {readers}")
        admin.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} GRANT SELECT ON SEQUENCES "
                      f"TO {readers}")
    try:
        yield Schema(schema, in_schema(projector, schema), in_schema(reader, schema))
    finally:
        with psycopg.connect(postgres_admin_dsn(), autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
