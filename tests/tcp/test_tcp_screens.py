"""Household screens through the daemon on multiprocTCPBase (every message pickled, one process
per actor): drawn on the retained online, a touch reaches the database and every screen."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from protocol.ids import Mode
from tests.integration.test_screens import GREEN, RED, drawn, screen, world
from tests.site import ROOT, Site, wait_until
from tests.tcp.test_tcp_end_to_end import processes_running

pytestmark = [pytest.mark.integration, pytest.mark.tcp]


def test_screens_on_the_tcp_base(site: Site, tmp_path: Path) -> None:
    config = site.config(system_base="multiprocTCPBase")
    path = site.write_config(config, tmp_path / "elfe-tcp-screens.toml")
    log = open(tmp_path / "daemon.log", "w")  # noqa: SIM115 - closed below
    env = {**os.environ, "THESPIAN_BASE_IPADDR": "127.0.0.1"}
    with world(site) as household:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "supervisor", "run", "--config", str(path)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            g101, g102 = screen(household, "g101"), screen(household, "g102")
            drawn(g101, GREEN, timeout=30.0)
            drawn(g102, GREEN, timeout=5.0)
            g102.touch_switch(3, 3, 0)
            wait_until(lambda: site.equipment(1)["mode"] == Mode.MANUEL, what="mode 20")
            drawn(g101, RED)
            drawn(g102, RED)
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=10) == 0
        finally:
            if daemon.poll() is None:
                daemon.kill()
            for line in processes_running(str(path)):
                os.kill(int(line.split()[0]), signal.SIGKILL)
            log.close()
            print((tmp_path / "daemon.log").read_text())
