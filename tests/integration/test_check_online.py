"""`elfe-supervisor check-config --online` against the real PostgreSQL and Mosquitto."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.site import ROOT, Site, cli, supervisor_running, wait_until

pytestmark = pytest.mark.integration


def run_check(site: Site, config_path: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    environment = {**os.environ, **(env or {})}
    result = cli("check-config", "--config", str(config_path), "--online", env=environment)
    return result.returncode, result.stdout + result.stderr


def test_a_good_configuration_passes_and_lists_what_it_would_drive(
    site: Site, tmp_path: Path
) -> None:
    path = site.write_config(site.config(), tmp_path / "config.toml")
    code, out = run_check(site, path)
    assert code == 0, out
    assert "online check: ok" in out
    assert "coordination database: " in out and ": connected" in out
    assert "equipment 1 " in out  # the sample household's washing machine
    assert "screen G101 of equipment 1" in out
    assert "EMS plans: public.result" in out
    assert "as anonymous: connected" in out


def test_a_missing_table_is_named(site: Site, tmp_path: Path) -> None:
    site.sql("DROP TABLE bdd_coordination_schema.equipement_domotique_type CASCADE")
    site.sql("ALTER TABLE public.result DROP COLUMN decisions_95")
    path = site.write_config(site.config(), tmp_path / "config.toml")
    code, out = run_check(site, path)
    assert code == 1, out
    assert (
        "problem: coordination.schema: table bdd_coordination_schema.equipement_domotique_type "
        "does not exist" in out
    )
    assert "problem: ems.table: table public.result has no column decisions_95" in out


def production_role(site: Site) -> str:
    """deploy/sql/roles.sql run in the test database (and the EMS grant of its last section);
    the DSN of the role it creates."""
    site.sql((ROOT / "deploy" / "sql" / "roles.sql").read_text())
    dbname = psycopg.conninfo.conninfo_to_dict(site.dsn)["dbname"]
    site.sql(
        sql.SQL("GRANT CONNECT ON DATABASE {} TO elfe_supervisor")
        .format(sql.Identifier(dbname))
        .as_string(None)
    )
    site.sql("GRANT SELECT ON public.result TO elfe_supervisor")
    return psycopg.conninfo.make_conninfo(site.dsn, user="elfe_supervisor")


def test_the_production_role_runs_the_daemon_with_its_own_tables(site: Site) -> None:
    config = site.config(coordination={"dsn": production_role(site)})
    with supervisor_running(config):
        wait_until(
            lambda: (
                site.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'elfe_supervisor'")[0][
                    0
                ]
                == 3
            ),
            what="device_state, event and relay_change created by the role in its own schema",
        )


def test_the_production_role_of_roles_sql_passes_and_a_missing_grant_is_named(
    site: Site, tmp_path: Path
) -> None:
    config = site.config(coordination={"dsn": production_role(site)})
    path = site.write_config(config, tmp_path / "config.toml")
    code, out = run_check(site, path)
    assert code == 0, out
    assert "as elfe_supervisor: connected" in out
    assert "warning" not in out  # CREATE on its own schema is enough for its tables

    site.sql(
        "REVOKE UPDATE (etat_commande_id) ON bdd_coordination_schema.equipement_pilote_ou_mesure"
        " FROM elfe_supervisor"
    )
    site.sql("REVOKE SELECT ON public.result FROM elfe_supervisor")
    code, out = run_check(site, path)
    assert code == 1, out
    assert (
        "problem: coordination.dsn: role elfe_supervisor may not UPDATE "
        "bdd_coordination_schema.equipement_pilote_ou_mesure (etat_commande_id;" in out
    )
    assert "problem: coordination.dsn: role elfe_supervisor may not SELECT public.result" in out


def test_an_unknown_database_role_is_permanent_and_named(site: Site, tmp_path: Path) -> None:
    dsn = psycopg.conninfo.make_conninfo(site.dsn, user="no_such_role_elfe")
    path = site.write_config(site.config(coordination={"dsn": dsn}), tmp_path / "config.toml")
    code, out = run_check(site, path)
    assert code == 1, out
    assert 'problem: coordination.dsn: role does not exist (FATAL: role "no_such_role_elfe"' in out


def test_wrong_mqtt_password_is_named(site: Site, tmp_path: Path, private_broker: int) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text("wrong-password\n")
    mqtt = {"port": private_broker, "username": "elfe-supervisor", "password_file": str(secret)}
    path = site.write_config(site.config(mqtt=mqtt), tmp_path / "config.toml")
    code, out = run_check(site, path)
    assert code == 1, out
    assert "problem: mqtt.password: MQTT broker 127.0.0.1:" in out
    assert "wrong-password" not in out

    secret.write_text("right-password\n")
    code, out = run_check(site, path)
    assert code == 0, out
    assert "as elfe-supervisor: connected" in out


def test_mqtt_password_from_systemd_credentials(
    site: Site, tmp_path: Path, private_broker: int
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "mqtt-password").write_text("right-password")
    mqtt = {"port": private_broker, "username": "elfe-supervisor"}
    path = site.write_config(site.config(mqtt=mqtt), tmp_path / "config.toml")
    code, out = run_check(site, path, env={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert code == 0, out
    code, out = run_check(site, path)
    assert code == 1, out
    assert "problem: mqtt.password: " in out


def test_unreadable_ca_file_is_named(site: Site, tmp_path: Path) -> None:
    mqtt = {"ca_file": str(tmp_path / "no-such-ca.pem")}
    path = site.write_config(site.config(mqtt=mqtt), tmp_path / "config.toml")
    code, out = run_check(site, path)
    assert code == 1, out
    assert "problem: mqtt.ca_file: " in out
    assert "no-such-ca.pem" in out
