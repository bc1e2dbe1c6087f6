"""`certx serve` keeps its service running: the service runs in a child process, and a failure that a fresh start
can mend (a broker restart, a lost connection, a send that failed inside a transaction, a client that stopped
getting answers) ends that child with EXIT_RETRY; the supervisor starts a new one, with a back-off, which
recovers from the log and the stored offsets. A new process, not a new object in the old one: whatever state a
broken connection left in the Kafka client goes with the process (crash-only).

A failure another attempt cannot mend (a real gap in the log, fenced by a newer instance, not authorised, a bug)
ends the child with EXIT_FATAL, and the supervisor with it, for an operator to see. SIGTERM and SIGINT are passed
on to the child, which stops cleanly; the child dies with its supervisor (PR_SET_PDEATHSIG), so a kill -9 of the
supervisor leaves nothing running.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time

import structlog

EXIT_RETRY = 75         # EX_TEMPFAIL
EXIT_FATAL = 70         # EX_SOFTWARE
CHILD = "CERTX_SUPERVISED"
FIRST_RETRY, LAST_RETRY = 0.5, 10.0
STOP_GRACE_S = 30.0

log = structlog.get_logger("certx.supervisor")


def supervised() -> bool:
    """Whether this process is the child that runs the service."""
    return os.environ.get(CHILD) == "1"


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)            # PR_SET_PDEATHSIG
    if os.getppid() == 1:                    # the supervisor died before prctl: do not outlive it
        os._exit(EXIT_RETRY)


def supervise(argv: list[str], name: str) -> int:
    """Run `argv` as the service's child process until it stops for good; returns the exit code."""
    env = dict(os.environ, **{CHILD: "1"})
    stopping = False
    child: subprocess.Popen | None = None

    def pass_on(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    delay = FIRST_RETRY
    while True:
        started = time.monotonic()
        child = subprocess.Popen(argv, env=env, preexec_fn=_die_with_parent)
        code = _wait(child, lambda: stopping)
        if stopping or code == 0:
            return 0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else code
        if code == EXIT_FATAL or _mistake(code):
            log.error("service.stopped_for_good", service=name, exit=code)
            return code
        if time.monotonic() - started > 60:
            delay = FIRST_RETRY                 # it ran a good while: a new trouble, a fresh back-off
        log.warning("service.restarting", service=name, exit=code, retry_in=delay)
        time.sleep(delay)
        delay = min(delay * 2, LAST_RETRY)


def _mistake(code: int) -> bool:
    """An exit code of certx.mistakes (sysexits.h's range but EXIT_RETRY): a restart would make the same mistake."""
    return 64 <= code <= 78 and code != EXIT_RETRY


def _wait(child: subprocess.Popen, stopping) -> int:
    """The child's exit code; once asked to stop, a child that does not within the grace period is killed."""
    asked = None
    while True:
        try:
            return child.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            if stopping():
                asked = asked or time.monotonic()
                if time.monotonic() - asked > STOP_GRACE_S:
                    child.kill()


def main_argv() -> list[str]:
    """This very command, to run as the child."""
    return [sys.executable, "-m", "certx.cli", *sys.argv[1:]]
