"""loadtest.peer_bench: the flow file both engines read gives back engine_bench's commands exactly, and the
peer's environment pins certx's engine dependencies at the versions of the lock. No timing here."""
from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from loadtest.engine_bench import listing_flow
from loadtest.peer_bench import REQUIREMENTS, certx_commands, flow_rows, read_flow, write_flow

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "deploy" / "requirements.lock"


def test_flow_file_round_trips(tmp_path):
    cmds = listing_flow(3000, seed=5)
    path = tmp_path / "flow.jsonl"
    write_flow(path, flow_rows(cmds))
    rows = read_flow(path)
    assert len(rows) == 3000
    assert {row[0] for row in rows} == {"new", "cancel"}
    assert certx_commands(rows) == cmds


def _pins(text: str) -> dict[str, str]:
    return {m[1].lower(): m[2] for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)}


def test_peer_requirements_follow_the_lock():
    peer = _pins(REQUIREMENTS.read_text())
    lock = _pins(LOCK.read_text())
    assert peer["matching-engine"]
    for name in engine_imports() - set(OPTIONAL):
        assert peer.get(name) == lock[name], f"{name}: certx's engine imports it, the peer's environment must pin it"
    # hash-checked: every pinned requirement carries at least one sha256
    for block in re.split(r"\n(?=[A-Za-z])", REQUIREMENTS.read_text()):
        if re.match(r"[A-Za-z]", block):
            assert "--hash=sha256:" in block, block.splitlines()[0]


# In sys.modules after the engine's import, but not needed by it: the peer's environment works without them.
OPTIONAL = {"setuptools": "its .pth hook, _distutils_hack, in every interpreter of the venv",
            "typing_extensions": "msgspec imports it when it is there"}


def engine_imports() -> set[str]:
    """The distributions `certx.engine` imports, in a fresh interpreter: the peer benchmark's certx child found
    `highspy` missing (the 24/7 match's solver, imported with the engine) and ran no more."""
    found = subprocess.run([sys.executable, "-c", "import sys, json, certx.engine; print(json.dumps(list(sys.modules)))"],
                           capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    owners = importlib.metadata.packages_distributions()
    tops = {name.partition(".")[0] for name in json.loads(found.stdout)}
    names = {dist.lower() for top in tops - set(sys.stdlib_module_names) for dist in owners.get(top, ())}
    return names - {"certx"}
