"""On multiprocTCPBase every listening socket of the daemon (the starter, the Thespian admin and
logger, every actor process) is bound to 127.0.0.1, even without THESPIAN_BASE_IPADDR."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.site import Recorder, Site, start_daemon, wait_until
from tests.sockets import is_loopback, listening_sockets, pids_running

pytestmark = [pytest.mark.integration, pytest.mark.tcp]


def test_every_listening_socket_of_the_multiproc_daemon_is_on_loopback(
    site: Site, recorder: Recorder, tmp_path: Path
) -> None:
    config = site.config(system_base="multiprocTCPBase")
    path = site.write_config(config, tmp_path / "elfe-loopback.toml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("THESPIAN_")}
    with open(tmp_path / "daemon.log", "w") as log:
        daemon = start_daemon(path, log, env)
        try:
            wait_until(lambda: recorder.on(f"{site.base_topic}/status"), timeout=30, what="online")
            assert json.loads(recorder.on(f"{site.base_topic}/status")[-1])["state"] == "online"
            pids = pids_running(str(path))
            sockets = listening_sockets(pids)
            ports = {port for _, port, _ in sockets}
            assert config.supervisor.admin_port in ports, sockets  # the admin is among them
            assert len(sockets) >= 3 + 4 + 1, sockets  # devices, gateways + clock, supervisor
            exposed = [s for s in sockets if not is_loopback(s[0])]
            assert not exposed, f"listening beyond loopback: {exposed}"
        finally:
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(20) == 0
    wait_until(lambda: not pids_running(str(path)), timeout=10, what="every process gone")
