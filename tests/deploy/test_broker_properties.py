"""The broker's settings (deploy/kafka-properties.sh, the same for deploy/kafka.sh and the compose file's broker)."""
from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def properties(tmp_path: Path) -> dict[str, str]:
    out = subprocess.run(["bash", str(ROOT / "deploy" / "kafka-properties.sh"), str(ROOT / "deploy" / "principals.dev"),
                          str(tmp_path), "127.0.0.1:1", "127.0.0.1:1", "SASL_PLAINTEXT=127.0.0.1:2=127.0.0.1:2"],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line and not line.startswith("#"))


def test_committed_positions_never_expire(tmp_path):
    """A consumer group's committed offsets are the matcher's position in its market (and the gateway's and the
    projector's): Kafka drops those of a group that has had no member for offsets.retention.minutes, 7 days by
    default. A stack stopped for a week (a Spring Festival closure) then restored every market from offset 0
    against all its published events, and each halted as if another release had published them."""
    minutes = int(properties(tmp_path).get("offsets.retention.minutes", 7 * 24 * 60))
    assert minutes >= 100 * 365 * 24 * 60, minutes
