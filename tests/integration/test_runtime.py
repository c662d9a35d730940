"""The in-process runtime: the daemon as systemd runs it has no TCP listening socket, answers on
its control socket (mode 0600) and through `inspect`; and a hung database does not delay MQTT."""

from __future__ import annotations

import contextlib
import json
import signal
import stat
import time
from pathlib import Path

import psycopg
import pytest

from runtime import control
from tests.faults import database_proxy
from tests.site import Recorder, Site, cli, start_daemon, supervisor_running, wait_until
from tests.sockets import listening_sockets, pids_running

pytestmark = pytest.mark.integration

WASHER, WATER = 1, 2


def test_the_in_process_daemon_listens_on_no_tcp_port_and_answers_on_its_control_socket(
    site: Site, recorder: Recorder, tmp_path: Path
) -> None:
    config = site.config()
    assert config.supervisor.system_base == "simpleSystemBase"
    path = site.write_config(config, tmp_path / "elfe.toml")
    sock = control.control_path(config.supervisor.state_dir)
    with open(tmp_path / "daemon.log", "w") as log:
        daemon = start_daemon(path, log)
        try:
            wait_until(lambda: recorder.on(f"{site.base_topic}/status"), timeout=20, what="online")
            assert pids_running(str(path)) == [daemon.pid]  # one process
            assert listening_sockets([daemon.pid]) == []
            assert stat.S_IMODE(sock.stat().st_mode) == 0o600
            assert control.request(sock, {"ping": True})["pid"] == daemon.pid

            overview = json.loads(cli("inspect", "--config", str(path)).stdout)
            assert overview["status"]["system_base"] == "simpleSystemBase"
            assert sorted(overview["equipment"]) == ["1", "2", "3"]
            tree = overview["actors"]["supervisor"]  # the actor tree, as a replay shows it
            named = {"mqtt", "db", "plans", "clock", "displays", "equipment 1"}
            assert named <= set(tree["children"])
            assert tree["children"]["mqtt"]["messages"] > 0 and tree["uptime_s"] >= 0
            assert overview["gateways"]["db"]["connected"] is True
            shown = cli("inspect", "--state-dir", config.supervisor.state_dir, str(WATER))
            assert shown.returncode == 0
            inside = json.loads(shown.stdout)["inside"]
            assert len(inside["next_decisions"]) == 8
            assert any(t["token"].startswith("stale:") for t in inside["timers"])
            gateway = json.loads(cli("inspect", "--config", str(path), "--gateway", "db").stdout)
            assert gateway["connected"] is True
            missing = cli("inspect", "--config", str(path), "99")
            assert missing.returncode == 1 and "99" in missing.stderr
            assert "error" in control.request(sock, {"equipment": "one"})
            second = cli("run", "--config", str(path))  # same state directory: refused
            assert second.returncode == 1 and "another elfe-supervisor answers" in second.stderr
            assert control.request(sock, {"ping": True})["pid"] == daemon.pid
        finally:
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(20) == 0
    assert not sock.exists()
    nobody = cli("inspect", "--config", str(path))
    assert nobody.returncode == 1 and "no supervisor answers" in nobody.stderr


def test_a_hung_database_does_not_delay_operator_orders(site: Site, recorder: Recorder) -> None:
    with database_proxy(site.dsn) as proxy:
        dsn = psycopg.conninfo.make_conninfo(site.dsn, host="127.0.0.1", port=proxy.port)
        config = site.config(coordination={"dsn": dsn}, ems={"dsn": dsn})
        command = f"{site.prefix}/cmnd/A102/POWER"
        operator = f"{site.base_topic}/equipment/{WATER}/set"
        operator_client = Recorder(f"{site.prefix}-operator")  # publishes; `recorder` listens
        with site.household(), supervisor_running(config), contextlib.closing(operator_client):
            wait_until(lambda: recorder.on(command), what="start-up order")
            proxy.black_hole()
            recorder.publish(operator, b'{"mode": "manuel"}')  # a transition: a write that hangs
            wait_until(lambda: b"ON" in recorder.on(command), what="manual order")
            latencies = []
            for _ in range(40):
                time.sleep(
                    0.2
                )  # the plug acknowledges the previous order (no order while one waits)
                before = len(recorder.on(command))
                sent = time.time()
                operator_client.publish(operator, b'{"refresh": true}')
                wait_until(lambda b=before: len(recorder.on(command)) > b, what="order")
                with recorder.lock:
                    arrived = [t for t, topic, _, _ in recorder.messages if topic == command]
                latencies.append(arrived[before] - sent)
            site_state = control.request(
                control.control_path(config.supervisor.state_dir), {"gateway": "db"}
            )
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        p50 = latencies[len(latencies) // 2]
        print(f"operator -> order, database hung: p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms")
        assert site_state["job_in_flight_s"] is not None  # the database was really hung
        assert p99 < 1.0, latencies
