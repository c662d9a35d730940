"""Secrets are resolved where they are used: MQTT password files, systemd credentials, passfile."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from protocol.config import MqttConfig, config_from_mapping
from runtime.secrets import (
    SecretError,
    coordination_dsn,
    dsn_has_password,
    ems_dsn,
    mqtt_password,
    postgres_dsn,
    redact_dsn,
)

DSN = "postgresql://elfe_supervisor@db.example:5432/bdd_coordination"


def test_no_password_at_all() -> None:
    assert mqtt_password(MqttConfig(), environ={}) is None


def test_password_from_the_environment() -> None:
    assert mqtt_password(MqttConfig(), environ={"ELFE_MQTT_PASSWORD": "p"}) == "p"


def test_password_file_is_read_at_use_and_one_newline_dropped(tmp_path: Path) -> None:
    path = tmp_path / "mqtt"
    path.write_text("s3cret \n")
    assert mqtt_password(MqttConfig(password_file=str(path)), environ={}) == "s3cret "
    path.write_text("changed")  # read where it is used: a rotation is seen at the next connect
    assert mqtt_password(MqttConfig(password_file=str(path)), environ={}) == "changed"


def test_relative_password_file_is_a_systemd_credential(tmp_path: Path) -> None:
    (tmp_path / "broker").write_text("from-credentials\n")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert mqtt_password(MqttConfig(password_file="broker"), environ=env) == "from-credentials"


def test_default_credential_name(tmp_path: Path) -> None:
    (tmp_path / "mqtt-password").write_text("cred\n")
    assert mqtt_password(MqttConfig(), environ={"CREDENTIALS_DIRECTORY": str(tmp_path)}) == "cred"
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path), "ELFE_MQTT_PASSWORD": "env"}
    assert mqtt_password(MqttConfig(), env) == "env"


def test_unreadable_password_file_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match=r"^mqtt\.password_file: .*missing: cannot be read"):
        mqtt_password(MqttConfig(password_file=str(tmp_path / "missing")), environ={})


def test_password_file_from_the_environment() -> None:
    raw = {"coordination": {"dsn": DSN}}
    config = config_from_mapping(raw, environ={"ELFE_MQTT_PASSWORD_FILE": "/y"})
    assert config.mqtt.password_file == "/y"


def test_dsns_from_the_environment_are_read_at_the_use_site(tmp_path: Path) -> None:
    env = {"ELFE_COORDINATION_DSN": "postgresql://u:pw@h/db"}
    config = config_from_mapping({}, environ=env)
    assert "pw" not in config.coordination.dsn
    assert conninfo_to_dict(coordination_dsn(config, env))["password"] == "pw"
    assert conninfo_to_dict(ems_dsn(config, env))["password"] == "pw"  # the same database
    env["ELFE_EMS_DSN"] = "host=e password=pw2 dbname=ems"
    assert conninfo_to_dict(ems_dsn(config, env))["password"] == "pw2"


def test_pgpass_credential_becomes_the_passfile(tmp_path: Path) -> None:
    (tmp_path / "pgpass").write_text("db.example:5432:*:elfe_supervisor:pw\n")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    params = conninfo_to_dict(postgres_dsn(DSN, env))
    assert params["passfile"] == str(tmp_path / "pgpass")
    assert params["host"] == "db.example" and params["dbname"] == "bdd_coordination"


def test_an_explicit_passfile_or_password_wins(tmp_path: Path) -> None:
    (tmp_path / "pgpass").write_text("*:*:*:*:pw\n")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert postgres_dsn(DSN, {**env, "PGPASSFILE": "/etc/other"}) == DSN
    assert postgres_dsn(DSN + "?passfile=/etc/mine", env) == DSN + "?passfile=/etc/mine"
    assert postgres_dsn(DSN, {}) == DSN
    assert postgres_dsn(DSN, {"CREDENTIALS_DIRECTORY": str(tmp_path / "none")}) == DSN


def test_redaction() -> None:
    secret = "postgresql://u:hunter2@h:5433/db"
    assert dsn_has_password(secret)
    assert not dsn_has_password(DSN)
    assert "hunter2" not in redact_dsn(secret)
    assert redact_dsn(secret) == "host=h port=5433 dbname=db user=u"
    assert redact_dsn("host=h password=x user=u") == "host=h user=u"
