"""deploy/Dockerfile's `COPY . /src` takes the build context, which without a .dockerignore is the whole working tree:
.venv (200 MB of host-built packages), .cache (the dev broker's state, its clients' passwords among it), a certx.db
read model, and a build/ whose stale modules setuptools packages again into the image's certx. What git ignores is
what the image must not take."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def patterns(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")}


def test_the_build_context_leaves_out_what_git_ignores_and_git_itself():
    ignored = patterns(ROOT / ".dockerignore")
    assert ".git" in ignored
    for pattern in patterns(ROOT / ".gitignore"):
        pattern = pattern.rstrip("/")
        # git matches a pattern without a slash at any depth; Docker matches from the context's root only
        want = pattern if "/" in pattern else f"**/{pattern}"
        assert want in ignored, f".dockerignore lacks {want} (.gitignore's {pattern})"
