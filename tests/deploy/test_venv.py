"""deploy/venv.sh, as an unlucky operator meets it: run again after it was cut short, it finishes the job."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def a_project(tmp_path: Path) -> Path:
    """A tree venv.sh can install in seconds: venv.sh itself, a lock of the locked setuptools alone (certx's build
    requirement, so the hashes are the real lock's) and a package with no dependency."""
    (tmp_path / "deploy").mkdir()
    shutil.copy(ROOT / "deploy" / "venv.sh", tmp_path / "deploy" / "venv.sh")
    lock = (ROOT / "deploy" / "requirements.lock").read_text()
    setuptools = re.search(r"^setuptools==.*?(?=^\S)", lock, re.M | re.S).group(0)
    (tmp_path / "deploy" / "requirements.lock").write_text(setuptools)
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "tiny"\nversion = "0"\n[tool.setuptools]\npy-modules = ["tiny"]\n')
    (tmp_path / "tiny.py").write_text("")
    return tmp_path


def test_a_venv_whose_making_was_killed_before_pip_is_made_again(tmp_path):
    """python -m venv creates bin/python first and runs ensurepip last: killed between the two, .venv has a python
    and no pip, and venv.sh answered 'No module named pip' on every run after until .venv was removed by hand."""
    project = a_project(tmp_path)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(project / ".venv")], check=True)
    run = subprocess.run(["bash", str(project / "deploy" / "venv.sh")], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "CERTX_PYTHON": sys.executable, "HOME": str(Path.home())})
    assert run.returncode == 0, run.stderr
    assert (project / ".venv" / ".certx-installed").is_file()


def another_python() -> str | None:
    """A Python 3.11+ of another minor version than the one running the tests, if this machine has one."""
    import glob

    for candidate in sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.*/bin/python3.*")) + glob.glob(
            "/usr/bin/python3.*")):
        if not re.search(r"python3\.\d+$", candidate):
            continue
        minor = int(candidate.rsplit(".", 1)[1])
        if minor >= 11 and minor != sys.version_info.minor:
            return candidate
    return None


def test_certx_python_naming_another_version_than_the_venvs_is_said_not_ignored(tmp_path):
    """CERTX_PYTHON=python3.12 beside a .venv made with 3.11: venv.sh kept the 3.11 one without a word, and what ran
    was not what the operator asked for (a benchmark's figures said to be one version's)."""
    other = another_python()
    if other is None:
        pytest.skip("no other Python 3.11+ on this machine")
    project = a_project(tmp_path)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    made = subprocess.run(["bash", str(project / "deploy" / "venv.sh")], capture_output=True, text=True,
                          env={**env, "CERTX_PYTHON": sys.executable})
    assert made.returncode == 0, made.stderr
    run = subprocess.run(["bash", str(project / "deploy" / "venv.sh")], capture_output=True, text=True,
                         env={**env, "CERTX_PYTHON": other})
    assert run.returncode != 0
    assert "CERTX_PYTHON" in run.stderr and ".venv" in run.stderr, run.stderr
