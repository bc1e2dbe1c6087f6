"""deploy/postgres.sh on the real server the test command started: every connection needs its role's password,
the reader reads the read model and cannot write it, and a restart keeps the data."""
from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from certx.cli import main as certx
from certx.ledger.journal import Batch
from certx.store import open_store
from tests.servers import postgres_admin_dsn, postgres_dsn, postgres_reader_dsn, schema_of_its_own

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]


def postgres_sh(*args: str) -> subprocess.CompletedProcess:
    """deploy/postgres.sh on the port of the server the test command started."""
    env = dict(os.environ, CERTX_PG_PORT=conninfo_to_dict(postgres_dsn())["port"])
    return subprocess.run(["bash", str(ROOT / "deploy" / "postgres.sh"), *args], env=env, capture_output=True,
                          text=True, timeout=120)


def without_password_files(monkeypatch) -> None:
    """libpq would otherwise take a password from the environment or ~/.pgpass."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", "/nonexistent")


# --- passwords, nothing trusted -------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["admin", "projector", "reader"])
def test_a_wrong_password_is_refused(monkeypatch, role):
    without_password_files(monkeypatch)
    dsn = {"admin": postgres_admin_dsn, "projector": postgres_dsn, "reader": postgres_reader_dsn}[role]()
    with psycopg.connect(dsn, connect_timeout=10):       # the right one is accepted
        pass
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(make_conninfo(dsn, password="not-" + conninfo_to_dict(dsn)["password"]), connect_timeout=10)


def test_nothing_is_trusted_the_superuser_without_its_password_is_refused(monkeypatch):
    without_password_files(monkeypatch)
    admin = conninfo_to_dict(postgres_admin_dsn())
    no_password = make_conninfo("", **{k: v for k, v in admin.items() if k != "password"})
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(no_password, connect_timeout=10)
    # ... and on the unix socket as well as on TCP: every rule the server loaded asks for a password
    with psycopg.connect(postgres_admin_dsn()) as conn:
        rules = conn.execute("SELECT type, auth_method FROM pg_hba_file_rules").fetchall()
    assert {kind for kind, _ in rules} == {"local", "host"}
    assert {method for _, method in rules} == {"scram-sha-256"}


# --- the roles -------------------------------------------------------------------------------------------------

FORGED = ("INSERT INTO gec_cancellations (first, last, kind, owner, beneficiary, trade_id, seq) "
          "VALUES (900, 910, 'trade', 'X', 'forger', 'GEC-F', 1)")


def test_the_reader_reads_the_read_model_and_cannot_write_it(capsys):
    with schema_of_its_own() as schema:
        projector = open_store(schema.projector)            # creates the tables: the projector may
        projector.write(Batch(cancellations=[(1, 10, "trade", "A", "plant-1", "GEC-1", 0)]))
        projector.close()
        with psycopg.connect(schema.reader) as reader:
            assert reader.execute("SELECT first, last, beneficiary FROM gec_cancellations").fetchall() == \
                [(1, 10, "plant-1")]
            for write in (FORGED, "UPDATE gec_cancellations SET beneficiary = 'forger'",
                          "DELETE FROM gec_cancellations", "DELETE FROM marks", "CREATE TABLE forged (a int)"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    reader.execute(write)
                reader.rollback()
        # the queries read as the reader: they do not try to create the tables, which the reader may not
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            open_store(schema.reader)
        assert certx(["retirements", "--beneficiary", "plant-1", "--db", schema.reader]) == 0
        assert [r["serials"] for r in json.loads(capsys.readouterr().out)] == [[1, 10]]
        assert certx(["retirements", "--beneficiary", "forger", "--db", schema.reader]) == 0
        assert json.loads(capsys.readouterr().out) == []


def test_in_the_database_postgres_sh_made_the_projector_writes_and_the_reader_only_reads():
    """The roles as deploy/postgres_roles.sql grants them in schema public (not a test's schema)."""
    table = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_dsn(), autocommit=True) as projector:
        projector.execute(f"CREATE TABLE public.{table} (id BIGSERIAL PRIMARY KEY, note TEXT)")
        try:
            projector.execute(f"INSERT INTO public.{table} (note) VALUES ('by the projector')")
            with psycopg.connect(postgres_reader_dsn(), autocommit=True) as reader:
                assert reader.execute(f"SELECT note FROM public.{table}").fetchall() == [("by the projector",)]
                assert reader.execute(f"SELECT last_value FROM public.{table}_id_seq").fetchone() == (1,)
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    reader.execute(f"INSERT INTO public.{table} (note) VALUES ('forged')")
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    reader.execute(f"CREATE TABLE public.{table}_forged (a int)")
        finally:
            projector.execute(f"DROP TABLE public.{table}")


# --- the data is kept ------------------------------------------------------------------------------------------

def test_start_when_running_says_so_and_prints_the_projectors_dsn():
    out = postgres_sh("start")
    assert out.returncode == 0, out.stderr
    assert "already running" in out.stderr
    assert out.stdout.splitlines()[-1] == postgres_dsn()


def test_restart_keeps_the_data():
    """The test command's server is restarted, not stopped: it runs on for the tests after this one."""
    with schema_of_its_own() as schema:
        with psycopg.connect(schema.projector, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (note TEXT)")
            conn.execute("INSERT INTO kept VALUES ('written before the restart')")
        out = postgres_sh("restart")
        assert out.returncode == 0, out.stderr
        assert "no cluster yet" not in out.stderr and "initdb" not in out.stderr
        assert out.stdout.splitlines()[-1] == postgres_dsn()
        assert postgres_sh("status").returncode == 0
        with psycopg.connect(schema.projector) as conn:
            assert conn.execute("SELECT note FROM kept").fetchall() == [("written before the restart",)]
