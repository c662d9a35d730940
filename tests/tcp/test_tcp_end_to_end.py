"""The daemon as systemd runs it: `elfe-supervisor run` on multiprocTCPBase (one process per actor,
every message pickled), an EMS plan to a simulated plug and back to the database, the
introspection command, and SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from protocol.ids import CommandState as CS
from protocol.ids import ControlState, Mode
from tests.site import ROOT, Recorder, Site, cli, start_daemon, wait_until
from tests.sockets import processes_running

pytestmark = [pytest.mark.integration, pytest.mark.tcp]


def test_daemon_on_tcp_base_end_to_end_then_sigterm(
    site: Site, recorder: Recorder, tmp_path: Path
) -> None:
    # A plan must apply at once through LISTEN/NOTIFY (the trigger of deploy/sql/ems_notify.sql),
    # not at the next poll, which is a minute away.
    site.sql((ROOT / "deploy" / "sql" / "ems_notify.sql").read_text(encoding="utf-8"))
    config = site.config(system_base="multiprocTCPBase", ems={"poll_seconds": 60.0})
    path = site.write_config(config, tmp_path / "elfe-tcp.toml")
    log = open(tmp_path / "daemon.log", "w")  # noqa: SIM115 - closed below
    env = {**os.environ, "THESPIAN_BASE_IPADDR": "127.0.0.1"}
    daemon = start_daemon(path, log, env)
    try:
        with site.household() as household:
            status = wait_until(
                lambda: recorder.on(f"{site.base_topic}/status"), timeout=30, what="online"
            )
            document = json.loads(status[-1])
            assert document["state"] == "online" and document["equipment"] == 3
            assert document["system_base"] == "multiprocTCPBase"
            assert (
                len(processes_running(str(path))) >= 3 + 4 + 2
            )  # devices, gateways+clock, supervisor, admin

            site.add_plan(1, [1])
            wait_until(lambda: household["shellyplug-s-A101"].relay_on, timeout=5, what="plug on")
            row = wait_until(
                lambda: (r := site.equipment(1))["command"] == CS.MANUEL_PILOTE_ON and r,
                timeout=15,
                what="start verified",
            )
            assert row["mode"] == Mode.MANUEL
            # observed states are written in batches, a moment after the transition
            wait_until(lambda: site.equipment(1)["control"] == ControlState.ON, what="observed on")

            shown = cli("inspect", "--config", str(path), "1")
            assert shown.returncode == 0, shown.stderr
            assert json.loads(shown.stdout)["state"]["command_state"] == CS.MANUEL_PILOTE_ON
            assert len(json.loads(shown.stdout)["inside"]["next_decisions"]) == 8
            overview = json.loads(cli("inspect", "--config", str(path)).stdout)
            assert set(overview["equipment"]) == {"1", "2", "3"}
            actors = overview["actors"]["supervisor"]["children"]  # one process each, counted
            assert actors["equipment 1"]["messages"] > 0 and actors["clock"]["messages"] > 0

            # A device actor that dies is recreated from the database, its devices still driven.
            victim = json.loads(cli("inspect", "--config", str(path), "2").stdout)["pid"]
            os.kill(victim, signal.SIGKILL)
            wait_until(
                lambda: (
                    (r := cli("inspect", "--config", str(path), "2")).returncode == 0
                    and json.loads(r.stdout).get("pid") not in (None, victim)
                ),
                timeout=20,
                what="equipment 2 recreated",
            )
            site.add_plan(2, [1] * 4, machine_type=131)
            wait_until(lambda: household["A102"].relay_on, timeout=10, what="tank driven again")

        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
        try:  # the requirement: every actor process and the admin gone within 10 s of SIGTERM
            left = max(0.5, 10 - (time.monotonic() - started))
            wait_until(
                lambda: not processes_running(str(path)), timeout=left, what="processes gone"
            )
        except AssertionError:
            raise AssertionError(f"still running: {processes_running(str(path))}") from None
        assert json.loads(recorder.on(f"{site.base_topic}/status")[-1]) == {"state": "offline"}
    finally:
        if daemon.poll() is None:
            daemon.kill()
        for line in processes_running(str(path)):
            os.kill(int(line.split()[0]), signal.SIGKILL)
        log.close()
        print((tmp_path / "daemon.log").read_text())


def test_bad_configuration_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[mqtt]\nport = "1883"\n[coordination]\ndsn = "x"\n')
    result = cli("run", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"elfe-supervisor: config file {path}: mqtt.port: expected `int`, got `str`"
    ]
    path.write_text('[coordination]\ndsn = "x"\n[mqtt]\nhots = "broker"\n')
    result = cli("run", "--config", str(path))
    assert result.returncode == 2 and "mqtt.hots: unknown key" in result.stderr
    assert "Traceback" not in result.stderr
