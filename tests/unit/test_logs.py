"""Log set-up: journald's native protocol on a real datagram socket, `<N>` prefixes, levels."""

from __future__ import annotations

import array
import io
import logging
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from runtime import logs


def decode_fields(data: bytes) -> dict[str, str]:
    """journald's side of the native protocol."""
    fields: dict[str, str] = {}
    while data:
        line_end = data.index(b"\n")
        head = data[:line_end]
        if b"=" in head:
            key, value = head.split(b"=", 1)
            data = data[line_end + 1 :]
        else:
            key = head
            (size,) = struct.unpack("<Q", data[line_end + 1 : line_end + 9])
            value = data[line_end + 9 : line_end + 9 + size]
            assert data[line_end + 9 + size : line_end + 10 + size] == b"\n"
            data = data[line_end + 10 + size :]
        fields[key.decode()] = value.decode()
    return fields


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "journal.socket")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    yield sock, path
    sock.close()
    logger.remove()


def journal_env(stream: io.TextIOBase) -> dict[str, str]:
    info = os.fstat(stream.fileno())
    return {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}


def receive(sock: socket.socket) -> dict[str, str]:
    """One entry, whether inline or in a passed memfd."""
    fds = array.array("i")
    data, ancillary, _, _ = sock.recvmsg(1 << 20, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: fds.itemsize])
    if fds:
        with os.fdopen(fds[0], "rb") as passed:
            passed.seek(0)  # the sender's offset is shared: journald maps the file
            data = passed.read()
    if data == b"":  # the probe the sink sends to find the socket
        return receive(sock)
    return decode_fields(data)


def test_one_entry_per_event_with_priority_traceback_and_equipment(
    journal: tuple[socket.socket, str], tmp_path: Path
) -> None:
    sock, path = journal
    with open(tmp_path / "stderr", "w") as stream:
        kind = logs.configure(
            "INFO", environ=journal_env(stream), stream=stream, journal_socket=path
        )
        assert kind == "journal"
        logger.bind(equipment=12).info("relay on")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.bind(equipment=12).exception("handler failed")
        logger.debug("not at INFO")
        logger.warning("last")
    first = receive(sock)
    assert first["MESSAGE"] == "relay on"
    assert first["PRIORITY"] == "6"
    assert first["EQUIPMENT"] == "12"
    assert first["SYSLOG_IDENTIFIER"] == "elfe-supervisor"
    assert first["LOGGER"] == __name__
    second = receive(sock)
    assert second["PRIORITY"] == "3"
    lines = second["MESSAGE"].splitlines()
    assert lines[0] == "handler failed"
    assert lines[1].startswith("Traceback")
    assert lines[-1] == "RuntimeError: boom"
    third = receive(sock)  # the DEBUG record was filtered out
    assert (third["MESSAGE"], third["PRIORITY"]) == ("last", "4")
    assert (tmp_path / "stderr").read_text() == ""


def test_a_record_too_large_for_a_datagram_goes_in_a_memfd(
    journal: tuple[socket.socket, str], tmp_path: Path
) -> None:
    sock, path = journal
    with open(tmp_path / "stderr", "w") as stream:
        logs.configure("INFO", environ=journal_env(stream), stream=stream, journal_socket=path)
        logger.error("x" * 2_000_000)
    entry = receive(sock)
    assert entry["MESSAGE"] == "x" * 2_000_000
    assert entry["PRIORITY"] == "3"


def test_priority_prefixes_when_the_journal_socket_is_missing(tmp_path: Path) -> None:
    with open(tmp_path / "stderr", "w+") as stream:
        kind = logs.configure(
            "INFO",
            environ=journal_env(stream),
            stream=stream,
            journal_socket=str(tmp_path / "none"),
        )
        assert kind == "stderr-priority"
        try:
            raise ValueError("bad")
        except ValueError:
            logger.bind(equipment=7).exception("failed")
        logger.info("fine")
        logger.remove()
        stream.seek(0)
        lines = stream.read().splitlines()
    assert len(lines) == 2  # the traceback stays in its event's line
    assert lines[0].startswith(f"<3>{__name__}: equipment=7 failed\\nTraceback")
    assert lines[0].endswith("ValueError: bad")
    assert lines[1] == f"<6>{__name__}: fine"


def test_human_format_outside_systemd() -> None:
    stream = io.StringIO()
    assert logs.configure("INFO", environ={}, stream=stream) == "human"
    logger.bind(equipment=3).warning("late report")
    logger.remove()
    line = stream.getvalue()
    assert " WARNING [" in line
    assert f"{__name__}: equipment=3 late report" in line


def test_a_journal_stream_that_is_not_our_stderr_is_ignored(tmp_path: Path) -> None:
    stream = io.StringIO()
    assert logs.configure("INFO", environ={"JOURNAL_STREAM": "1:2"}, stream=stream) == "human"
    logger.remove()


def test_per_module_levels() -> None:
    stream = io.StringIO()
    logs.configure("WARNING", {__name__: "DEBUG"}, environ={}, stream=stream)
    logger.debug("from this module")
    logging.getLogger("thespian.test").info("an INFO of another module")
    logger.remove()
    text = stream.getvalue()
    assert "from this module" in text
    assert "another module" not in text


def test_standard_logging_is_forwarded_with_its_level() -> None:
    stream = io.StringIO()
    logs.configure("INFO", environ={}, stream=stream)
    logging.getLogger("thespian.test").error("transport failed")
    logger.remove()
    assert " ERROR   [" in stream.getvalue()
    assert "thespian.test: transport failed" in stream.getvalue()


def test_priority_formatter_for_thespians_own_process(tmp_path: Path) -> None:
    record = logging.LogRecord("thespian.x", logging.ERROR, __file__, 1, "lost\nlink", None, None)
    plain = logs.PriorityFormatter(environ={})
    assert plain.format(record).endswith(" ERROR [thespian] lost\nlink")
    with open(tmp_path / "stderr", "w") as stream:
        info = os.fstat(stream.fileno())
        formatter = logs.PriorityFormatter(environ={})
        formatter.journal = logs.stream_is_journal(
            {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}, stream
        )
        assert formatter.format(record) == "<3>thespian.x: lost\\nlink"
