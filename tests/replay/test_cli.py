"""The embedded replay on the command line: a malformed line is reported by its number and reason, and the
replay exits non-zero (PROTOCOL: a strict contract); the compliance view reads what the replay settled (C1)."""
from __future__ import annotations

import json

from certx import cli


def test_certx_replay_reports_each_malformed_line_by_number_and_exits_non_zero(tmp_path, capsys):
    good = cli.sample_path().read_bytes().splitlines()
    bad = [b'{"type":"order.new","order_id":"x1","actor":"broker-a","account":"gen-02","product":"CEA",'
           b'"side":"buy","quantity":10,"price":54.2200000001,"at":"2021-12-16T10:00:00+08:00"}',
           b"not json at all",
           b'{"type":"funds.deposit","id":"d9","actor":"bank","account":"gen-02","market":"CEA","amount":"1.00",'
           b'"at":"2021-12-16T10:00:00+08:00","counterpart":"x"}']
    lines = good[:30] + [bad[0]] + good[30:40] + [bad[1], bad[2]] + good[40:]
    path = tmp_path / "day.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    code = cli.main(["replay", str(path), "--db", str(tmp_path / "r.db")])
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert [line.split(":")[1] for line in err] == ["31", "42", "43"], err
    assert "(x1)" in err[0] and "price" in err[0] and "float" in err[0]
    assert "not JSON" in err[1] and "(d9)" in err[2] and "`counterpart`" in err[2]


def test_C1_the_compliance_view_shows_what_was_surrendered_by_vintage_with_the_ccer_share(tmp_path, capsys):
    db = str(tmp_path / "r.db")
    assert cli.main(["replay", "--db", db]) == 0
    capsys.readouterr()
    assert cli.main(["compliance", "gen-01", "2020", "--db", db]) == 0
    view = json.loads(capsys.readouterr().out)
    assert (view["cea"], view["ccer"], view["total"], view["ccer_share"]) == ({"CEA": 190_000}, 10_000, 200_000,
                                                                               "0.0500")
    (one,) = view["surrenders"]
    assert one["command"] == "reg-0037" and one["at"].startswith("2021-12-16T15:45:00")
    assert {leg["market"] for leg in one["legs"]} == {"CEA", "CCER"}
    assert all(leg["seq"] >= 0 and leg["origin_offset"] >= 0 for leg in one["legs"])
    assert cli.main(["compliance", "gen-01", "2021", "--db", db]) == 0
    assert json.loads(capsys.readouterr().out)["surrenders"] == []
