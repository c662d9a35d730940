"""Device families and typologies through the daemon on multiprocTCPBase (every message pickled,
one process per actor): a finger start (130, SwitchBot + Tasmota), a house-meter start (180,
Shelly Plus 1PM JSON-RPC + TIC)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from protocol.ids import CommandState as CS
from protocol.ids import Mode
from simulators import database
from tests.integration.test_families import FAST, add_device, device_state, finger_site, world
from tests.site import Site, start_daemon, wait_until
from tests.sockets import processes_running

pytestmark = [pytest.mark.integration, pytest.mark.tcp]


def test_finger_and_meter_typologies_on_the_tcp_base(site: Site, tmp_path: Path) -> None:
    specs = finger_site(site, 130)
    database.add_equipment(site.dsn, 11, 221, 180)
    add_device(site, "D111", 11, 411, 12, "controle/D111", "D111/rpc", "D111/online")
    add_device(site, "B111", 11, 211, 21, "tele/B111/SENSOR", "cmnd/B111/POWER", "tele/B111/LWT")
    specs += [
        {
            "kind": "shelly_gen2",
            "prefix": "D111",
            "report_period_s": 1.0,
            "appliance": {"kind": "continuous", "rated_power_w": 2300},
        },
        {"kind": "tic", "topic": "B111", "tele_period_s": 0.5, "load_va": 600.0},
    ]
    config = site.config(system_base="multiprocTCPBase", devices=FAST)
    path = site.write_config(config, tmp_path / "elfe-tcp-families.toml")
    log = open(tmp_path / "daemon.log", "w")  # noqa: SIM115 - closed below
    env = {**os.environ, "THESPIAN_BASE_IPADDR": "127.0.0.1"}
    with world(site, specs) as household:
        daemon = start_daemon(path, log, env)
        try:
            wait_until(lambda: device_state(site, "B111"), timeout=30, what="the meter heard")
            # a press needs a fresh idle measurement: the plan comes once the plug has reported
            wait_until(lambda: site.equipment(10)["control"] == 25, what="the plug's first report")
            site.add_plan(10, [1])
            site.add_plan(11, [1], machine_type=221)
            row = wait_until(
                lambda: (r := site.equipment(10))["command"] == CS.MANUEL_PILOTE_ON and r,
                timeout=20,
                what="the finger start",
            )
            assert row["mode"] == Mode.MANUEL
            assert len(household["GW10"].presses("C110")) == 1
            wait_until(lambda: household["D111"].relay_on, timeout=10, what="the RPC relay on")
            household["B111"].set_load_va(600.0 + 2300.0)
            wait_until(
                lambda: site.equipment(11)["command"] == CS.MANUEL_PILOTE_ON,
                timeout=15,
                what="the meter step",
            )
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=10) == 0
        finally:
            if daemon.poll() is None:
                daemon.kill()
            for line in processes_running(str(path)):
                os.kill(int(line.split()[0]), signal.SIGKILL)
            log.close()
            print((tmp_path / "daemon.log").read_text())
