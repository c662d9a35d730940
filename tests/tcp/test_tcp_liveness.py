"""A dead Supervisor does not go unnoticed: on multiprocTCPBase, SIGKILL of the Supervisor's
process stops the watchdog and the daemon exits 1 (so that systemd restarts it)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.site import Recorder, Site, cli, start_daemon, wait_until
from tests.sockets import processes_running

pytestmark = [pytest.mark.integration, pytest.mark.tcp]


def parent_of(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1])


def test_a_killed_supervisor_makes_the_daemon_exit_1(
    site: Site, recorder: Recorder, tmp_path: Path
) -> None:
    config = site.config(
        system_base="multiprocTCPBase", supervisor={"liveness_timeout_seconds": 3.0}
    )
    path = site.write_config(config, tmp_path / "elfe-liveness.toml")
    log_path = tmp_path / "daemon.log"
    with open(log_path, "w") as log:
        daemon = start_daemon(path, log)
    try:
        wait_until(lambda: recorder.on(f"{site.base_topic}/status"), timeout=30, what="online")
        # ready (before, the longer start-up bound ready_timeout_seconds applies)
        wait_until(lambda: "started in" in log_path.read_text(), timeout=30, what="ready")
        device = json.loads(cli("inspect", "--config", str(path), "2").stdout)["pid"]
        supervisor = parent_of(device)  # Thespian forks each actor from its parent's process
        assert supervisor not in (daemon.pid, os.getpid())
        killed = time.monotonic()
        os.kill(supervisor, signal.SIGKILL)
        assert daemon.wait(timeout=30) == 1
        assert time.monotonic() - killed < 30
    finally:
        if daemon.poll() is None:
            daemon.kill()
        for line in processes_running(str(path)):
            os.kill(int(line.split()[0]), signal.SIGKILL)
    text = log_path.read_text()
    assert "core dead: no answer from supervisor" in text, text
