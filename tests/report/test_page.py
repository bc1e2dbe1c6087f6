"""`certx report` on the shipped sample day replayed embedded: the page and its figures, the page holding all it
needs, and one line and an exit code for a bad input."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from certx import cli
from certx.days.official import data_dir
from certx.mistakes import BadFile, MissingFile, WouldOverwrite
from certx.report import page
from certx.report.figures import build

DATA = data_dir()                    # packaged with certx (or $CERTX_DATA)
OFFICIAL = [DATA / "cea_daily_2021_2023.csv"]
needs_data = pytest.mark.skipif(not OFFICIAL[0].is_file(), reason=f"no official CEA statistics at {DATA}")


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> Path:
    """The sample day's events, as `certx replay --events` writes them."""
    path = tmp_path_factory.mktemp("replay") / "events.jsonl"
    assert cli.main(["replay", "--events", str(path), "--db", ":memory:"]) == 0
    return path


def report(events: Path, out: Path, *options: str) -> dict:
    assert cli.main(["report", str(events), *options, "--out", str(out)]) == 0
    return json.loads(out.with_suffix(".json").read_text())


def test_B1_B2_the_report_s_bands_are_the_bands_the_engine_enforced(events, tmp_path):
    figures = report(events, tmp_path / "report.html")
    [cea] = figures["closes"]
    [today] = cea["days"]
    # The sample's two deliberate price_out_of_band refusals name the limits the engine held them to.
    refusals = [json.loads(line)["detail"] for line in events.read_text().splitlines() if "price_out_of_band" in line]
    assert refusals == ["4738 fen outside [3875, 4737]", "3013 fen outside [3014, 5598]"]
    assert (today["previous_close"], today["close"]) == ("43.06", "44.22")
    assert today["listing_band"] == ["38.75", "47.37"] and today["block_band"] == ["30.14", "55.98"]
    assert {(r["reason"], r["count"]) for r in figures["rejections"]} >= {("price_out_of_band", 2), ("lot_size", 1)}
    assert figures["measures"] is None and figures["official"] is None


@needs_data
def test_D5_the_sample_day_is_the_official_day(events, tmp_path):
    official = report(events, tmp_path / "report.html", "--official", *map(str, OFFICIAL))["official"]
    assert (official["compared"], official["matched"], official["not_replayed"]) == (1, 1, 0)


def test_the_page_holds_everything_it_needs(events, tmp_path):
    figures = report(events, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    assert "(v1.6.32)" in html                                   # uPlot, inlined
    assert "default-src 'none'" in html                          # and the browser may load nothing else
    assert not re.search(r"""\b(src|href)\s*=""", html, re.I)    # no script, style or image from elsewhere
    embedded = re.search(r'<script type="application/json" id="figures">(.*?)</script>', html, re.S).group(1)
    assert json.loads(embedded) == figures


def test_a_name_that_closes_a_script_stays_data():
    figures = build([], source="</script><script>alert(1)</script>.jsonl")
    html = page.render(figures)
    assert html.count("</script>") == 3                          # the figures, uPlot, the page's script
    assert "&lt;/script&gt;&lt;script&gt;" in html               # the title, escaped as HTML


def test_a_bad_input_is_one_line_and_the_bad_file_code(events, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(events.read_bytes().splitlines(keepends=True)[0] + b'{"type": "no.such.event"}\n')
    assert cli.main(["report", str(bad), "--out", str(tmp_path / "r.html")]) == BadFile.code
    assert re.fullmatch(rf"certx report: {re.escape(str(bad))}:2: not an event: .*\n", capsys.readouterr().err)
    measures = tmp_path / "m.json"
    measures.write_text('{"format": "certx.measures/1", "samples": [{"at": "2026-11-30T10:00:00"}]}')
    assert cli.main(["report", str(events), "--measures", str(measures), "--out", str(tmp_path / "r.html")]) == BadFile.code
    assert "has no UTC offset" in capsys.readouterr().err
    assert cli.main(["report", str(tmp_path / "gone.jsonl"), "--out", str(tmp_path / "r.html")]) == MissingFile.code
    assert "gone.jsonl" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_DESIGN_8_the_report_never_writes_over_a_file_it_reads(events, tmp_path, capsys):
    """DESIGN 8: the CLI never deletes data it was not told to. The figures go beside the page as .json, so
    `--measures dec.json --out dec.html` once replaced the measures with the figures (and events kept as
    `ev.json`, with `--out ev.html`, the events; or the page named as the events): each is refused, in one
    line, and nothing is written."""
    measures = tmp_path / "dec.json"
    measures.write_text('{"format": "certx.measures/1", "samples": []}')
    kept = tmp_path / "ev.json"
    kept.write_bytes(events.read_bytes())
    for args, read in ([str(events), "--measures", str(measures), "--out", str(tmp_path / "dec.html")], measures), \
                      ([str(kept), "--out", str(tmp_path / "ev.html")], kept), \
                      ([str(events), "--out", str(events)], events):
        before = read.read_bytes()
        assert cli.main(["report", *args]) == WouldOverwrite.code
        assert re.fullmatch(rf"certx report: .*{re.escape(str(read))}.*\n", capsys.readouterr().err)
        assert read.read_bytes() == before
    assert not (tmp_path / "dec.html").exists() and not (tmp_path / "ev.html").exists()


def test_each_bad_input_names_its_file_in_one_short_printable_line(events, tmp_path, capsys):
    """DESIGN 8, an unlucky operator: a measures file of another format said only "Object contains unknown field
    `type`", a binary official file "'utf-8' codec can't decode byte …", a missing or unreadable file Python's
    "[Errno 2] …"; a megabyte line was echoed whole, a record's escape codes raw to the terminal."""
    from certx.mistakes import NotAllowed

    out = ["--out", str(tmp_path / "r.html")]
    other = tmp_path / "other.json"
    other.write_text('{"type": "quote"}')
    binary = tmp_path / "official.csv"
    binary.write_bytes(b"\xea\x00\xff" * 100)
    huge = tmp_path / "huge.jsonl"
    huge.write_text('{"type": "' + "a" * 1_000_000 + '"}\n')
    escapes = tmp_path / "escapes.jsonl"
    escapes.write_text('{"type": "\\u001b[2J\\u0007"}\n')
    unreadable = tmp_path / "unreadable.jsonl"
    unreadable.write_bytes(events.read_bytes())
    unreadable.chmod(0)
    import os
    can_read_anyway = os.access(unreadable, os.R_OK)         # root
    cases = [([str(events), "--measures", str(other)], BadFile.code, str(other)),
             ([str(events), "--official", str(binary)], BadFile.code, str(binary)),
             ([str(tmp_path / "gone.jsonl")], MissingFile.code, f"no such file: {tmp_path / 'gone.jsonl'}"),
             ([str(tmp_path)], BadFile.code, f"a directory, not a file: {tmp_path}"),
             ([str(huge)], BadFile.code, str(huge)),
             ([str(escapes)], BadFile.code, str(escapes))]
    if not can_read_anyway:
        cases.append(([str(unreadable)], NotAllowed.code, str(unreadable)))
    for args, code, words in cases:
        assert cli.main(["report", *args, *out]) == code, args
        err = capsys.readouterr().err
        assert err.startswith("certx report: ") and words in err and err.count("\n") == 1, err[:400]
        assert len(err) < 1000 and "\x1b" not in err and "\x07" not in err and "[Errno" not in err, err[:400]
    assert not (tmp_path / "r.html").exists()
