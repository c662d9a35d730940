"""The daemon as systemd sees it: the notifications on a real $NOTIFY_SOCKET (STATUS= while it
waits, READY=1 once every actor is up, WATCHDOG=1 while the core answers, STOPPING=1), and a
clean shutdown logged at INFO."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.site import Site, free_port, start_daemon

pytestmark = pytest.mark.integration


class Notifications:
    """systemd's side of sd_notify: a datagram socket, everything received in order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.received: list[str] = []

    def wait_for(self, predicate: object, timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                message = self.sock.recv(4096).decode()
            except TimeoutError:
                break
            self.received.append(message)
            if predicate(message):  # type: ignore[operator]
                return message
        raise AssertionError(f"no {what} within {timeout} s; received {self.received}")


@pytest.fixture
def notifications(tmp_path: Path) -> Iterator[Notifications]:
    n = Notifications(tmp_path / "notify")
    yield n
    n.sock.close()


def start(config_path: Path, notify: Path, log: Path, watchdog_s: float) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "NOTIFY_SOCKET": str(notify),
        "WATCHDOG_USEC": str(int(watchdog_s * 1_000_000)),
    }
    env.pop("JOURNAL_STREAM", None)
    with open(log, "w") as out:
        return start_daemon(config_path, out, env)


def test_ready_watchdog_and_clean_stop(
    site: Site, tmp_path: Path, notifications: Notifications
) -> None:
    path = site.write_config(site.config(supervisor={"log_level": "INFO"}), tmp_path / "c.toml")
    log = tmp_path / "daemon.log"
    daemon = start(path, notifications.path, log, watchdog_s=2.0)
    try:
        ready = notifications.wait_for(lambda m: "READY=1" in m, 30, "READY=1")
        assert ready.startswith("READY=1\nSTATUS=running: 3 equipment, ")
        assert notifications.received[0].startswith("STATUS=starting")
        started = time.monotonic()
        for _ in range(3):  # fed every second (half of WatchdogSec=2)
            notifications.wait_for(lambda m: m == "WATCHDOG=1", 3, "WATCHDOG=1")
        assert time.monotonic() - started < 5
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
        notifications.wait_for(lambda m: m == "STOPPING=1", 2, "STOPPING=1")
    finally:
        if daemon.poll() is None:
            daemon.kill()
    text = log.read_text()
    after_stop = text[text.index("stopping") :]
    assert "stopped (exit code 0)" in after_stop
    assert " WARNING " not in after_stop and " ERROR " not in after_stop, after_stop


def test_status_says_what_it_waits_for_and_no_ready_before(
    site: Site, tmp_path: Path, notifications: Notifications
) -> None:
    broker = free_port()  # nothing listens there
    config = site.config(mqtt={"port": broker})
    path = site.write_config(config, tmp_path / "c.toml")
    daemon = start(path, notifications.path, tmp_path / "daemon.log", watchdog_s=2.0)
    try:
        notifications.wait_for(
            lambda m: m == f"STATUS=starting: waiting for the MQTT broker 127.0.0.1:{broker}",
            15,
            "a status naming the broker",
        )
        # the core answers: the watchdog is fed even though it is not ready
        notifications.wait_for(lambda m: m == "WATCHDOG=1", 5, "WATCHDOG=1")
        assert not any("READY=1" in m for m in notifications.received)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=15)
