"""Partitions on one host: `partitions = 2`, the households split between two partition
processes that share the broker and the database; plans reach both, a stimulus is handled by the
owner only, a killed partition is restarted and drives its equipment again, SIGTERM stops all."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from protocol.partition import RestartPolicy, household_partition
from runtime import control
from runtime.daemon import Stop
from runtime.partitions import run_partitions
from simulators import database
from tests.site import Recorder, Site, cli, start_daemon, wait_until

pytestmark = pytest.mark.integration

TANK = 131


def second_household(site: Site) -> tuple[dict[str, Any], ...]:
    """Household R004 (partition 1 of 2; the sample household R001 is partition 0): a hot-water
    tank on a Tasmota plug, and its screen."""
    assert household_partition("R001", 2) == 0 and household_partition("R004", 2) == 1
    database.add_equipment(site.dsn, 10, TANK, 120, household="R004", name="Ballon R004")
    p = site.prefix
    database.add_device(
        site.dsn,
        "B110",
        10,
        112,
        11,
        f"{p}/tele/B110/STATE",
        f"{p}/cmnd/B110/POWER",
        f"{p}/tele/B110/LWT",
        household="R004",
    )
    database.add_device(
        site.dsn,
        "G104",
        10,
        711,
        71,
        f"{p}/hasp/g104/state",
        f"{p}/hasp/g104/command/jsonl",
        f"{p}/hasp/g104/LWT",
        household="R004",
    )
    return (
        {
            "kind": "tasmota",
            "topic": "B110",
            "tele_period_s": 0.5,
            "appliance": {"kind": "continuous", "rated_power_w": 2400},
        },
    )


def last_json(recorder: Recorder, topic: str) -> dict[str, Any] | None:
    messages = recorder.on(topic)
    return json.loads(messages[-1]) if messages else None


def test_two_partitions_share_the_households(
    site: Site, recorder: Recorder, tmp_path: Path
) -> None:
    extra = second_household(site)
    config = site.config(supervisor={"partitions": 2, "log_level": "INFO"})
    path = site.write_config(config, tmp_path / "elfe-partitions.toml")
    status = f"{site.base_topic}/status"
    log = open(tmp_path / "daemon.log", "w")  # noqa: SIM115 - closed below
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # systemd's side of sd_notify
    notify.bind(str(tmp_path / "notify.sock"))
    notified: list[str] = []

    def listen() -> None:
        with contextlib.suppress(OSError):
            while data := notify.recv(4096):
                notified.append(data.decode())

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    env = {
        **os.environ,
        "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
        "WATCHDOG_USEC": "1000000",
    }
    daemon = start_daemon(path, log, env)
    try:
        with site.household(extra) as household:
            combined = wait_until(
                lambda: (d := last_json(recorder, status)) and d["state"] == "online" and d,
                timeout=20,
                what="combined status online",
            )
            assert combined["equipment"] == 4 and combined["partitions"] == 2
            assert last_json(recorder, f"{status}/0")["equipment"] == 3  # type: ignore[index]
            assert last_json(recorder, f"{status}/1")["equipment"] == 1  # type: ignore[index]

            # Introspection sees both partitions; equipment 10 and its screen live in 1.
            overview = json.loads(cli("inspect", "--config", str(path)).stdout)
            assert {k: v["equipment"] for k, v in overview["partitions"].items()} == {
                "0": 3,
                "1": 1,
            }
            assert {e: v["partition"] for e, v in overview["equipment"].items()} == {
                "1": 0,
                "2": 0,
                "3": 0,
                "10": 1,
            }
            assert overview["equipment"]["10"]["devices"] == ["B110", "G104"]
            shown = cli("inspect", "--config", str(path), "10")
            assert shown.returncode == 0, shown.stderr
            assert json.loads(shown.stdout)["partition"] == 1
            unknown = cli("inspect", "--config", str(path), "999")
            assert unknown.returncode == 1 and len(unknown.stderr.strip().splitlines()) == 1

            # One EMS run reaches the equipment of both partitions.
            site.add_plan(2, [1] * 4, machine_type=TANK)
            site.add_plan(10, [1] * 4, machine_type=TANK)
            wait_until(lambda: household["A102"].relay_on, timeout=5, what="R001 tank on")
            wait_until(lambda: household["B110"].relay_on, timeout=5, what="R004 tank on")

            # A stimulus is handled by the owner alone; errors come from exactly one place.
            base = site.base_topic
            recorder.publish(f"{base}/equipment/10/set", b'{"refresh": true}')
            recorder.publish(f"{base}/equipment/10/set", b'{"bogus": 1}')
            recorder.publish(f"{base}/equipment/999/set", b'{"refresh": true}')
            recorder.publish(f"{base}/equipment/x/set", b'{"refresh": true}')
            wait_until(lambda: recorder.on(f"{base}/equipment/x/error"), what="bad id answered")
            time.sleep(0.5)  # a second answer would have arrived by now
            assert len(recorder.on(f"{base}/equipment/10/error")) == 1
            assert len(recorder.on(f"{base}/equipment/999/error")) == 1
            assert len(recorder.on(f"{base}/equipment/x/error")) == 1
            counters = json.loads(cli("inspect", "--config", str(path), "--gateway", "mqtt").stdout)
            first, second = counters["partitions"]["0"], counters["partitions"]["1"]
            assert (first["foreign_stimuli"], second["stimuli"]) == (1, 1)  # the refresh of 10
            health = json.loads(cli("health", "--config", str(path)).stdout)
            assert (health["alive"], health["partitions"], health["partitions_alive"]) == (1, 2, 2)
            assert health["equipment"] == 4  # 3 + 1

            # A partition killed is restarted and drives its equipment again.
            victim = control.request(site.state_dir / "control-1.sock", {"ping": True})["pid"]
            os.kill(victim, signal.SIGKILL)
            wait_until(
                lambda: (d := last_json(recorder, status)) and d["state"] == "degraded" and d,
                timeout=5,
                what="combined status degraded",
            )
            assert last_json(recorder, status)["down"] == [1]  # type: ignore[index]
            wait_until(
                lambda: (d := last_json(recorder, status)) and d["state"] == "online",
                timeout=15,
                what="partition 1 back",
            )
            restarted = control.request(site.state_dir / "control-1.sock", {"ping": True})["pid"]
            assert restarted != victim
            site.add_plan(10, [0] * 4, machine_type=TANK)
            wait_until(lambda: not household["B110"].relay_on, timeout=5, what="R004 tank off")
            assert household["A102"].relay_on  # partition 0 never stopped

        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
        print(f"SIGTERM -> exit 0 in {time.monotonic() - started:.2f} s")
        # systemd heard the daemon alone: ready once, the partition down and back, pings, stop.
        wait_until(lambda: notified and notified[-1] == "STOPPING=1", timeout=2, what="STOPPING")
        assert [n for n in notified if n.startswith("READY=1")] == [
            "READY=1\nSTATUS=2/2 partitions online"
        ]
        assert "STATUS=1/2 partitions online" in notified
        assert notified.count("WATCHDOG=1") >= 3
        for topic in (status, f"{status}/0", f"{status}/1"):
            wait_until(
                lambda t=topic: last_json(recorder, t) == {"state": "offline"},
                timeout=2,
                what=f"offline on {topic}",
            )
        assert not any(site.state_dir.glob("control-*.sock"))
    finally:
        if daemon.poll() is None:
            daemon.kill()
        log.close()
        with contextlib.suppress(OSError):
            notify.shutdown(socket.SHUT_RDWR)  # ends the listener's recv
        notify.close()
        print((tmp_path / "daemon.log").read_text())


def failing(code: int) -> Any:
    """A partition command that exits at once with `code`."""
    return lambda config_path, share: [sys.executable, "-c", f"raise SystemExit({code})"]


def test_a_partition_that_keeps_dying_stops_the_daemon_non_zero(
    site: Site, recorder: Recorder
) -> None:
    config = site.config(supervisor={"partitions": 2})
    policy = RestartPolicy(delays_s=(0.1, 0.2), max_deaths=3, window_s=60.0)
    started = time.monotonic()
    code = run_partitions(config, "unused.toml", Stop(), policy=policy, spawn=failing(1))
    assert code == 1
    assert time.monotonic() - started < 5
    wait_until(
        lambda: last_json(recorder, f"{site.base_topic}/status") == {"state": "offline"},
        timeout=2,
        what="offline",
    )


def test_a_partition_with_a_configuration_error_stops_the_daemon_with_2(site: Site) -> None:
    config = site.config(supervisor={"partitions": 2})
    assert run_partitions(config, "unused.toml", Stop(), spawn=failing(2)) == 2


def test_a_partition_process_must_agree_with_the_configuration(site: Site, tmp_path: Path) -> None:
    path = site.write_config(site.config(supervisor={"partitions": 2}), tmp_path / "elfe.toml")
    refused = cli("run", "--config", str(path), "--partition", "1/3")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "elfe-supervisor: --partition 1/3: the configuration says partitions = 2"
    ]


def test_several_hosts_each_run_one_share(site: Site, recorder: Recorder, tmp_path: Path) -> None:
    """`partition = "k/n"`: two daemons as two hosts would run them (own state_dir each); the
    second takes its share from `ELFE_PARTITION`, as the systemd template unit gives it."""
    extra = second_household(site)
    paths, daemons, logs = [], [], []
    for k in (0, 1):
        share = {"partition": "0/2"} if k == 0 else {}
        config = site.config(supervisor={**share, "state_dir": str(tmp_path / f"host{k}")})
        paths.append(site.write_config(config, tmp_path / f"host{k}.toml"))
        logs.append(open(tmp_path / f"host{k}.log", "w"))  # noqa: SIM115 - closed below
        env = {**os.environ, "ELFE_PARTITION": "1/2"} if k == 1 else None
        daemons.append(start_daemon(paths[k], logs[k], env))
    status = f"{site.base_topic}/status"
    try:
        with site.household(extra) as household:
            for k, equipment in ((0, 3), (1, 1)):
                wait_until(
                    lambda k=k: (
                        (d := last_json(recorder, f"{status}/{k}")) and d["state"] == "online"
                    ),
                    timeout=20,
                    what=f"partition {k} online",
                )
                assert last_json(recorder, f"{status}/{k}")["equipment"] == equipment  # type: ignore[index]
            assert not recorder.on(status)  # nobody publishes the combined status: it is read
            shown = cli("status", "--config", str(paths[1]), "--partitions", "2", "--wait", "1")
            assert shown.returncode == 0, shown.stderr
            combined = json.loads(shown.stdout)
            assert (combined["state"], combined["equipment"], combined["down"]) == ("online", 4, [])

            overview = json.loads(cli("inspect", "--config", str(paths[1])).stdout)
            assert list(overview["equipment"]) == ["10"]  # each host sees its own share
            site.add_plan(10, [1] * 4, machine_type=TANK)
            wait_until(lambda: household["B110"].relay_on, timeout=5, what="R004 tank on")

            daemons[1].send_signal(signal.SIGTERM)
            assert daemons[1].wait(timeout=15) == 0
            shown = cli("status", "--config", str(paths[0]), "--wait", "1")
            assert shown.returncode == 1
            combined = json.loads(shown.stdout)
            assert (combined["state"], combined["equipment"], combined["down"]) == (
                "degraded",
                3,
                [1],
            )
    finally:
        for daemon in daemons:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
        for daemon, log in zip(daemons, logs, strict=True):
            try:
                assert daemon.wait(timeout=15) == 0
            finally:
                if daemon.poll() is None:
                    daemon.kill()
                log.close()


def test_the_partitions_stop_when_the_daemon_is_killed(site: Site, tmp_path: Path) -> None:
    path = site.write_config(site.config(supervisor={"partitions": 2}), tmp_path / "elfe.toml")
    log = open(tmp_path / "daemon.log", "w")  # noqa: SIM115 - closed below
    daemon = start_daemon(path, log)
    try:
        sockets = [site.state_dir / f"control-{k}.sock" for k in (0, 1)]

        def pids() -> list[int] | None:
            try:
                return [control.request(s, {"ping": True})["pid"] for s in sockets]
            except OSError:
                return None

        children = wait_until(pids, timeout=20, what="both partitions answering")
        daemon.kill()
        daemon.wait()
        wait_until(
            lambda: not any(Path(f"/proc/{pid}").exists() for pid in children),
            timeout=10,
            what="partitions gone with their daemon",
        )
    finally:
        if daemon.poll() is None:
            daemon.kill()
        log.close()


def test_a_partition_that_stops_answering_is_killed_and_restarted(
    site: Site, tmp_path: Path
) -> None:
    """A stuck partition (SIGSTOP: its loop answers nothing) misses its pings and is replaced."""
    config = site.config(supervisor={"partitions": 2})
    path = site.write_config(config, tmp_path / "elfe.toml")
    policy = RestartPolicy(delays_s=(0.2,), ping_every_s=0.5, ping_misses=2)
    stop = Stop()
    result: dict[str, int] = {}
    daemon = threading.Thread(
        target=lambda: result.update(code=run_partitions(config, str(path), stop, policy=policy))
    )
    daemon.start()
    socket_1 = site.state_dir / "control-1.sock"

    def pid_1() -> int | None:
        try:
            return int(control.request(socket_1, {"ping": True}, timeout=0.5)["pid"])
        except OSError:
            return None

    try:
        stuck = wait_until(pid_1, timeout=20, what="partition 1 answering")
        time.sleep(1.0)  # answered at least one ping of the daemon
        os.kill(stuck, signal.SIGSTOP)
        wait_until(lambda: (p := pid_1()) and p != stuck, timeout=15, what="partition 1 replaced")
        assert not Path(f"/proc/{stuck}").exists()  # killed and reaped
    finally:
        stop.requested = True
        daemon.join(30)
    assert result.get("code") == 0


def test_an_online_status_left_by_an_earlier_run_does_not_count(
    site: Site, recorder: Recorder
) -> None:
    """A retained `online` older than the partition's process is not taken as its status."""
    old = {"state": "online", "version": "0", "started_at": int(time.time()) - 3600}
    for k in (0, 1):
        recorder.publish(f"{site.base_topic}/status/{k}", json.dumps(old), retain=True)
    config = site.config(supervisor={"partitions": 2})
    stop = Stop()
    silent = lambda config_path, share: [sys.executable, "-c", "import time; time.sleep(30)"]  # noqa: E731
    daemon = threading.Thread(
        target=lambda: run_partitions(config, "unused.toml", stop, spawn=silent)
    )
    daemon.start()
    try:
        status = f"{site.base_topic}/status"
        first = wait_until(lambda: last_json(recorder, status), timeout=5, what="combined status")
        time.sleep(1.0)
        assert first["state"] == "offline" and first["down"] == [0, 1]
        assert all(json.loads(p)["state"] != "online" for p in recorder.on(status))
    finally:
        stop.requested = True
        daemon.join(30)
