"""deploy/hashes.py (called by deploy/lock.sh) when the index fails it: one line naming the index, and the old lock
left as it was (lock.sh writes it only once every hash is read)."""
from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class PEP503Only(http.server.BaseHTTPRequestHandler):
    """An index that answers the HTML simple API only (PEP 503), as some mirrors do, whatever Accept asks."""

    def do_GET(self):
        body = b'<!DOCTYPE html><html><body><a href="x.whl">x.whl</a></body></html>'
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def html_index():
    server = http.server.HTTPServer(("127.0.0.1", 0), PEP503Only)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    server.shutdown()
    server.server_close()


def hashes_py(pins: Path, index: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "deploy" / "hashes.py"), str(pins)], capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "PIP_INDEX_URL": index}, timeout=120)


def unreachable() -> str:
    import socket
    with socket.socket() as s:          # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/simple"


@pytest.mark.parametrize("which", ["html", "unreachable"])
def test_an_index_that_does_not_answer_json_is_one_line_naming_it(tmp_path, html_index, which):
    index = html_index if which == "html" else unreachable()
    pins = tmp_path / "pins"
    pins.write_text("msgspec==0.23.0\n")
    run = hashes_py(pins, index)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert index in run.stderr and "msgspec" in run.stderr, run.stderr
