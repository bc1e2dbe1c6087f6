"""deploy/venv.sh, as an unlucky operator meets it: run again after it was cut short, it finishes the job."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

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
