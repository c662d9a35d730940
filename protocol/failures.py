"""Which failures are worth retrying, how long to wait, and when to say so.

A *permanent* failure (authentication refused, a TLS file that cannot be read, a role, database,
table or column missing, permission denied) does not heal by waiting: at start-up the daemon
stops with one line naming the cause and the configuration key. A *transient* one (broker or
database unreachable, connection reset, server starting or shutting down) is retried with a capped
exponential backoff with jitter, and logged only when the state changes.

Pure functions: no I/O, time and randomness are parameters.
"""

from __future__ import annotations

import errno
import re
import ssl
from dataclasses import dataclass, replace
from enum import StrEnum


class Kind(StrEnum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"


@dataclass(frozen=True)
class Failure:
    kind: Kind
    cause: str  # one line, no secret
    key: str | None = None  # the configuration key to look at, e.g. "mqtt.password"

    @property
    def permanent(self) -> bool:
        return self.kind is Kind.PERMANENT

    def line(self) -> str:
        """The one line an operator reads."""
        return f"{self.key}: {self.cause}" if self.key else self.cause


def _permanent(cause: str, key: str | None) -> Failure:
    return Failure(Kind.PERMANENT, cause, key)


def _transient(cause: str, key: str | None) -> Failure:
    return Failure(Kind.TRANSIENT, cause, key)


# --- MQTT CONNACK ----------------------------------------------------------------------------

# MQTT 5 CONNACK reason codes (OASIS MQTT 5.0 §3.2.2.2). paho 2.x maps the MQTT 3.1.1 return
# codes onto these (1 -> 0x84, 2 -> 0x85, 3 -> 0x88, 4 -> 0x86, 5 -> 0x87).
_CONNACK: dict[int, tuple[Kind, str, str | None]] = {
    0x80: (Kind.TRANSIENT, "unspecified error", None),
    0x81: (Kind.PERMANENT, "malformed packet", "mqtt.protocol"),
    0x82: (Kind.PERMANENT, "protocol error", "mqtt.protocol"),
    0x83: (Kind.TRANSIENT, "implementation specific error", None),
    0x84: (Kind.PERMANENT, "unsupported protocol version", "mqtt.protocol"),
    0x85: (Kind.PERMANENT, "client identifier not valid", "mqtt.client_id"),
    0x86: (Kind.PERMANENT, "bad user name or password", "mqtt.password"),
    0x87: (Kind.PERMANENT, "not authorized", "mqtt.password"),
    0x88: (Kind.TRANSIENT, "server unavailable", None),
    0x89: (Kind.TRANSIENT, "server busy", None),
    0x8A: (Kind.PERMANENT, "banned", "mqtt.username"),
    0x8C: (Kind.PERMANENT, "bad authentication method", "mqtt.username"),
    0x95: (Kind.PERMANENT, "packet too large", None),
    0x97: (Kind.TRANSIENT, "quota exceeded", None),
    0x99: (Kind.PERMANENT, "payload format invalid", None),
    0x9A: (Kind.PERMANENT, "retain not supported", "mqtt.host"),
    0x9B: (Kind.PERMANENT, "QoS not supported", "mqtt.host"),
    0x9C: (Kind.TRANSIENT, "use another server", "mqtt.host"),
    0x9D: (Kind.PERMANENT, "server moved", "mqtt.host"),
    0x9F: (Kind.TRANSIENT, "connection rate exceeded", None),
}


def classify_connack(code: int, has_username: bool = True) -> Failure | None:
    """A CONNACK reason code -> None when accepted, else the failure.

    "Not authorized" without a user name means the broker refuses anonymous clients: the key to
    set is then `mqtt.username`.
    """
    if code < 0x80:
        return None
    kind, cause, key = _CONNACK.get(code, (Kind.TRANSIENT, f"reason code {code:#x}", None))
    if code in (0x86, 0x87) and not has_username:
        key = "mqtt.username"
    return Failure(kind, f"MQTT broker refused the connection: {cause}", key)


# --- exceptions ------------------------------------------------------------------------------

# SQLSTATE classes and codes (PostgreSQL appendix A).
_SQLSTATE_PERMANENT: dict[str, str] = {
    "28P01": "password authentication failed",
    "28000": "authorization refused (role or pg_hba.conf)",
    "3D000": "database does not exist",
    "3F000": "schema does not exist",
    "42501": "permission denied",
    "42P01": "table does not exist",
    "42703": "column does not exist",
    "42883": "function does not exist",
    "42704": "object does not exist",
    "0A000": "feature not supported",
}
_SQLSTATE_TRANSIENT_CLASSES = ("08", "53", "57", "40", "58", "XX")

# libpq reports connection failures without a SQLSTATE: the server's FATAL text decides.
_PG_TEXT_PERMANENT: tuple[tuple[str, str], ...] = (
    (r"password authentication failed", "password authentication failed"),
    (r"role \S+ does not exist", "role does not exist"),
    (r"database \S+ does not exist", "database does not exist"),
    (r"no pg_hba\.conf entry", "no pg_hba.conf entry for this role and host"),
    (r"permission denied", "permission denied"),
    (r"fe_sendauth: no password supplied", "no password supplied (passfile, PGPASSFILE)"),
    (
        r"invalid (integer )?value for parameter|invalid connection option|invalid dsn|"
        r"missing \"=\" after",
        "invalid connection string",
    ),
    (
        r"certificate verify failed|could not (read|load|open) (root )?certificate",
        "TLS certificate problem",
    ),
)

_OS_PERMANENT = (errno.EACCES, errno.EPERM, errno.ENOENT, errno.EISDIR, errno.ENOTDIR)


def classify_sqlstate(sqlstate: str | None, text: str, key: str) -> Failure:
    """A database error (its SQLSTATE when it has one, else libpq's text) -> its failure."""
    first = (text.strip().splitlines() or [""])[0]
    if sqlstate in _SQLSTATE_PERMANENT:
        return _permanent(f"{_SQLSTATE_PERMANENT[sqlstate]} ({_server_part(first)})", key)
    if sqlstate and sqlstate[:2] in ("42", "22", "23", "3F", "28"):
        return _permanent(f"{_server_part(first)} (SQLSTATE {sqlstate})", key)
    if sqlstate and sqlstate[:2] in _SQLSTATE_TRANSIENT_CLASSES:
        return _transient(_server_part(first), key)
    lowered = text.lower()
    for pattern, cause in _PG_TEXT_PERMANENT:
        if re.search(pattern, lowered):
            return _permanent(f"{cause} ({_server_part(first)})", key)
    return _transient(_server_part(first) or "database unreachable", key)


def _server_part(line: str) -> str:
    """`connection failed: connection to server at "h", port 5432 failed: FATAL:  role ...`
    -> `FATAL: role ...`: the part that says why."""
    match = re.search(r"(FATAL|ERROR):\s+(.*)", line)
    text = f"{match.group(1)}: {match.group(2)}" if match else line
    return re.sub(r"\s+", " ", text).strip()


def classify_exception(exc: BaseException, key: str) -> Failure:
    """Any exception of a connection or a query -> its failure, blaming `key` (e.g.
    `coordination.dsn`, `mqtt.ca_file`). Database errors are recognised by their `sqlstate`
    attribute (psycopg), so that this module needs no driver."""
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate is not None or _is_database_error(exc):
        return classify_sqlstate(sqlstate, str(exc), key)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _permanent(f"TLS certificate verification failed: {exc.verify_message}", key)
    if isinstance(exc, ssl.SSLError):
        return _permanent(f"TLS error: {_one_line(exc)}", key)
    if isinstance(exc, ConnectionError | TimeoutError):
        return _transient(_one_line(exc) or type(exc).__name__, key)
    if isinstance(exc, OSError):
        if exc.errno in _OS_PERMANENT:
            where = f": {exc.filename}" if exc.filename is not None else ""
            return _permanent(f"{exc.strerror or _one_line(exc)}{where}", key)
        return _transient(_one_line(exc), key)
    if isinstance(exc, ValueError | TypeError):
        return _permanent(_one_line(exc), key)
    return _transient(f"{type(exc).__name__}: {_one_line(exc)}", key)


def _is_database_error(exc: BaseException) -> bool:
    return any(cls.__module__.startswith(("psycopg", "psycopg2")) for cls in type(exc).__mro__)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return re.sub(r"\s+", " ", text.splitlines()[0] if text else "")


# --- backoff ---------------------------------------------------------------------------------


def backoff_delay(attempt: int, random: float, base: float = 1.0, cap: float = 60.0) -> float:
    """Seconds to wait before retry number `attempt` (0 for the first retry).

    Exponential, capped, with "equal jitter": half of the step is fixed, the other half is
    spread by `random` in [0, 1), so that many clients do not retry in step and the wait never
    collapses to zero.
    """
    exponent = min(max(attempt, 0), 62)
    step = min(cap, base * 2.0**exponent)
    spread = min(max(random, 0.0), 1.0)
    return step / 2 + spread * step / 2


# --- logging an outage -----------------------------------------------------------------------


@dataclass(frozen=True)
class Outage:
    """ "Log only on a change of state, and a reminder every `remind_s` while it lasts".

    `failed` and `recovered` return the new state and the line to log (None: log nothing).
    """

    what: str  # "MQTT broker 127.0.0.1:1883", "coordination database"
    remind_s: float = 600.0
    down_since: float | None = None
    reminded_at: float | None = None
    attempts: int = 0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, now: float, cause: str) -> tuple[Outage, str | None]:
        if self.down_since is None:
            state = replace(self, down_since=now, reminded_at=now, attempts=1)
            return state, f"{self.what} down: {cause}"
        state = replace(self, attempts=self.attempts + 1)
        assert self.reminded_at is not None
        if now - self.reminded_at >= self.remind_s:
            line = (
                f"{self.what} still down after {_duration(now - self.down_since)} "
                f"({state.attempts} attempts): {cause}"
            )
            return replace(state, reminded_at=now), line
        return state, None

    def recovered(self, now: float) -> tuple[Outage, str | None]:
        if self.down_since is None:
            return self, None
        line = f"{self.what} back after {_duration(now - self.down_since)}"
        return replace(self, down_since=None, reminded_at=None, attempts=0), line


def _duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
