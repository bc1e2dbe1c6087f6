"""`certx days build` writes the .jsonl that `certx replay` accepts, streamed day by day; the official data ships
inside the package (and `$CERTX_DATA` may point elsewhere)."""
from __future__ import annotations

import datetime as dt
import shutil
import tomllib
from pathlib import Path

from certx import cli
from certx.days import build, official

ROOT = Path(__file__).resolve().parents[2]
FILES = ("cea_daily_2021_2023.csv", "cea_daily_2024_2026.csv", "ccer_daily_2024_2026.csv", "ccer_projects.csv")


def test_certx_days_build_then_certx_replay(tmp_path, capsys):
    out = tmp_path / "days.jsonl"
    assert cli.main(["days", "build", "--from", "2021-12-15", "--to", "2021-12-16", "--gec-scale", "0.0005",
                     "--seed", "3", "--out", str(out)]) == 0
    assert "for 2 trading days (CEA, CCER, GEC)" in capsys.readouterr().out
    assert cli.main(["replay", str(out), "--db", ":memory:"]) == 0
    printed = capsys.readouterr().out
    assert "malformed 0" in printed and "rejections by reason:\n  day summaries:" in printed
    assert "CEA        2021-12-16    43.65    45.20    43.15    44.22      901,715   19,579,226" in printed


def test_certx_days_build_refuses_what_it_cannot_build_in_one_line(tmp_path, capsys):
    out = str(tmp_path / "x.jsonl")
    assert cli.main(["days", "build", "--from", "2021-12-16", "--to", "2021-12-16", "--markets", "CEA,ETS",
                     "--out", out]) == 2
    assert cli.main(["days", "build", "--from", "16/12/2021", "--to", "2021-12-16", "--out", out]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and all(line.startswith("certx days build:") for line in errors)


def test_a_range_streams_one_day_at_a_time():
    lines = build.build(dt.date(2021, 7, 16), dt.date(2026, 8, 19), markets=("CEA",))
    first = [next(lines) for _ in range(10)]          # five years, yet the first lines come at once
    assert all(b'"at":"2021-07-16T' in line for line in first)
    lines.close()


def test_the_official_files_ship_with_the_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "days/data/*.csv" in config["tool"]["setuptools"]["package-data"]["certx"]
    packaged = ROOT / "src" / "certx" / "days" / "data"
    assert all((packaged / name).is_file() for name in FILES)
    assert official.data_dir() == packaged


def test_certx_data_points_elsewhere(tmp_path, monkeypatch):
    for name in FILES:
        shutil.copy(ROOT / "src" / "certx" / "days" / "data" / name, tmp_path / name)
    with open(tmp_path / "ccer_daily_2024_2026.csv", "a") as f:
        f.write("2030-01-02,7,700,100\n")
    monkeypatch.setenv("CERTX_DATA", str(tmp_path))
    official.ccer_days.cache_clear()
    try:
        assert official.ccer_days()[dt.date(2030, 1, 2)] == official.CcerDay(dt.date(2030, 1, 2), 7, 70_000)
    finally:
        monkeypatch.delenv("CERTX_DATA")
        official.ccer_days.cache_clear()
    assert dt.date(2030, 1, 2) not in official.ccer_days()


def test_each_refusal_names_the_option_it_refuses(tmp_path, capsys):
    """`--background -1` was answered "--to before --from, a negative scale or fewer than 1 copy", naming neither
    the option at fault nor the one it was; `--from 2021-13-01` only "month must be in 1..12"."""
    out = str(tmp_path / "x.jsonl")
    span = ["--from", "2021-12-15", "--to", "2021-12-16", "--out", out]
    for wrong, named in ((["--background", "-1"], "--background"), (["--gec-scale", "-1"], "--gec-scale"),
                         (["--copies", "0"], "--copies"), (["--from", "2021-12-17"], "--to")):
        assert cli.main(["days", "build", *span, *wrong]) == 2
        err = capsys.readouterr().err
        assert err.startswith("certx days build: ") and named in err and err.count("\n") == 1, err
    assert cli.main(["days", "build", "--from", "2021-13-01", "--to", "2021-12-16", "--out", out]) == 2
    assert "--from" in capsys.readouterr().err


def test_a_range_without_an_official_trading_day_is_refused_not_an_empty_file(tmp_path, capsys):
    """A range before the official files begin (or after they end) wrote an empty file and exited 0: a stream
    the operator would replay to find nothing in it."""
    out = tmp_path / "x.jsonl"
    assert cli.main(["days", "build", "--from", "2019-01-01", "--to", "2019-01-31", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("certx days build: ") and "2021-07-16" in err and err.count("\n") == 1, err
    assert not out.exists()


def test_the_stream_is_never_written_over_the_official_files_it_reads(tmp_path, monkeypatch, capsys):
    """DESIGN 8, as replay and report refuse: `--out` naming an official file (here a copy, through $CERTX_DATA)
    truncated it before the first day was read from it."""
    from certx.mistakes import WouldOverwrite

    data = tmp_path / "data"
    shutil.copytree(official.data_dir(), data)
    monkeypatch.setenv("CERTX_DATA", str(data))
    target = data / FILES[0]
    before = target.read_bytes()
    assert cli.main(["days", "build", "--from", "2021-12-15", "--to", "2021-12-16", "--out", str(target)]) \
        == WouldOverwrite.code
    err = capsys.readouterr().err
    assert err.startswith("certx days build: ") and str(target) in err and err.count("\n") == 1, err
    assert target.read_bytes() == before


def test_a_data_directory_of_other_files_is_one_line(tmp_path, monkeypatch, capsys):
    """$CERTX_DATA naming a folder of files that are not the official statistics came out as a traceback
    (KeyError on a column, IndexError on files without a row)."""
    from certx.mistakes import BadFile

    for content in ("junk\n", "date,product\nnot-a-date,CEA\n"):
        data = tmp_path / str(len(content))
        data.mkdir()
        for name in FILES:
            (data / name).write_text(content)
        monkeypatch.setenv("CERTX_DATA", str(data))
        for cached in (official.cea_days, official.ccer_days, official.ccer_projects):
            cached.cache_clear()
        try:
            code = cli.main(["days", "build", "--from", "2021-12-15", "--to", "2021-12-16", "--out",
                             str(tmp_path / "x.jsonl")])
        finally:
            for cached in (official.cea_days, official.ccer_days, official.ccer_projects):
                cached.cache_clear()
        err = capsys.readouterr().err
        assert code == BadFile.code and err.startswith("certx days build: ") and str(data) in err, err
        assert err.count("\n") == 1
