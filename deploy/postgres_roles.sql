-- certx's roles and database, run as the superuser by deploy/postgres.sh (every start) and by compose's
-- PostgreSQL (once, from /docker-entrypoint-initdb.d). Idempotent: it creates what is missing and grants what
-- is due; it never changes a password or drops anything, so running it on a cluster in use changes nothing.
--
-- From the environment (deploy/postgres.dev.env): CERTX_PG_DB, CERTX_PG_PROJECTOR_PASSWORD,
-- CERTX_PG_READER_PASSWORD.
\set ON_ERROR_STOP on
\getenv db CERTX_PG_DB
\getenv projector_password CERTX_PG_PROJECTOR_PASSWORD
\getenv reader_password CERTX_PG_READER_PASSWORD

-- The projector writes the read model; the reader only reads it (certx holdings, certificate, retirements).
SELECT format('CREATE ROLE certx_projector LOGIN PASSWORD %L', :'projector_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'certx_projector') \gexec
SELECT format('CREATE ROLE certx_reader LOGIN PASSWORD %L', :'reader_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'certx_reader') \gexec

-- The projector owns the database, so in PostgreSQL 15 it owns schema public too (through pg_database_owner):
-- it creates the tables, and every table it creates is its own.
SELECT format('CREATE DATABASE %I OWNER certx_projector', :'db')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec

-- Nobody else connects (superusers always can), and nobody else may create temporary tables.
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO certx_reader;

\connect :"db"
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO certx_reader;
-- SELECT on what exists, and on what the projector creates later (it creates the tables on first connect).
GRANT SELECT ON ALL TABLES IN SCHEMA public TO certx_reader;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO certx_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE certx_projector IN SCHEMA public GRANT SELECT ON TABLES TO certx_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE certx_projector IN SCHEMA public GRANT SELECT ON SEQUENCES TO certx_reader;
