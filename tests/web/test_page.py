"""The market page's own merge (page.js `absorb`, issue 14.2), run in node against what the server sends: a page
that merges the whole board holds what the server holds, whatever a product is called. A product's name is any
printable Name (PROTOCOL), so it may be one of JavaScript's own property names."""
from __future__ import annotations

import json
import shutil
import subprocess
from importlib import resources

import msgspec
import pytest

from certx.web.board import View
from certx.wire.codec import encode
from tests.web.test_board import FEED, fold

# page.js in a bare context (no DOM: only the merge runs), fed one message on stdin; prints what it holds.
ABSORB = r"""
const vm = require("vm");
const ctx = {window: {addEventListener() {}}, location: {search: ""}, document: {}, Intl, URLSearchParams,
             EventSource: function () {}};
vm.createContext(ctx);
vm.runInContext(require("fs").readFileSync(process.argv[1], "utf8"), ctx);
const view = JSON.parse(require("fs").readFileSync(0, "utf8"));
vm.runInContext("absorb", ctx)(view);
const held = vm.runInContext("held", ctx);
const counts = kind => Object.fromEntries(Object.keys(held[kind]).map(k => [k, held[kind][k].length]));
process.stdout.write(JSON.stringify({quotes: Object.keys(held.quotes).sort(), closes: Object.keys(held.closes).sort(),
                                     prints: counts("prints"), points: counts("points")}));
"""


def page_holds(view: View) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("no node to run page.js")
    script = resources.files("certx.web").joinpath("page.js")
    run = subprocess.run([node, "-e", ABSORB, str(script)], input=encode(view), capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    return json.loads(run.stdout)


@pytest.mark.parametrize("names", [("__proto__", "constructor", "toString"), ("hasOwnProperty", "valueOf", "length")])
def test_a_product_named_like_a_javascript_property_is_held_like_any_other(names):
    """Issue 14.2: the page shows every product. A product listed as `constructor` or `__proto__` (a printable
    Name) once made page.js throw on the whole board (`list.push is not a function`): every page stayed empty."""
    renamed = dict(zip(sorted(fold(FEED).board.quotes), names))
    board = fold(FEED).board
    view = board.view(reset=True)
    view = msgspec.structs.replace(view, **{kind: [msgspec.structs.replace(x, product=renamed[x.product])
                                                   for x in getattr(view, kind)]
                                            for kind in ("quotes", "closes", "prints", "points")})
    held = page_holds(view)
    assert held["quotes"] == held["closes"] == sorted(names)
    assert held["prints"] == {renamed[p]: len(x) for p, x in board.prints.items()}
    assert held["points"] == {renamed[p]: len(x) for p, x in board.points.items()}
