"""Household screens through the daemon on multiprocTCPBase (every message pickled, one process
per actor): drawn on the retained online, a touch reaches the database and every screen."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from protocol.ids import Mode
from tests.integration.test_screens import GREEN, RED, drawn, screen, world
from tests.site import Site, wait_until
from tests.tcp.daemon import tcp_daemon

pytestmark = [pytest.mark.integration, pytest.mark.tcp]


def test_screens_on_the_tcp_base(site: Site, tmp_path: Path) -> None:
    config = site.config(system_base="multiprocTCPBase")
    path = site.write_config(config, tmp_path / "elfe-tcp-screens.toml")
    with world(site) as household, tcp_daemon(path, tmp_path) as daemon:
        g101, g102 = screen(household, "g101"), screen(household, "g102")
        drawn(g101, GREEN, timeout=30.0)
        drawn(g102, GREEN, timeout=5.0)
        g102.touch_switch(3, 3, 0)
        wait_until(lambda: site.equipment(1)["mode"] == Mode.MANUEL, what="mode 20")
        drawn(g101, RED)
        drawn(g102, RED)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
