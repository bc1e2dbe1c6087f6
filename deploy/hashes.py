"""The lock's hashes: for each pinned `name==version`, the sha256 of every file the index serves for that version.

    python deploy/hashes.py PINS > deploy/requirements.lock      (called by deploy/lock.sh)

PINS is `pip freeze --all`'s output, or a lock itself (its hashes are read again). Comment lines are kept.

Every file of the version, wheels for every platform and the sdist, so that the lock installs on any machine pip
would install those versions on; pip then refuses any file whose hash is not listed (--require-hashes). The hashes
come from the index's JSON simple API (PEP 691), the one pip reads: `PIP_INDEX_URL`, or PyPI.
"""
from __future__ import annotations

import json
import os
import re
import sys
import urllib.request

INDEX = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
ACCEPT = "application/vnd.pypi.simple.v1+json"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def is_of(filename: str, name: str, version: str) -> bool:
    """A wheel `name-version(-build)-py-abi-platform.whl` or an sdist `name-version.tar.gz` of this version. The
    name's separators vary with the tool that built the file, so only the version field is read."""
    if filename.endswith(".whl"):
        return filename.split("-")[1] == version
    for suffix in (".tar.gz", ".zip", ".tar.bz2"):
        if filename.endswith(suffix):
            return filename[:-len(suffix)].rsplit("-", 1)[-1] == version
    return False


def hashes(name: str, version: str) -> list[str]:
    url = f"{INDEX}/{canonical(name)}/"
    request = urllib.request.Request(url, headers={"Accept": ACCEPT})
    # An index that cannot be reached, or answers only the HTML simple API (PEP 503, as some mirrors do), is one
    # line naming it: lock.sh then leaves the old lock as it was.
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            kind = answer.headers.get_content_type()
            if kind != ACCEPT:
                sys.exit(f"hashes.py: {url} answered {kind}, not the JSON simple API (PEP 691) it reads hashes from")
            files = json.load(answer)["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        sys.exit(f"hashes.py: no hashes of {name}=={version} from {url}: {type(exc).__name__}: {exc}"[:400])
    found = sorted({f["hashes"]["sha256"] for f in files if is_of(f["filename"], name, version)
                    and "sha256" in f.get("hashes", {})})
    if not found:
        sys.exit(f"hashes.py: the index lists no file of {name}=={version}")
    return found


def main() -> None:
    text = open(sys.argv[1]).read()
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            print(line)
            continue
        line = line.strip().removesuffix("\\").strip()
        if line.startswith("--hash="):
            continue
        name, _, version = line.partition("==")
        if not version:
            sys.exit(f"hashes.py: not a pin: {line!r}")
        print(f"{name}=={version} \\")
        print(" \\\n".join(f"    --hash=sha256:{h}" for h in hashes(name, version)))


if __name__ == "__main__":
    main()
