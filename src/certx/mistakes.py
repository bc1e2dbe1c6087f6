"""The mistakes a user of certx can make, each with its exit code (DESIGN 8: a mistake gets one line on stderr and
an exit code, never a traceback). The codes follow sysexits.h, so that a script can tell them apart:

| code | mistake |
|---|---|
| 1  | `certx replay`: a line of the command file broke the contract (reported per line); `certx submit --measures`: the stack did not catch up; `certx certificate`: a serial never issued |
| 2  | a command line argparse refuses |
| 65 | a file that is not what it should be (a rule table, a principals file, events `report` cannot read) |
| 66 | a file that is not there |
| 68 | the deployment's topics are not there (a wrong `--prefix`, or `certx topics create` never run) |
| 69 | the broker or the database does not answer (a closed port, a wrong host, `--timeout` passed) |
| 70 | a service stopped for good (a gap in the log, fenced by a newer instance, a bug: see its log) |
| 73 | `certx replay`: a `--db` that holds a read model (`--fresh` replaces it); `replay`, `report`, `match-report`, `submit --measures`, `days build`: an output that is an input |
| 77 | the broker or the database refused the login (wrong user or password) or the right asked for |
| 78 | a setting that cannot be used (a DSN that does not parse, a bad Kafka properties file) |
| 130 | interrupted (Ctrl-C) |

The services' own restart code (75) is the supervisor's business and never a command's exit.
"""
from __future__ import annotations


class Mistake(Exception):
    """Something the user can mend; `str()` is the one line they read."""

    code = 70


class BadFile(Mistake):
    code = 65


class MissingFile(Mistake):
    code = 66


class NoTopics(Mistake):
    code = 68


class Unreachable(Mistake):
    code = 69


class WouldOverwrite(Mistake):
    code = 73


class NotAllowed(Mistake):
    code = 77


class BadSetting(Mistake):
    code = 78


INTERRUPTED = 130


def explain(exc: BaseException) -> Mistake | None:
    """The mistake behind an exception from a library, if it is one a user can mend; None for a bug."""
    if isinstance(exc, Mistake):
        return exc
    if isinstance(exc, FileNotFoundError):
        return MissingFile(f"no such file: {exc.filename}")
    if isinstance(exc, IsADirectoryError):
        return BadFile(f"a directory, not a file: {exc.filename}")
    if isinstance(exc, PermissionError):
        return NotAllowed(f"not allowed to open {exc.filename}")
    from certx.kafka.connection import SettingsError

    if isinstance(exc, SettingsError):
        return BadSetting(str(exc))
    return _database(exc) or _kafka(exc)


def _database(exc: BaseException) -> Mistake | None:
    try:
        import psycopg
    except ImportError:     # pragma: no cover - a dependency
        return None
    text = " ".join(str(exc).split())
    if isinstance(exc, psycopg.OperationalError):
        if "password authentication failed" in text or "no password supplied" in text or "role" in text:
            return NotAllowed(f"the database refused the login: {text}")
        if "does not exist" in text:
            return BadSetting(f"the database refused the connection: {text}")
        return Unreachable(f"the database does not answer: {text}")
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return NotAllowed(f"the database refused: {text}")
    return None


def _kafka(exc: BaseException) -> Mistake | None:
    from aiokafka import errors

    if isinstance(exc, (errors.TopicAuthorizationFailedError, errors.GroupAuthorizationFailedError,
                        errors.TransactionalIdAuthorizationFailed, errors.ClusterAuthorizationFailedError)):
        return NotAllowed(f"the broker refused: {type(exc).__name__} (this principal has no such right: "
                          f"see certx.kafka.access)")
    if isinstance(exc, (errors.KafkaConnectionError, errors.KafkaTimeoutError)):
        return Unreachable(f"the broker does not answer: {exc}")
    return None
