"""The store: writes a journal batch and its Kafka offsets in ONE database transaction (exactly-once
settlement), loads the ledger back on restart, and answers the settlement services' queries."""
from __future__ import annotations

import contextlib
import datetime as dt
import re
import sqlite3
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator

from certx import money
from certx.ledger import Ledger
from certx.ledger.journal import Batch
from certx.mistakes import BadFile, BadSetting, MissingFile
from certx.registry.serials import RangeSet
from certx.rules import DEFAULT
from certx.store import schema
from certx.wire.routing import MARKET_OF


def unavailable(exc: BaseException) -> bool:
    """The database cannot do it now (a restart cut the connection, it is starting up, a disk is full): what was
    not committed was rolled back, so connecting again and doing the same again is the cure. Only PostgreSQL's
    connection can be lost; SQLite is embedded."""
    psycopg = sys.modules.get("psycopg")      # not loaded: no psycopg error can exist (SQLite users never load it)
    return psycopg is not None and isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))


def _refused(exc: BaseException) -> bool:
    """The database refuses the rows themselves (a NUL byte in a TEXT, a number out of range, a constraint):
    doing the same again fails again. (sqlite3 raises OverflowError for an integer past 64 bits.)"""
    psycopg = sys.modules.get("psycopg")
    return isinstance(exc, (sqlite3.DataError, sqlite3.IntegrityError, OverflowError)) or (
        psycopg is not None and isinstance(exc, (psycopg.DataError, psycopg.IntegrityError)))


class CancelledTwice(Exception):
    """The database refused a cancellation that overlaps an earlier one (G1): a bug upstream, caught here."""


class Outdated(BadFile):
    """A read model an earlier release made lacks what this one keeps of the events it settled (`Store`)."""


class Superseded(Exception):
    """Another writer settled into this read model since this one last read or wrote it (a second projector on
    the same database): the batch was not written. What the database holds is the truth; read it again."""


class RowsRefused(Exception):
    """The database refused a batch's rows for what they hold (not G1's constraint: that is CancelledTwice).
    Nothing of the batch was written."""


def open_store(dsn: str, read_only: bool = False, timeout_s: float | None = None, fresh: bool = False) -> "Store":
    """`postgresql://…` for PostgreSQL; anything else is a SQLite file path (or ':memory:'). `read_only` for
    the queries: the store neither creates the tables (a reader role may not) nor writes anything. `timeout_s`
    bounds the wait for a PostgreSQL server that does not answer (libpq's minimum is 2 s). `fresh` deletes the read
    model's tables first (`certx replay --fresh`, told to replace it)."""
    if is_postgres(dsn):
        import psycopg

        extra = {"connect_timeout": max(2, round(timeout_s))} if timeout_s else {}
        try:
            conn = psycopg.connect(dsn, autocommit=False, **extra)
        except psycopg.ProgrammingError as exc:       # raised for a DSN that does not parse, before any I/O
            from certx.store.target import unsaid     # here: target imports this module

            raise BadSetting(f"the database DSN does not parse: {unsaid(str(exc), dsn)}") from None
        conn.read_only = read_only
        return Store(conn, "postgres", read_only, fresh)
    path = sqlite_file(dsn)
    try:
        conn = sqlite3.connect(path, isolation_level=None)
        if read_only:
            conn.execute("PRAGMA query_only=ON")
        else:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.OperationalError as exc:     # 'unable to open database file', said for every cause
        if Path(path).is_dir():
            raise not_a_file(path) from None
        if not Path(path).resolve().parent.is_dir():
            raise MissingFile(f"no folder {Path(path).parent} for the read model {path}") from None
        raise BadFile(f"cannot open the read model {path}: {exc}") from None
    except sqlite3.DatabaseError as exc:        # the file is there, and not SQLite's
        raise BadFile(f"{path} is not a read model ({exc}): give --db a SQLite file certx wrote, or a "
                      f"postgresql:// DSN") from None
    return Store(conn, "sqlite", read_only, fresh)


def is_postgres(dsn: str) -> bool:
    """A `--db` naming PostgreSQL: a URL of its schemes (a file may be called postgres.db)."""
    return dsn.startswith(("postgresql://", "postgres://"))


# libpq's other DSN form, `host=… dbname=… password=…`: certx takes the URL form only, and would have taken this one
# for a SQLite file's name (echoing it, password and all, and creating that file)
_KEYWORDS = re.compile(r"(?:^|\s)(?:host|hostaddr|port|dbname|user|password|passfile|sslmode|service)\s*=")


def sqlite_file(dsn: str) -> str:
    """The SQLite file a `--db` that is no PostgreSQL DSN names (`sqlite:///` taken off, so every check sees the
    file); a DSN of another database, or PostgreSQL's in libpq's key=value form, is a setting certx cannot use,
    said without the rest of it (a password)."""
    if dsn.startswith("sqlite:///"):
        return dsn[len("sqlite:///"):]
    if "://" in dsn:
        raise BadSetting(f"--db takes a postgresql:// DSN or a SQLite file, not a {dsn.partition('://')[0]}:// one")
    if _KEYWORDS.search(dsn):
        raise BadSetting("--db takes a postgresql:// DSN (postgresql://USER:PASSWORD@HOST:PORT/DATABASE) or a SQLite "
                         "file, not libpq's key=value form")
    return dsn


def not_a_file(path: str) -> BadFile:
    return BadFile(f"{path} is a directory, not a read model: give --db a file")


class Store:
    def __init__(self, conn: Any, dialect: str, read_only: bool = False, fresh: bool = False) -> None:
        self.conn = conn
        self.dialect = dialect
        self._reading = False        # inside `snapshot`: the queries share its transaction
        if fresh:
            self._drop()
        if not read_only:
            self._refuse_if_outdated()
            self._exec_script(schema.POSTGRES if dialect == "postgres" else schema.SQLITE)
            if dialect == "sqlite" and "at" not in {row[1] for row in conn.execute("PRAGMA table_info(outbox)")}:
                conn.execute("ALTER TABLE outbox ADD COLUMN at BIGINT")     # a read model older than outbox.at

    # --- plumbing that differs by database ------------------------------------------------------------

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.dialect == "postgres" else text

    def _exec_script(self, script: str) -> None:
        if self.dialect == "sqlite":
            self.conn.executescript(script)
            return
        with self.conn.cursor() as cur:
            # One at a time: CREATE TABLE IF NOT EXISTS beside a concurrent one fails (a duplicate key in pg_type),
            # and two projectors may start at once. The lock ends with the transaction.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('certx read model tables'))")
            cur.execute(script)
        self.conn.commit()

    def query(self, text: str, params: Iterable = ()) -> list[tuple]:
        cur = self.conn.cursor()
        try:
            cur.execute(self._sql(text), tuple(params))
            return cur.fetchall()
        finally:
            cur.close()
            if self.dialect == "postgres" and not self._reading:
                self.conn.rollback()   # reads end their transaction

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """The queries inside read the read model as of one moment: a projector's batch is one transaction, and
        an answer made of several queries, each a transaction of its own, could take some of its rows from before
        a commit and some from after (a buyer's CEA bought and its cash not yet paid: half a trade, A4). One
        read-only transaction instead: REPEATABLE READ in PostgreSQL (its snapshot is taken at the first query),
        a deferred BEGIN in SQLite (WAL: the first read fixes what the transaction sees). Neither blocks the
        projector."""
        if self._reading:
            yield
            return
        self._reading = True
        try:
            if self.dialect == "postgres":
                self.conn.rollback()
                with self.conn.cursor() as cur:
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            else:
                self.conn.execute("BEGIN")
            yield
        finally:
            self._reading = False
            self.conn.rollback()

    def close(self) -> None:
        self.conn.close()

    def lead(self) -> bool:
        """Take the lead of this read model's writers if no one holds it: one projector settles and a second
        stands by, instead of both writing and superseding each other. On PostgreSQL a session advisory lock,
        which the server releases when the session ends (a kill -9 or a cut connection included). SQLite has
        none: there the writers' check (`Superseded`) alone keeps the read model right."""
        if self.dialect != "postgres":
            return True
        return bool(self.query("SELECT pg_try_advisory_lock(hashtext('certx read model writer'))")[0][0])

    def _tables(self) -> set[str]:
        """The read model's tables this database has (in PostgreSQL, on the search path)."""
        if self.dialect == "sqlite":
            return {n for (n,) in self.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
        (found,) = self.query("SELECT " + ", ".join(["to_regclass(?)"] * len(schema.TABLES)), schema.TABLES)
        return {t for t, oid in zip(schema.TABLES, found) if oid is not None}

    def _refuse_if_outdated(self) -> None:
        """An earlier release may have settled events here without a table this one keeps what they settled in (the
        first read models had no `surrenders`): made now, it would be empty, and its queries would answer for events
        it never saw (C1: nothing surrendered). Such a read model is refused, and left as it is."""
        tables = self._tables()
        missing = [t for t in schema.SETTLED if t not in tables]
        if missing and {"marks", "cash"} <= tables and self.holds_read_model():
            raise Outdated(
                f"the read model has settled events but no table {', '.join(missing)}: an earlier release settled "
                f"them without keeping that, and a table made now would be empty, its queries wrong. Nothing was "
                f"changed. Build a new read model (a new database for the projector, which settles certx.events from "
                f"their start, or `certx replay --fresh`), and keep this one until the new one has caught up")

    def holds_read_model(self) -> bool:
        """Whether anything was ever settled here (a replay must not settle on top of it)."""
        return bool(self.query("SELECT 1 FROM marks LIMIT 1") or self.query("SELECT 1 FROM cash LIMIT 1"))

    def _drop(self) -> None:
        for table in schema.TABLES:
            self.conn.execute(f"DROP TABLE IF EXISTS {table}")
        self.conn.commit()

    # --- one batch, one transaction -------------------------------------------------------------------

    def write(self, b: Batch, expected: dict[int, int] | None = None) -> int | None:
        """Everything the batch changed, and the offsets it consumed, atomically. With `expected` (the
        `certx.events` offsets this writer last read or wrote), only if the database still holds exactly those:
        cash and units are written as the amounts a writer's ledger holds, so a writer whose ledger is behind
        what another wrote would take those rows back while the other's offsets stay (Superseded); and then returns
        the outbox's last id as of this commit: what this writer may clear once it has published (`published`)."""
        conn = self.conn
        if self.dialect == "sqlite":
            conn.execute("BEGIN IMMEDIATE" if expected is not None else "BEGIN")    # the write lock, first
        cur = conn.cursor()
        outbox_end = None
        try:
            if expected is not None:
                self._hold_marks(cur, expected)
            self._write(cur, b)
            if expected is not None:            # a projector's write: it clears the outbox up to here
                cur.execute("SELECT max(id) FROM outbox")
                outbox_end = cur.fetchone()[0]
        except Superseded:
            conn.rollback()
            raise
        except Exception as exc:
            conn.rollback()
            if "gec_cancelled_once" in str(exc):
                raise CancelledTwice(str(exc)) from exc
            if _refused(exc):
                raise RowsRefused(f"{type(exc).__name__}: {exc}") from exc
            raise
        finally:
            cur.close()
        conn.commit()
        return outbox_end

    def _hold_marks(self, cur: Any, expected: dict[int, int]) -> None:
        """Take the writers' lock (held to the commit: writers one at a time) and check the offsets."""
        if self.dialect == "postgres":
            cur.execute("LOCK TABLE marks IN EXCLUSIVE MODE")     # readers still read; another writer waits
        cur.execute("SELECT partition, topic_offset FROM marks")
        if dict(cur.fetchall()) != expected:
            raise Superseded("another writer settled into this read model")

    def _write(self, cur: Any, b: Batch) -> None:
        many = cur.executemany
        q = self._sql
        if b.cash:
            many(q("INSERT INTO cash VALUES (?, ?, ?) ON CONFLICT (account, market) DO UPDATE SET amount = excluded.amount"), b.cash)
        if b.units:
            many(q("INSERT INTO units VALUES (?, ?, ?) ON CONFLICT (account, product) DO UPDATE SET quantity = excluded.quantity"), b.units)
        self._append(cur, "gec_issued", b.issued, 10)
        self._append(cur, "gec_listed", b.listed, 7)
        self._append(cur, "trades", b.trades, 10)
        self._append(cur, "gec_cancellations", b.cancellations, 7,
                     "(first, last, kind, owner, beneficiary, trade_id, seq)")
        self._append(cur, "surrenders", b.surrenders, 9)
        self._append(cur, "outbox", b.outbox, 3, "(partition, body, at)", binary=("int4", "bytea", "int8"))
        if b.marks:
            many(q("INSERT INTO marks VALUES (?, ?, ?, ?, ?) ON CONFLICT (partition) DO UPDATE SET "
                   "topic_offset = excluded.topic_offset, origin_offset = excluded.origin_offset, "
                   "origin_index = excluded.origin_index, settlement_seq = excluded.settlement_seq"),
                 [(p, *m) for p, m in sorted(b.marks.items())])

    def _append(self, cur: Any, table: str, rows: list[tuple], width: int, columns: str = "",
                binary: tuple[str, ...] | None = None) -> None:
        if not rows:
            return
        if self.dialect == "postgres":
            # COPY; binary where bytes dominate (text COPY would write them as hex)
            with cur.copy(f"COPY {table} {columns} FROM STDIN" + (" (FORMAT BINARY)" if binary else "")) as copy:
                if binary:
                    copy.set_types(list(binary))
                for row in rows:
                    copy.write_row(row)
        else:
            cur.executemany(f"INSERT INTO {table} {columns} VALUES ({', '.join('?' * width)})", rows)

    # --- outbox: settlement events waiting to be published -------------------------------------------

    def pending(self, limit: int = 50_000) -> list[tuple[int, int, bytes, int | None]]:
        """(id, partition, encoded settlement, command time) of what waits to be published, oldest first."""
        return [(i, p, bytes(body), at) for i, p, body, at in
                self.query("SELECT id, partition, body, at FROM outbox ORDER BY id LIMIT ?", (limit,))]

    def published(self, up_to_id: int | None = None) -> None:
        """Clear the outbox up to an id, or all of it (only with one writer: another's rows, committed after this
        writer's and not yet published, would go too)."""
        cur = self.conn.cursor()
        if self.dialect == "sqlite":
            self.conn.execute("BEGIN")
        if up_to_id is None:
            cur.execute("DELETE FROM outbox")
        else:
            cur.execute(self._sql("DELETE FROM outbox WHERE id <= ?"), (up_to_id,))
        cur.close()
        self.conn.commit()

    # --- restart: the ledger as the database has it ---------------------------------------------------

    def topic_offsets(self) -> dict[int, int]:
        return {p: o for p, o in self.query("SELECT partition, topic_offset FROM marks")}

    def load(self) -> tuple[Ledger, dict[int, int]]:
        """The ledger and the `certx.events` offsets, as of one moment (`snapshot`): each query a transaction of
        its own, another writer's commit between them would give the cash of before it with the offsets of after."""
        with self.snapshot():
            return self.load_ledger(), self.topic_offsets()

    def load_ledger(self) -> Ledger:
        ledger = Ledger()
        ledger.cash = {(a, m): v for a, m, v in self.query("SELECT account, market, amount FROM cash")}
        ledger.units = {(a, p): v for a, p, v in self.query("SELECT account, product, quantity FROM units")}
        for kind, first, last in self.query("SELECT kind, first, last FROM gec_cancellations ORDER BY first"):
            (ledger.cancelled if kind == "trade" else ledger.retired).add(first, last)
        for account, first, last in self.query("SELECT account, first, last FROM gec_issued ORDER BY first"):
            ledger.issued.add(first, last)
            held = ledger.holding(account)
            for a, b in _minus((first, last), ledger.cancelled, ledger.retired):
                held.add(a, b)
        ledger.settled = {t for (t,) in self.query("SELECT trade_id FROM trades")}
        for p, _, offset, index, seq in self.query("SELECT * FROM marks"):
            if offset >= 0:
                ledger.marks[p] = (offset, index)
            ledger.seq[MARKET_OF[p]] = seq
        return ledger

    # --- queries for settlement services --------------------------------------------------------------

    def holdings(self, account: str) -> dict:
        with self.snapshot():
            return self._holdings(account)

    def _holdings(self, account: str) -> dict:
        cash = {m: money.text(v) for m, v in self.query("SELECT market, amount FROM cash WHERE account = ? ORDER BY market", (account,))}
        units = {p: q for p, q in self.query("SELECT product, quantity FROM units WHERE account = ? AND quantity <> 0 "
                                             "ORDER BY product", (account,))}
        gec = []
        for first, last in self.query("SELECT first, last FROM gec_issued WHERE account = ? ORDER BY first", (account,)):
            gone = self.query("SELECT first, last FROM gec_cancellations WHERE first <= ? AND last >= ? ORDER BY first",
                              (last, first))
            gec += _minus((first, last), _ranges(gone))
        return {"account": account, "cash": cash, "units": units,
                "gec": {"serials": gec, "certificates": sum(b - a + 1 for a, b in gec)}}

    def certificate(self, serial: int) -> dict | None:
        """The full provenance of one GEC, each step with its event position. The project is the issuance's, so a
        certificate sold in an aggregator's pooled lot still names its own; its trade names the agent, who listed
        it (the last listing before the trade, when not the seller's own: issue 13)."""
        if not _int64(serial):
            return None                 # no column holds it: never issued
        with self.snapshot():
            return self._certificate(serial)

    def _certificate(self, serial: int) -> dict | None:
        issued = self.query("SELECT account, project, province, technology, production_month, subsidised, seq, "
                            "origin_offset, first, last FROM gec_issued WHERE first <= ? AND last >= ? ", (serial, serial))
        if not issued:
            return None
        i = issued[0]
        history: list[dict] = [{"step": "issued", "account": i[0], "batch": [i[8], i[9]], "seq": i[6], "origin_offset": i[7]}]
        listers: list[tuple[int, str]] = []
        for order_id, account, price, seq, off, first, last in self.query(
                "SELECT order_id, account, price, seq, origin_offset, first, last FROM gec_listed "
                "WHERE first <= ? AND last >= ? ORDER BY seq", (serial, serial)):
            history.append({"step": "listed", "order_id": order_id, "account": account, "price": money.text(price),
                            "lot": [first, last], "seq": seq, "origin_offset": off})
            listers.append((seq, account))
        for kind, owner, beneficiary, trade_id, seq, first, last in self.query(
                "SELECT kind, owner, beneficiary, trade_id, seq, first, last FROM gec_cancellations "
                "WHERE first <= ? AND last >= ?", (serial, serial)):
            if trade_id:
                t = self.query("SELECT price, quantity, buyer, seller, seq, origin_offset FROM trades WHERE trade_id = ?",
                               (trade_id,))[0]
                traded = {"step": "traded", "trade_id": trade_id, "seller": t[3], "buyer": t[2],
                          "price": money.text(t[0]), "seq": t[4], "origin_offset": t[5]}
                lister = next((a for s, a in reversed(listers) if s < t[4]), None)
                if lister is not None and lister != t[3]:
                    traded["agent"] = lister
                history.append(traded)
            history.append({"step": "cancelled" if kind == "trade" else "retired", "owner": owner,
                            "beneficiary": beneficiary, "serials": [first, last], "reason": kind, "seq": seq})
        attrs = dict(zip(("project", "province", "technology", "production_month"), i[1:5]), subsidised=bool(i[5]))
        status = history[-1]["step"] if history[-1]["step"] in ("cancelled", "retired") else "held"
        return {"serial": serial, "status": status, **attrs, "history": history}

    def compliance(self, account: str, year: int) -> dict:
        """C1, as settled: what an account surrendered for a compliance year, by product, the CCER share of the
        total, and each surrender with its command's id and time and the positions of its events."""
        rows = self.query("SELECT ref, market, product, quantity, at, seq, origin_offset FROM surrenders "
                          "WHERE account = ? AND compliance_year = ? ORDER BY at, ref, market, seq, product",
                          (account, year)) if _int64(year) else []
        cea: dict[str, int] = {}
        ccer = 0
        surrenders: dict[str, dict] = {}
        for ref, market, product, quantity, at, seq, offset in rows:
            if market == "CEA":
                cea[product] = cea.get(product, 0) + quantity
            else:
                ccer += quantity
            one = surrenders.setdefault(ref, {"command": ref, "at": _iso(at), "legs": []})
            leg = next((x for x in one["legs"] if x["market"] == market), None)
            if leg is None:
                leg = {"market": market, "units": {}, "seq": seq, "origin_offset": offset}
                one["legs"].append(leg)
            leg["units"][product] = quantity
        total = sum(cea.values()) + ccer
        share = f"{ccer / total:.4f}" if total else None
        return {"account": account, "compliance_year": year, "cea": dict(sorted(cea.items())), "ccer": ccer,
                "total": total, "ccer_share": share, "surrenders": list(surrenders.values())}

    def retirements(self, beneficiary: str) -> list[dict]:
        rows = self.query("SELECT c.first, c.last, c.owner, c.trade_id, c.seq, i.project, i.production_month "
                          "FROM gec_cancellations c LEFT JOIN gec_issued i ON i.first <= c.first AND i.last >= c.last "
                          "WHERE c.beneficiary = ? ORDER BY c.first", (beneficiary,))
        return [{"serials": [a, b], "certificates": b - a + 1, "owner": owner, "trade_id": t, "seq": seq,
                 "project": project, "production_month": month} for a, b, owner, t, seq, project, month in rows]


def _int64(n: int) -> bool:
    """Whether a BIGINT column can hold `n` (a query for anything else is answered from no rows)."""
    return -2**63 <= n < 2**63


def _iso(at: int | None) -> str | None:
    """A command time (epoch ms) in the market's time, China Standard Time."""
    if at is None:
        return None
    return dt.datetime.fromtimestamp(at / 1000, CST).isoformat(timespec="milliseconds")


CST = dt.timezone(dt.timedelta(minutes=DEFAULT.utc_offset_minutes))


def _ranges(rows: Iterable[tuple[int, int]]) -> RangeSet:
    out = RangeSet()
    for a, b in rows:
        out.add(a, b)
    return out


def _minus(span: tuple[int, int], *gone: RangeSet) -> list[tuple[int, int]]:
    """The parts of `span` in none of the sets."""
    cuts = sorted(r for g in gone for r in g.overlap(*span))
    out, at = [], span[0]
    for a, b in cuts:
        if a > at:
            out.append((at, a - 1))
        at = max(at, b + 1)
    if at <= span[1]:
        out.append((at, span[1]))
    return out
