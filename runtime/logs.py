"""Logging set-up: one journal entry per event under systemd, a human format elsewhere.

Under systemd (`$JOURNAL_STREAM` names our stderr) records go to journald through its native
protocol (`/run/systemd/journal/socket`): one datagram per event with `PRIORITY=` (so that
`journalctl -p err` works), `MESSAGE=` holding the traceback in the same entry, `CODE_*`,
`LOGGER=` (the module) and every bound field upper-cased (`logger.bind(equipment=12)` ->
`EQUIPMENT=12`, `journalctl EQUIPMENT=12`). A record too large for a datagram goes in a sealed
memfd passed with the datagram, as libsystemd does. Without the journal socket the `<N>` prefix
protocol on stderr is used, with newlines escaped so that an event stays one entry.

Levels: one default level and per-module levels (`{"actors.mqtt_gateway": "DEBUG"}`, a module
and the modules under it). The standard `logging` records (Thespian's) are forwarded to loguru.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import socket
import struct
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from loguru import logger

JOURNAL_SOCKET = "/run/systemd/journal/socket"
IDENTIFIER = "elfe-supervisor"
# syslog priorities (RFC 5424): loguru level -> journald PRIORITY
PRIORITY = {
    "TRACE": 7,
    "DEBUG": 7,
    "INFO": 6,
    "SUCCESS": 5,
    "WARNING": 4,
    "ERROR": 3,
    "CRITICAL": 2,
}
_LEVEL_NO = {
    "TRACE": 5,
    "DEBUG": 10,
    "INFO": 20,
    "SUCCESS": 25,
    "WARNING": 30,
    "ERROR": 40,
    "CRITICAL": 50,
}
_FIELD = re.compile(r"^[A-Z0-9][A-Z0-9_]*$")
HUMAN = "{time:YYYY-MM-DD HH:mm:ss.SSS} {level: <7} [{process}] {name}: "


def configure(
    level: str = "INFO",
    levels: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    stream: TextIO | None = None,
    journal_socket: str = JOURNAL_SOCKET,
    identifier: str = IDENTIFIER,
) -> str:
    """Replace every loguru sink by the one that fits where stderr goes; returns its kind:
    "journal" (native protocol), "stderr-priority" (`<N>` prefixes) or "human"."""
    env = os.environ if environ is None else environ
    stream = sys.stderr if stream is None else stream
    levels = dict(levels or {})
    module_filter: dict[str | None, str] = {"": level, **levels}
    lowest = min([level, *levels.values()], key=_LEVEL_NO.__getitem__)
    logger.remove()
    kind = "human"
    sink: Any = stream
    fmt: Any = _human_format
    if stream_is_journal(env, stream):
        journal = JournalSink(journal_socket, identifier, stream)
        if journal.available():
            kind, sink, fmt = "journal", journal, "{message}"
        else:
            kind, sink, fmt = "stderr-priority", PrioritySink(stream), "{message}"
    logger.add(
        sink,
        level=lowest,
        format=fmt,
        filter=module_filter,
        backtrace=False,
        diagnose=False,  # never print local variables: they may hold secrets
        colorize=False,
    )
    forward_standard_logging()
    return kind


def stream_is_journal(environ: Mapping[str, str], stream: TextIO) -> bool:
    """`$JOURNAL_STREAM` is `<device>:<inode>` of the journal stream systemd gave us; it is ours
    only if our stderr is still that stream (not redirected by a parent or a test)."""
    value = environ.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in value.split(":"))
        info = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError, TypeError):
        return False
    except Exception:  # io.UnsupportedOperation of an in-memory stream
        return False
    return (info.st_dev, info.st_ino) == (device, inode)


def _human_format(record: Any) -> str:
    fields = "".join(f"{key}={{extra[{key}]}} " for key in sorted(record["extra"]))
    return HUMAN + fields + "{message}\n{exception}"


def _message(message: Any) -> str:
    """loguru's formatted message: "{message}" then the traceback when there is one."""
    return str(message).rstrip("\n")


def journal_fields(record: Mapping[str, Any], text: str, identifier: str) -> list[tuple[str, str]]:
    fields = [
        ("MESSAGE", text),
        ("PRIORITY", str(PRIORITY.get(record["level"].name, 6))),
        ("SYSLOG_IDENTIFIER", identifier),
        ("LOGGER", str(record["name"])),
        ("CODE_FILE", str(record["file"].path)),
        ("CODE_LINE", str(record["line"])),
        ("CODE_FUNC", str(record["function"])),
    ]
    for key, value in record["extra"].items():
        name = str(key).upper()
        if _FIELD.match(name) and name not in {f for f, _ in fields}:
            fields.append((name, str(value)))
    return fields


def encode_fields(fields: list[tuple[str, str]]) -> bytes:
    """journald's native format: `KEY=value\\n`, or `KEY\\n<le64 length><value>\\n` for a value
    holding a newline (binary safe)."""
    out = bytearray()
    for key, value in fields:
        data = value.encode("utf-8", "replace")
        if b"\n" in data:
            out += key.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += key.encode() + b"=" + data + b"\n"
    return bytes(out)


class JournalSink:
    """A loguru sink that sends each record to journald as one entry."""

    def __init__(self, path: str, identifier: str, fallback: TextIO) -> None:
        self.path = path
        self.identifier = identifier
        self.fallback = PrioritySink(fallback)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    def available(self) -> bool:
        try:
            self.sock.sendto(b"", self.path)  # journald ignores an empty datagram
        except OSError:
            return False
        return True

    def __call__(self, message: Any) -> None:
        record = message.record
        data = encode_fields(journal_fields(record, _message(message), self.identifier))
        try:
            self.sock.sendto(data, self.path)
        except OSError as exc:
            if exc.errno not in (errno.EMSGSIZE, errno.ENOBUFS) or not self._send_memfd(data):
                self.fallback(message)

    def _send_memfd(self, data: bytes) -> bool:
        """Too large for a datagram: the payload in a sealed memfd, its descriptor passed."""
        try:
            fd = os.memfd_create("journal-entry", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        except (AttributeError, OSError):
            return False
        try:
            os.write(fd, data)
            seals = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
            ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", fd))]
            self.sock.sendmsg([], ancillary, 0, self.path)
        except OSError:
            return False
        finally:
            os.close(fd)
        return True


class PrioritySink:
    """`<N>message` on a stream journald reads line by line: newlines are escaped (`\\n`) so
    that a traceback stays in the entry of its event."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, message: Any) -> None:
        priority = PRIORITY.get(message.record["level"].name, 6)
        extra = "".join(f"{k}={v} " for k, v in sorted(message.record["extra"].items()))
        text = _message(message).replace("\\", "\\\\").replace("\n", "\\n")
        self.stream.write(f"<{priority}>{message.record['name']}: {extra}{text}\n")
        with contextlib.suppress(Exception):
            self.stream.flush()


class PriorityFormatter(logging.Formatter):
    """Standard `logging` records of a process that has no loguru set-up (Thespian's logger
    process on multiprocTCPBase): `<N>` prefixes and one line per record when stderr is the
    journal, the plain format otherwise."""

    def __init__(self, fmt: str | None = None, environ: Mapping[str, str] | None = None) -> None:
        super().__init__(fmt or "%(asctime)s %(levelname)s [thespian] %(message)s")
        env = os.environ if environ is None else environ
        self.journal = stream_is_journal(env, sys.stderr)

    def format(self, record: logging.LogRecord) -> str:
        if not self.journal:
            return super().format(record)
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        text = text.replace("\\", "\\\\").replace("\n", "\\n")
        return f"<{PRIORITY.get(record.levelname, 6)}>{record.name}: {text}"


class InterceptHandler(logging.Handler):
    """Standard `logging` records (Thespian) into loguru, with their level and origin."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.patch(lambda r: r.update(name=record.name)).opt(exception=record.exc_info).log(
            level, record.getMessage()
        )


def forward_standard_logging() -> None:
    logging.basicConfig(handlers=[InterceptHandler()], level=logging.WARNING, force=True)
