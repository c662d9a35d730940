"""sd_notify over a real Unix datagram socket, as systemd listens."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime import systemd


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, dict[str, str]]]:
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    yield sock, {"NOTIFY_SOCKET": str(path)}
    sock.close()


def test_ready_status_watchdog(listener: tuple[socket.socket, dict[str, str]]) -> None:
    sock, env = listener
    assert systemd.status("waiting for the coordination database", env)
    assert sock.recv(4096) == b"STATUS=waiting for the coordination database"
    assert systemd.ready("12 equipment", env)
    assert sock.recv(4096) == b"READY=1\nSTATUS=12 equipment"
    assert systemd.watchdog(env)
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert systemd.stopping(env)
    assert sock.recv(4096) == b"STOPPING=1"


def test_status_is_one_line(listener: tuple[socket.socket, dict[str, str]]) -> None:
    sock, env = listener
    systemd.status("broker down:\nconnection refused", env)
    assert sock.recv(4096) == b"STATUS=broker down: connection refused"


def test_abstract_socket_name() -> None:
    name = f"elfe-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2)
    try:
        assert systemd.ready(environ={"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"READY=1"
    finally:
        sock.close()


def test_no_op_outside_systemd(tmp_path: Path) -> None:
    assert not systemd.ready(environ={})
    assert not systemd.watchdog(environ={"NOTIFY_SOCKET": ""})
    assert not systemd.status("x", environ={"NOTIFY_SOCKET": "vsock:2:1234"})
    # a socket that went away is not an error of the daemon
    assert not systemd.watchdog(environ={"NOTIFY_SOCKET": str(tmp_path / "gone")})


def test_watchdog_interval() -> None:
    me = os.getpid()
    assert systemd.watchdog_interval({}) is None
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(me)}) == 30
    other = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}
    assert systemd.watchdog_interval(other, pid=2) is None
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "junk"}) is None
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "0"}) is None
