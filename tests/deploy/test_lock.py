"""The lock (deploy/requirements.lock), which deploy/venv.sh installs with --require-hashes --no-deps: a fresh machine
gets exactly these files, or nothing. So every package must be pinned with its hashes, and the lock must hold every
requirement certx names, within what pyproject.toml allows (a requirement added there and not locked would fail
the install on a fresh machine, or, without --no-deps, be fetched unpinned and unchecked)."""
from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "deploy" / "requirements.lock"
SHA256 = re.compile(r"--hash=sha256:[0-9a-f]{64}$")


def locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, its hash options), read as pip reads the file: a requirement and its continued lines."""
    text = "\n".join(line for line in LOCK.read_text().splitlines() if not line.startswith("#"))
    out = {}
    for entry in text.replace("\\\n", " ").splitlines():
        if not entry.strip():
            continue
        requirement, *options = entry.split()
        name, _, version = requirement.partition("==")
        assert version, f"not pinned: {requirement}"
        out[canonicalize_name(name)] = (version, options)
    return out


def test_every_locked_package_is_pinned_with_hashes():
    lock = locked()
    assert len(lock) > 40
    for name, (version, options) in lock.items():
        assert options, f"{name}=={version} has no hash: --require-hashes refuses the whole lock"
        for option in options:
            assert SHA256.match(option), f"{name}: {option!r}"


def test_the_lock_holds_what_pyproject_requires_within_its_bounds():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = (project["project"]["dependencies"] + project["project"]["optional-dependencies"]["test"]
              + project["build-system"]["requires"])
    lock = locked()
    for line in wanted:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{requirement} is not in the lock: run deploy/lock.sh"
        assert requirement.specifier.contains(lock[name][0], prereleases=True), \
            f"the lock's {name}=={lock[name][0]} is outside {requirement}"


def test_the_running_environment_is_the_locks():
    """The tests run in .venv as venv.sh installed it: each locked package at its locked version."""
    for name, (version, _) in locked().items():
        assert importlib.metadata.version(name) == version, name
