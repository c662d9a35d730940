"""Permanent errors at start-up stop the daemon with one line naming the cause and the key, exit
code 1 within 30 s; and no password ever reaches the logs, even when handlers fail."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psycopg
import pytest

from tests.site import Site, cli, free_port, start_daemon, wait_until

pytestmark = pytest.mark.integration

RIGHT = "right-password"  # the private broker's password for the account elfe-supervisor


def run_daemon(path: Path, env: dict[str, str] | None = None) -> tuple[int, str, float]:
    started = time.monotonic()
    result = cli("run", "--config", str(path), env={**os.environ, **(env or {})})
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


def cannot_start(text: str) -> list[str]:
    return [line for line in text.splitlines() if "cannot start: " in line]


def test_wrong_mqtt_password(site: Site, tmp_path: Path, private_broker: int) -> None:
    mqtt = {"port": private_broker, "username": "elfe-supervisor"}
    path = site.write_config(site.config(mqtt=mqtt), tmp_path / "c.toml")
    code, out, took = run_daemon(path, {"ELFE_MQTT_PASSWORD": "wrong-password"})
    assert code == 1, out
    assert took < 30
    assert cannot_start(out) == [
        cannot_start(out)[0].split("cannot start: ")[0]
        + f"cannot start: mqtt.password: MQTT broker 127.0.0.1:{private_broker}: "
        "MQTT broker refused the connection: not authorized"
    ]
    assert "wrong-password" not in out


def test_missing_table(site: Site, tmp_path: Path) -> None:
    site.sql("DROP TABLE bdd_coordination_schema.equipement_domotique_type CASCADE")
    path = site.write_config(site.config(), tmp_path / "c.toml")
    code, out, took = run_daemon(path)
    assert code == 1, out
    assert took < 30
    [line] = cannot_start(out)
    assert line.endswith(
        "cannot start: coordination.schema: table "
        "bdd_coordination_schema.equipement_domotique_type does not exist"
    )


def test_missing_role(site: Site, tmp_path: Path) -> None:
    dsn = psycopg.conninfo.make_conninfo(site.dsn, user="elfe_no_such_role")
    path = site.write_config(site.config(coordination={"dsn": dsn}), tmp_path / "c.toml")
    code, out, _ = run_daemon(path)
    assert code == 1, out
    assert any(
        "cannot start: coordination.dsn: role does not exist" in x for x in cannot_start(out)
    )


def test_unreadable_ca_file(site: Site, tmp_path: Path) -> None:
    mqtt = {"ca_file": str(tmp_path / "missing-ca.pem")}
    path = site.write_config(site.config(mqtt=mqtt), tmp_path / "c.toml")
    code, out, _ = run_daemon(path)
    assert code == 1, out
    [line] = cannot_start(out)
    assert "cannot start: mqtt.ca_file: " in line and "missing-ca.pem" in line


def test_a_broker_that_is_down_is_not_permanent(site: Site, tmp_path: Path) -> None:
    port = free_port()
    path = site.write_config(site.config(mqtt={"port": port}), tmp_path / "c.toml")
    with open(tmp_path / "log", "w") as log:
        daemon = start_daemon(path, log)
    try:
        wait_until(
            lambda: "retrying in the background" in (tmp_path / "log").read_text(),
            timeout=20,
            what="the outage said once",
        )
        time.sleep(3)
        assert daemon.poll() is None  # still running, retrying
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
    text = (tmp_path / "log").read_text()
    assert text.count(f"127.0.0.1:{port}") <= 3, text  # no line per attempt


# A handler that fails: Thespian logs the failure with the message it was handling (the first
# Configure of each gateway, the first message of each device actor); it is retried and works.
FAILING_HANDLERS = """
import sys
from actors.device import DeviceActor
from actors.mqtt_gateway import MqttGateway
from actors.plan_reader import PlanReader
from protocol.messages import Configure

failed = set()

def failing(cls, first_only):
    original = cls.receiveMessage
    def receive(self, message, sender):
        key = (cls.__name__, id(self))
        if key not in failed and (not first_only or isinstance(message, Configure)):
            failed.add(key)
            # with the message it handled, as Thespian's multiproc base logs it
            raise RuntimeError(f"deliberate failure in {cls.__name__}: {message!r}")
        return original(self, message, sender)
    cls.receiveMessage = receive

failing(MqttGateway, True)
failing(PlanReader, True)
failing(DeviceActor, False)
import supervisor
sys.exit(supervisor.main(sys.argv[1:]))
"""


def test_no_password_in_the_logs_of_failing_handlers(
    site: Site, tmp_path: Path, private_broker: int
) -> None:
    pg_password = "pg-secret-8c1d4"  # the test server trusts local logins, any password works
    dsn = psycopg.conninfo.make_conninfo(site.dsn)
    env = {
        "ELFE_COORDINATION_DSN": psycopg.conninfo.make_conninfo(dsn, password=pg_password),
        "ELFE_MQTT_PASSWORD": RIGHT,
    }
    mqtt = {"port": private_broker, "username": "elfe-supervisor"}
    config = site.config(mqtt=mqtt, supervisor={"log_level": "DEBUG"})
    path = site.write_config(config, tmp_path / "c.toml")
    log_path = tmp_path / "log"
    with open(log_path, "w") as log:
        daemon = start_daemon(path, log, {**os.environ, **env}, code=FAILING_HANDLERS)
    try:
        wait_until(lambda: "started in" in log_path.read_text(), timeout=30, what="started")
        time.sleep(1)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=15)
    text = log_path.read_text()
    assert "deliberate failure in MqttGateway" in text, text  # the failures were logged
    assert "deliberate failure in DeviceActor" in text
    assert "Configure(config=Config(" in text  # whole configurations were logged
    assert pg_password not in text
    assert RIGHT not in text
