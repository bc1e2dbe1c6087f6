"""Third-party files vendored unchanged into the package, for the pages certx serves or writes (README.md here
says which, from where, and their checksums): the replay report inlines them, the market page serves them. One
copy, read from here by both, so the page loads nothing from the network."""
from __future__ import annotations

from importlib import resources

UPLOT_JS = "uPlot.iife.min.js"
UPLOT_CSS = "uPlot.min.css"


def read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
