"""Nothing is lost: orders reach the devices after a broker outage, transitions reach the database
after a database outage, and the last EMS plans keep being applied when their database is gone."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from protocol.ids import CommandState as CS
from protocol.ids import Mode
from simulators.household import SimulatedHousehold
from tests.faults import MOSQUITTO, PrivateBroker
from tests.site import PG_DSN, Recorder, Site, free_port, supervisor_running, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    if not Path(MOSQUITTO).exists():
        pytest.fail("mosquitto is not installed (scripts/test.sh installs it)")
    broker = PrivateBroker(tmp_path)
    broker.start()
    yield broker
    if broker.process and broker.process.poll() is None:
        broker.kill()


def test_an_order_decided_during_a_broker_outage_reaches_the_device(
    site: Site, broker: PrivateBroker
) -> None:
    specs = [
        {
            "kind": "shelly_gen1",
            "root": "shellies/shellyplug-s-A101",
            "report_period_s": 0.5,
            "appliance": {"kind": "triggered", "cycle_power_w": 2000, "cycle_s": 30.0},
        }
    ]
    household = SimulatedHousehold.from_specs(
        "127.0.0.1", broker.port, specs, topic_prefix=f"{site.prefix}/"
    )
    config = site.config(mqtt={"port": broker.port})
    with household, supervisor_running(config):
        plug = household["shellyplug-s-A101"]
        wait_until(lambda: plug.commands, what="start-up order")
        broker.kill()
        site.add_plan(1, [1])
        wait_until(
            lambda: site.equipment(1)["command"] == CS.PILOTE_EN_ACTIVATION, what="start decided"
        )
        time.sleep(1.0)  # the order is now waiting in the supervisor
        broker.start()
        wait_until(lambda: plug.relay_on, timeout=20, what="the order delivered after the outage")
        wait_until(
            lambda: site.equipment(1)["command"] == CS.MANUEL_PILOTE_ON, what="start verified"
        )


@contextmanager
def database_outage(site: Site) -> Iterator[None]:
    """Refuse every connection to the site's database, and cut the open ones."""
    name = psycopg.conninfo.conninfo_to_dict(site.dsn)["dbname"]
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(name))
        )
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        try:
            yield
        finally:
            admin.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(
                    sql.Identifier(name)
                )
            )


def test_transitions_made_during_a_database_outage_are_written_when_it_returns(
    site: Site, recorder: Recorder
) -> None:
    with site.household() as household, supervisor_running(site.config()):
        plug = household["shellyplug-s-A101"]
        wait_until(lambda: plug.commands, what="start-up order")
        with database_outage(site):
            recorder.publish(f"{site.base_topic}/equipment/1/set", b'{"mode": "manuel"}')
            wait_until(lambda: plug.relay_on, what="the order goes out without the database")
            time.sleep(1.5)  # the write failed and waits in the queue
        row = wait_until(
            lambda: (r := site.equipment(1))["mode"] == Mode.MANUEL and r,
            timeout=40,
            what="the queued transition written",
        )
        assert row["command"] == CS.MANUEL_ON and row["programmed_at"] > 0


def test_the_last_plans_are_applied_from_disk_when_the_ems_database_is_unreachable(
    site: Site, recorder: Recorder
) -> None:
    with site.household() as household, supervisor_running(site.config()):
        site.add_plan(2, [1] * 8, machine_type=131)
        wait_until(lambda: household["A102"].relay_on, what="tank on from the database plan")
    assert (site.state_dir / "plans.json").exists()
    site.sql(
        "UPDATE bdd_coordination_schema.equipement_pilote_ou_mesure SET etat_commande_id = 11,"
        " ems_consigne_marche = false WHERE id = 2"
    )  # as if it had been switched off since
    # unreachable (nothing listens there); a database that does not exist would be a
    # configuration error, which stops the daemon at start-up
    gone = psycopg.conninfo.make_conninfo(site.dsn, host="127.0.0.1", port=free_port())
    with site.household() as household, supervisor_running(site.config(ems={"dsn": gone})):
        wait_until(lambda: household["A102"].relay_on, what="tank on from the plan kept on disk")
        wait_until(lambda: site.equipment(2)["command"] == CS.MANUEL_PILOTE_ON, what="state 12")
        status = wait_until(
            lambda: [s for s in recorder.on(f"{site.base_topic}/status") if b"cached until" in s],
            what="the status saying the plans come from the cache",
        )
        assert json.loads(status[-1])["state"] == "online"
