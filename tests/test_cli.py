"""DESIGN 8: the CLI never surprises. A mistake is one line on stderr and its own exit code (certx.mistakes), never
a traceback; `certx replay` never settles over a read model it was not told to replace, and says where it
settled. (The mistakes that need the real broker are in tests/kafka/test_operable.py.)"""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from certx import mistakes
from certx.cli import sample_path
from certx.store import open_store

ROOT = Path(__file__).resolve().parents[1]


def certx(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTX_")}
    return subprocess.run([sys.executable, "-m", "certx.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_one_line(run: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert run.returncode == code, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("certx: "), run.stderr
    for word in words:
        assert word in lines[0]


def test_version():
    run = certx("--version")
    assert run.returncode == 0 and run.stdout.startswith("certx ")


def test_a_missing_command_file(tmp_path):
    assert_one_line(certx("replay", str(tmp_path / "nope.jsonl")), mistakes.MissingFile.code, "nope.jsonl")


def test_a_missing_read_model_for_a_query(tmp_path):
    assert_one_line(certx("holdings", "re-01", "--db", str(tmp_path / "nope.db")), mistakes.MissingFile.code)


@pytest.mark.parametrize("content", [b"", b"not a database\n", "another app's SQLite database"])
def test_a_query_of_a_file_that_is_not_a_read_model(tmp_path, content):
    """Each was a traceback (sqlite3: file is not a database, no such table: cash); the file is left as it was."""
    db = tmp_path / "other.db"
    if isinstance(content, bytes):
        db.write_bytes(content)
    else:
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE notes (body TEXT)")
    before = db.read_bytes()
    assert_one_line(certx("holdings", "re-01", "--db", str(db)), mistakes.BadFile.code, "not a read model", str(db))
    assert db.read_bytes() == before


@pytest.mark.parametrize("query,answer", [
    (["certificate", str(10**23)], "null"),
    (["certificate", str(-2**64)], "null"),
    (["compliance", "re-01", str(10**23)], '"total": 0'),
])
def test_a_query_for_a_number_past_64_bits_is_answered(tmp_path, query, answer):
    """A serial or a year no 64-bit column holds: there is no such certificate, nothing surrendered that year
    (it was an OverflowError traceback)."""
    db = tmp_path / "empty.db"
    open_store(str(db)).close()
    run = certx(*query, "--db", str(db))
    assert "Traceback" not in run.stderr and answer in run.stdout, run.stderr


def test_a_dsn_that_does_not_parse():
    assert_one_line(certx("holdings", "re-01", "--db", "postgresql://u@h/x?&&&"), mistakes.BadSetting.code, "DSN")


@pytest.mark.parametrize("dsn", ["postgresql://u:50%off@h/x", "postgresql://u@h/x?password=50%off"])
def test_a_dsn_that_does_not_parse_is_said_without_its_password(dsn):
    """A password with a bare `%` breaks the URI: libpq's answer quoted it (`invalid percent-encoded token:
    "50%off"`), and that was the line on stderr (and the projector's log)."""
    run = certx("holdings", "re-01", "--db", dsn)
    assert_one_line(run, mistakes.BadSetting.code, "DSN", "percent")
    assert "50%off" not in run.stderr


def test_a_database_that_does_not_answer():
    dsn = f"postgresql://certx_reader:x@127.0.0.1:{closed_port()}/certx"
    assert_one_line(certx("holdings", "re-01", "--db", dsn), mistakes.Unreachable.code, "does not answer")


@pytest.mark.parametrize("command", [["tail", "events"], ["status"], ["submit", "FILE", "--replay"], ["serve", "matcher"],
                                     ["topics", "describe"]])
def test_a_closed_broker_port(command, tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text("{}\n")
    command = [str(path) if word == "FILE" else word for word in command]
    run = certx(*command, "--bootstrap", f"127.0.0.1:{closed_port()}", "--timeout", "2")
    assert_one_line(run, mistakes.Unreachable.code, "cannot reach the Kafka broker")


def test_a_missing_kafka_properties_file(tmp_path):
    run = certx("tail", "events", "--kafka-config", str(tmp_path / "nope.properties"))
    assert_one_line(run, mistakes.BadSetting.code, "nope.properties")


def test_replay_without_db_settles_into_a_new_file_each_run(tmp_path):
    """The README's main command, run twice: two read models, neither deleted, each named on stdout."""
    first = certx("replay", "--quiet", cwd=tmp_path)
    second = certx("replay", "--quiet", cwd=tmp_path)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    made = {p.name for p in tmp_path.glob("certx-replay-*.db")}
    assert len(made) == 2
    said = {name for name in made for run in (first, second) if f"({name}, new)" in run.stdout}
    assert said == made


def test_replay_never_settles_over_a_read_model_it_was_not_told_to_replace(tmp_path):
    db = tmp_path / "day.db"
    assert certx("replay", "--quiet", "--db", str(db)).returncode == 0
    before = db.read_bytes()
    assert_one_line(certx("replay", "--quiet", "--db", str(db)), mistakes.WouldOverwrite.code, "--fresh")
    assert db.read_bytes() == before, "untouched"
    fresh = certx("replay", "--quiet", "--db", str(db), "--fresh")
    assert fresh.returncode == 0 and f"({db}, replaced (--fresh))" in fresh.stdout


@pytest.mark.parametrize("name", ["notes.txt", "day.jsonl"])
def test_replay_fresh_never_replaces_a_file_that_is_not_a_read_model(tmp_path, name):
    """--fresh replaces a read model; a --db naming another file by mistake (here even the command file itself)
    was deleted and a read model written in its place."""
    db = tmp_path / name
    db.write_bytes(sample_path().read_bytes() if name == "day.jsonl" else b"precious\n")
    before = db.read_bytes()
    commands = str(db) if name == "day.jsonl" else str(sample_path())
    assert_one_line(certx("replay", commands, "--quiet", "--db", str(db), "--fresh"), mistakes.BadFile.code,
                    "not a read model", str(db))
    assert db.read_bytes() == before, "untouched"


def test_replay_json_is_the_summary_as_json(tmp_path):
    run = certx("replay", "--quiet", "--json", "--db", ":memory:")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    shipped = sum(1 for line in sample_path().read_bytes().splitlines() if line.strip())
    assert summary["commands"] == shipped and summary["read_model"]["how"] == "in memory, not kept"
    assert {"product": "CEA", "date": "2021-12-16", "open": "43.65", "high": "45.20", "low": "43.15",
            "close": "44.22", "listing_volume": 901_715, "block_volume": 19_579_226} in summary["days"]


def test_a_bug_is_not_a_mistake():
    assert mistakes.explain(KeyError("x")) is None


@pytest.mark.parametrize("output", ["--events", "--quotes"])
def test_replay_never_writes_its_output_over_the_command_file(tmp_path, output):
    """DESIGN 8: `certx replay day.jsonl --events day.jsonl` truncated the command file it had just read, and wrote
    the events in its place; now refused in one line, the file as it was, and no read model made."""
    day = tmp_path / "day.jsonl"
    day.write_bytes(sample_path().read_bytes())
    run = certx("replay", str(day), "--quiet", output, str(day), cwd=tmp_path)
    assert_one_line(run, mistakes.WouldOverwrite.code, output, str(day))
    assert day.read_bytes() == sample_path().read_bytes()
    assert not list(tmp_path.glob("certx-replay-*.db"))


def test_replay_reads_a_command_file_from_a_pipe(tmp_path):
    """`certx replay <(zcat days.jsonl.gz)`: the file is a pipe, which replay said was not there."""
    fifo = tmp_path / "commands"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["cp", str(sample_path()), str(fifo)])
    try:
        run = certx("replay", str(fifo), "--quiet", "--json", "--db", ":memory:")
    finally:
        writer.kill()
        writer.wait()
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["commands"] == sum(1 for line in sample_path().read_bytes().splitlines()
                                                     if line.strip())


def test_replay_of_a_directory_is_a_bad_file(tmp_path):
    assert_one_line(certx("replay", str(tmp_path), "--quiet"), mistakes.BadFile.code, "directory", str(tmp_path))


@pytest.mark.parametrize("dsn", ["postgresql://certx:S3CRET@db.example:5432/certx",
                                 "postgresql:///certx?host=db.example&user=certx&password=S3CRET"])
def test_replay_into_postgres_never_prints_the_password(dsn, monkeypatch, capsys):
    """DESIGN 8 and deploy/postgres.sh: a password stays in the DSN it was given. `certx replay --db DSN` printed
    the whole DSN, password and all, as where it settled (and in --json); the database here is SQLite in memory."""
    from certx import cli
    from certx.store import target

    monkeypatch.setattr(target, "open_store", lambda _dsn, **_: open_store(":memory:"))
    for json_out in ((), ("--json",)):
        assert cli.main(["replay", "--quiet", "--db", dsn, *json_out]) == 0
        out = capsys.readouterr()
        assert "db.example" in out.out
        assert "S3CRET" not in out.out + out.err


@pytest.mark.parametrize("command", [["serve", "web", "--port", "PORT"], ["serve", "matcher", "--metrics-port", "PORT"]])
def test_serve_on_a_port_something_else_holds(command):
    """`certx serve web` on a port another process listens on: the supervised child's bind raised, a traceback,
    exit 1, and the supervisor restarted it for ever. Now one line, before anything starts (the broker is not
    even asked: here there is none)."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        run = certx(*[port if word == "PORT" else word for word in command],
                    "--bootstrap", f"127.0.0.1:{closed_port()}", "--timeout", "2")
    assert_one_line(run, mistakes.BadSetting.code, port, "taken")


@pytest.mark.parametrize("command", ["replay", "holdings", "projector"])
@pytest.mark.parametrize("where, code, words", [
    ("a folder", mistakes.BadFile.code, ["directory"]),
    ("missing/x.db", mistakes.MissingFile.code, ["missing"]),
    ("mysql://u:S3CRET@db/x", mistakes.BadSetting.code, ["postgresql://", "mysql://"]),
])
def test_a_read_model_that_cannot_be_opened_is_one_line(tmp_path, command, where, code, words):
    """`--db` naming a folder, a file in a folder that is not there, or a database certx does not speak: sqlite3's
    'unable to open database file' came out as a traceback (replay, and a query of a folder)."""
    db = str(tmp_path) if where == "a folder" else str(tmp_path / where) if "://" not in where else where
    if command == "projector":            # the store the projector opens, without a broker
        with pytest.raises(mistakes.Mistake) as raised:
            open_store(db)
        assert raised.value.code == code and all(w in str(raised.value) for w in words)
        assert "S3CRET" not in str(raised.value)
        return
    args = ["replay", "--quiet", "--db", db] if command == "replay" else ["holdings", "re-01", "--db", db]
    run = certx(*args, cwd=tmp_path)
    assert_one_line(run, code, *words)
    assert "S3CRET" not in run.stderr
    assert not list(tmp_path.glob("certx-replay-*.db")) and not (tmp_path / "mysql:").exists()


def test_a_query_of_a_file_whose_name_begins_with_postgres_creates_nothing(tmp_path):
    """`certx holdings --db postgres-copy.db` (a relative SQLite file that is not there): the query took any --db
    beginning with `postgres` for a DSN, skipped its 'no read model' check, and sqlite3 made an empty file there."""
    run = certx("holdings", "re-01", "--db", "postgres-copy.db", cwd=tmp_path)
    assert_one_line(run, mistakes.MissingFile.code, "postgres-copy.db")
    assert not (tmp_path / "postgres-copy.db").exists()


@pytest.mark.parametrize("command", ["replay", "holdings", "projector"])
def test_a_libpq_keyword_dsn_is_refused_without_its_password(tmp_path, monkeypatch, command):
    """`--db "host=db dbname=certx password=S3CRET"`, libpq's other DSN form, is no postgresql:// URL, so it was
    taken for a SQLite file: the query echoed it, password and all ('no read model at host=… password=S3CRET'), and
    replay and the projector settled into a new file of that name."""
    db = "host=127.0.0.1 dbname=certx user=certx_projector password=S3CRET"
    if command == "projector":
        monkeypatch.chdir(tmp_path)
        with pytest.raises(mistakes.Mistake) as raised:
            open_store(db)
        assert raised.value.code == mistakes.BadSetting.code and "postgresql://" in str(raised.value)
        assert "S3CRET" not in str(raised.value)
    else:
        args = ["replay", "--quiet", "--db", db] if command == "replay" else ["holdings", "re-01", "--db", db]
        run = certx(*args, cwd=tmp_path)
        assert_one_line(run, mistakes.BadSetting.code, "postgresql://")
        assert "S3CRET" not in run.stderr + run.stdout
    assert list(tmp_path.iterdir()) == []


def test_replay_never_settles_over_a_read_model_named_as_a_sqlite_url(tmp_path):
    """`--db sqlite:///day.db` is the file day.db: the guard looked for a file named `sqlite:///day.db`, found none,
    and settled into the read model already there (here, the same day again: a traceback on its trade ids)."""
    db = tmp_path / "day.db"
    assert certx("replay", "--quiet", "--db", str(db)).returncode == 0
    before = db.read_bytes()
    assert_one_line(certx("replay", "--quiet", "--db", f"sqlite:///{db}"), mistakes.WouldOverwrite.code, "--fresh")
    assert db.read_bytes() == before
    assert certx("holdings", "re-01", "--db", f"sqlite:///{db}").returncode == 0


@pytest.mark.parametrize("content", [b"just some notes\n", b"\xea\x00\xff" * 50])
def test_a_principals_file_that_is_not_one_is_a_bad_file(tmp_path, content):
    """`certx topics create --principals FILE` of a file that is not a principals file (or not text) came out as a
    traceback (ValueError, UnicodeDecodeError) before it reached the broker; the mistakes table says 65."""
    principals = tmp_path / "principals"
    principals.write_bytes(content)
    run = certx("topics", "create", "--principals", str(principals), "--bootstrap", f"127.0.0.1:{closed_port()}")
    assert_one_line(run, mistakes.BadFile.code, str(principals))


def test_a_kafka_properties_file_that_is_not_text_is_a_bad_setting(tmp_path):
    """A binary file given as --kafka-config came out as a UnicodeDecodeError traceback."""
    props = tmp_path / "client.properties"
    props.write_bytes(b"\xea\x00\xff" * 50)
    assert_one_line(certx("status", "--kafka-config", str(props)), mistakes.BadSetting.code, str(props))


def test_submit_never_writes_its_measures_over_the_command_file(tmp_path):
    """DESIGN 8: `certx submit day.jsonl --replay --measures day.jsonl` sent the day, then wrote the figures over
    the file it had sent; refused before anything is sent (here, before the broker is even looked for)."""
    day = tmp_path / "day.jsonl"
    day.write_bytes(sample_path().read_bytes())
    run = certx("submit", str(day), "--replay", "--measures", str(day), "--bootstrap", f"127.0.0.1:{closed_port()}")
    assert_one_line(run, mistakes.WouldOverwrite.code, "--measures", str(day))
    assert day.read_bytes() == sample_path().read_bytes()


@pytest.mark.parametrize("pace", [["--rate", "0"], ["--rate", "-5"], ["--rate", "10", "--speed", "600"],
                                  ["--speed", "600", "--max-wait", "-1"],
                                  ["--measures", "m.json", "--catch-up-timeout", "-1"]])
def test_submit_refuses_a_pace_it_cannot_keep(tmp_path, pace):
    """`--rate 0` and `--rate -5` sent as fast as possible, `--rate` beside `--speed` dropped the speed, and a
    negative `--max-wait` moved the due times back: each silently, against what the operator asked."""
    run = certx("submit", str(sample_path()), "--replay", *pace, "--bootstrap", f"127.0.0.1:{closed_port()}")
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("certx submit: error: argument --")


@pytest.mark.parametrize("where", ["missing/events.jsonl", "."])
def test_replay_whose_output_cannot_be_written_leaves_no_read_model(tmp_path, where):
    """`--events` in a folder that is not there (or a folder) was refused only after the run's read model was made:
    an empty certx-replay-….db left behind, named nowhere."""
    run = certx("replay", "--quiet", "--events", where, cwd=tmp_path)
    assert run.returncode in (mistakes.MissingFile.code, mistakes.BadFile.code) and "Traceback" not in run.stderr
    assert not list(tmp_path.glob("certx-replay-*.db"))


@pytest.mark.parametrize("service, option", [("web", ["--metrics-port", "9300"]), ("gateway", ["--db", "x.db"]),
                                             ("projector", ["--port", "9000"]), ("gateway", ["--no-marketdata"]),
                                             ("web", ["--rules", "rules.json"])])
def test_serve_refuses_an_option_its_service_does_not_take(service, option):
    """`certx serve web --metrics-port 9300` started the page and served no metrics, `serve gateway --db` settled
    nowhere: an option for another service was dropped without a word. Refused before the broker is asked."""
    run = certx("serve", service, *option, "--bootstrap", f"127.0.0.1:{closed_port()}")
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("certx serve: ") and option[0] in lines[0], run.stderr


def test_a_certificate_never_issued_is_said_on_stderr_beside_its_null(tmp_path):
    """`certx certificate` of a serial never issued exits 1, as the mistakes table says, but said nothing: only
    `null` on stdout (kept, for the settlement service reading JSON), no line for the operator."""
    db = tmp_path / "empty.db"
    open_store(str(db)).close()
    run = certx("certificate", "2000100001", "--db", str(db))
    assert run.returncode == 1 and run.stdout.strip() == "null"
    assert run.stderr.strip().splitlines() == [f"certx: no GEC 2000100001 was issued in {db}"], run.stderr


def test_the_projector_s_read_model_that_is_not_a_database_is_a_bad_file_left_as_it_was(tmp_path):
    """`certx serve projector --db notes.txt`: sqlite3's 'file is not a database' traceback, at the check before
    the service starts. The file is left as it was."""
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"precious\n" * 100)
    with pytest.raises(mistakes.BadFile, match="not a read model"):
        open_store(str(notes))
    assert notes.read_bytes() == b"precious\n" * 100


def test_submit_refuses_a_line_no_kafka_record_carries_before_sending_anything(tmp_path):
    """A line over the producer's request limit (1 MiB) stopped `certx submit` with aiokafka's
    MessageSizeTooLargeError traceback, after sending the lines before it. Now said, naming the line, and nothing
    is sent (here, the broker is not even looked for)."""
    day = tmp_path / "day.jsonl"
    day.write_bytes(sample_path().read_bytes() + b'{"type":"' + b"a" * (1 << 20) + b'"}\n')
    run = certx("submit", str(day), "--replay", "--bootstrap", f"127.0.0.1:{closed_port()}")
    lines = sum(1 for _ in sample_path().read_bytes().splitlines()) + 1
    assert_one_line(run, mistakes.BadFile.code, f"{day}:{lines}:", "nothing sent")


@pytest.mark.parametrize("timeout", ["0", "-1"])
def test_a_timeout_is_above_zero(timeout):
    """`--timeout 0` or `-1` was taken, and the broker then said to give "no answer in -1 s"."""
    run = certx("status", "--timeout", timeout, "--bootstrap", f"127.0.0.1:{closed_port()}")
    assert run.returncode == 2 and "--timeout" in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_a_timeout_is_a_finite_number_of_seconds_and_a_fraction_is_one(tmp_path):
    """`--timeout inf` was taken, then libpq's connect_timeout could not be made of it: an OverflowError traceback.
    Half a second is a timeout as good as any."""
    dsn = f"postgresql://certx_reader:S3CRET@127.0.0.1:{closed_port()}/certx"
    run = certx("holdings", "re-01", "--db", dsn, "--timeout", "inf")
    assert run.returncode == 2 and "--timeout" in run.stderr and "Traceback" not in run.stderr, run.stderr
    db = tmp_path / "day.db"
    assert certx("replay", "--quiet", "--db", str(db)).returncode == 0
    assert certx("holdings", "re-01", "--db", str(db), "--timeout", "0.5").returncode == 0


@pytest.mark.parametrize("service, option", [("web", ["--port", "70000"]), ("web", ["--port", "-1"]),
                                             ("gateway", ["--metrics-port", "65536"]),
                                             ("matcher", ["--snapshot-every", "0"]),
                                             ("matcher", ["--session-timeout-ms", "-5"])])
def test_serve_refuses_a_number_out_of_its_range(service, option):
    """`certx serve web --port 70000` was an OverflowError traceback from bind(); a snapshot every 0 commands or a
    negative session timeout were taken as given."""
    run = certx("serve", service, *option, "--bootstrap", f"127.0.0.1:{closed_port()}")
    assert run.returncode == 2 and option[0] in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_certx_metrics_port_is_a_port_checked_where_it_is_used():
    """$CERTX_METRICS_PORT was made an int as the parser was built: `abc` ended every certx command (a query, a
    replay) in a ValueError traceback, and 70000 passed the port's bounds (--metrics-port's own check) to bind()."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTX_")}

    def run(value: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "certx.cli", *args], capture_output=True, text=True,
                              env={**env, "CERTX_METRICS_PORT": value}, timeout=120)

    assert run("abc", "certificate", "--help").returncode == 0
    for value in ("abc", "70000"):
        refused = run(value, "serve", "gateway", "--bootstrap", f"127.0.0.1:{closed_port()}")
        assert refused.returncode == 2 and "--metrics-port" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr, refused.stderr
    # set for every service (a shared environment file): not an option given to the web page, which takes none
    web = run("9300", "serve", "web", "--port", "0", "--bootstrap", f"127.0.0.1:{closed_port()}", "--timeout", "1")
    assert web.returncode != 2 and "--metrics-port" not in web.stderr, web.stderr
