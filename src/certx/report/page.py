"""The report as one self-contained HTML page: the figures as JSON, the charting library and the script that
draws the charts, all inlined, so the page opens offline and loads nothing (its Content-Security-Policy forbids
every load, so a request would fail loudly in the browser's console rather than leak).

The charting library is uPlot, vendored in `certx/vendor/` (see its README.md; the market page serves the same
copy): the page's template is `page.html`, its script `page.js`.
"""
from __future__ import annotations

import html
from importlib import resources
from string import Template

import msgspec

from certx import vendor
from certx.report.figures import Figures
from certx.wire.codec import encode

_HERE = resources.files(__package__)


def _read(name: str) -> str:
    return _HERE.joinpath(name).read_text(encoding="utf-8")


def figures_json(figures: Figures) -> bytes:
    """The figures as the JSON file beside the page (money as the wire writes it)."""
    return msgspec.json.format(encode(figures), indent=1) + b"\n"


def render(figures: Figures) -> str:
    scripts = {"uplot_js": vendor.read(vendor.UPLOT_JS), "page_js": _read("page.js")}
    for name, text in scripts.items():
        # An inlined script ends at the first "</script" whatever the JavaScript around it means.
        if "</script" in text.lower():
            raise ValueError(f"{name} cannot be inlined: it holds </script")
    # JSON inside <script> ends at "</script" too: "<" is written as its escape, the same string to JSON.
    data = encode(figures).decode().replace("<", "\\u003c")
    title = f"certx replay report: {figures.overview.source}" if figures.overview.source else "certx replay report"
    return Template(_read("page.html")).substitute(
        title=html.escape(title), uplot_css=vendor.read(vendor.UPLOT_CSS), figures=data, **scripts)
