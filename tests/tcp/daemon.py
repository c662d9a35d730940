"""The daemon on multiprocTCPBase as a subprocess (`tests.site.start_daemon`), its log printed
and every process of it killed at the end, whatever happened."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.site import start_daemon
from tests.sockets import processes_running


@contextmanager
def tcp_daemon(config_path: Path, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = open(tmp_path / "daemon.log", "w")  # noqa: SIM115 - closed below
    daemon = start_daemon(config_path, log, {**os.environ, "THESPIAN_BASE_IPADDR": "127.0.0.1"})
    try:
        yield daemon
    finally:
        if daemon.poll() is None:
            daemon.kill()
        for line in processes_running(str(config_path)):
            os.kill(int(line.split()[0]), signal.SIGKILL)
        log.close()
        print((tmp_path / "daemon.log").read_text())
