"""The read model's tables. One text for both databases, with the few places they differ marked.

`gec_cancellations` holds every GEC that can never move again: cancelled in a buyer's name (G1) or retired
(G2). The database itself refuses an overlap, whatever the code above it does: an exclusion constraint on
`int8range` in PostgreSQL (SP-GiST: measured faster than GiST for these inserts), a trigger in SQLite (ranges are disjoint, so only the range starting just before
the new one can overlap it).

`outbox.at` (each settlement's command time, its record's timestamp) came after the first read models: PostgreSQL
adds it to an older table here, SQLite in `Store` (it has no ADD COLUMN IF NOT EXISTS).
"""

COMMON = """
CREATE TABLE IF NOT EXISTS cash (account TEXT NOT NULL, market TEXT NOT NULL, amount BIGINT NOT NULL,
    PRIMARY KEY (account, market));
CREATE TABLE IF NOT EXISTS units (account TEXT NOT NULL, product TEXT NOT NULL, quantity BIGINT NOT NULL,
    PRIMARY KEY (account, product));
CREATE TABLE IF NOT EXISTS gec_issued (first BIGINT PRIMARY KEY, last BIGINT NOT NULL, account TEXT NOT NULL,
    project TEXT, province TEXT, technology TEXT, production_month TEXT, subsidised BOOLEAN,
    seq BIGINT NOT NULL, origin_offset BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS gec_issued_account ON gec_issued (account);
CREATE TABLE IF NOT EXISTS gec_listed (first BIGINT NOT NULL, last BIGINT NOT NULL, order_id TEXT NOT NULL,
    account TEXT NOT NULL, price BIGINT NOT NULL, seq BIGINT NOT NULL, origin_offset BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS gec_listed_first ON gec_listed (first);
CREATE TABLE IF NOT EXISTS trades (trade_id TEXT PRIMARY KEY, market TEXT NOT NULL, product TEXT NOT NULL,
    mode TEXT NOT NULL, price BIGINT NOT NULL, quantity BIGINT NOT NULL, buyer TEXT NOT NULL, seller TEXT NOT NULL,
    seq BIGINT NOT NULL, origin_offset BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS surrenders (ref TEXT NOT NULL, account TEXT NOT NULL, compliance_year INTEGER NOT NULL,
    market TEXT NOT NULL, product TEXT NOT NULL, quantity BIGINT NOT NULL, at BIGINT, seq BIGINT NOT NULL,
    origin_offset BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS surrenders_account ON surrenders (account, compliance_year);
CREATE TABLE IF NOT EXISTS marks (partition INTEGER PRIMARY KEY, topic_offset BIGINT NOT NULL,
    origin_offset BIGINT NOT NULL, origin_index INTEGER NOT NULL, settlement_seq BIGINT NOT NULL);
"""

POSTGRES = COMMON + """
CREATE TABLE IF NOT EXISTS gec_cancellations (first BIGINT NOT NULL, last BIGINT NOT NULL, kind TEXT NOT NULL,
    owner TEXT NOT NULL, beneficiary TEXT, trade_id TEXT, seq BIGINT NOT NULL,
    serials int8range GENERATED ALWAYS AS (int8range(first, last, '[]')) STORED,
    CONSTRAINT gec_cancelled_once EXCLUDE USING spgist (serials WITH &&));
CREATE INDEX IF NOT EXISTS gec_cancellations_beneficiary ON gec_cancellations (beneficiary);
CREATE INDEX IF NOT EXISTS gec_cancellations_first ON gec_cancellations (first);
CREATE TABLE IF NOT EXISTS outbox (id BIGSERIAL PRIMARY KEY, partition INTEGER NOT NULL, body BYTEA NOT NULL,
    at BIGINT);
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS at BIGINT;
"""

SQLITE = COMMON + """
CREATE TABLE IF NOT EXISTS gec_cancellations (first BIGINT NOT NULL, last BIGINT NOT NULL, kind TEXT NOT NULL,
    owner TEXT NOT NULL, beneficiary TEXT, trade_id TEXT, seq BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS gec_cancellations_beneficiary ON gec_cancellations (beneficiary);
CREATE UNIQUE INDEX IF NOT EXISTS gec_cancellations_first ON gec_cancellations (first);
CREATE TRIGGER IF NOT EXISTS gec_cancelled_once BEFORE INSERT ON gec_cancellations
BEGIN
    SELECT RAISE(ABORT, 'gec_cancelled_once: serials already cancelled')
    WHERE NEW.last < NEW.first
       OR EXISTS (SELECT 1 FROM (SELECT last FROM gec_cancellations WHERE first <= NEW.last
                                 ORDER BY first DESC LIMIT 1) AS prior WHERE prior.last >= NEW.first);
END;
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, partition INTEGER NOT NULL,
    body BLOB NOT NULL, at BIGINT);
"""

TABLES = ("cash", "units", "gec_issued", "gec_listed", "trades", "surrenders", "marks", "gec_cancellations", "outbox")
# What the settled events left: a table of these made empty beside settled events would misstate them. (The
# outbox only holds what waits to be published.)
SETTLED = tuple(t for t in TABLES if t != "outbox")
