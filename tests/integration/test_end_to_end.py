"""The supervisor end to end on the simple base: real PostgreSQL and Mosquitto, simulated plugs."""

from __future__ import annotations

import json
import time

import pytest

from protocol.ids import CommandState as CS
from protocol.ids import ControlState, Mode
from tests.site import SCHEMA, Recorder, Site, supervisor_running, wait_until

pytestmark = pytest.mark.integration

WASHER, TANK, HEATER = 1, 2, 3
WASHER_COMMAND = "shellies/shellyplug-s-A101/relay/0/command"


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_an_ems_decision_starts_the_washer_and_the_database_shows_it(
    site: Site, recorder: Recorder, protocol: str
) -> None:
    config = site.config(mqtt={"protocol": protocol})
    with site.household() as household, supervisor_running(config) as started:
        assert started.equipment == 3 and started.problems == 0
        status = wait_until(lambda: recorder.on(f"{site.base_topic}/status"), what="status")
        assert json.loads(status[-1])["state"] == "online"
        wait_until(
            lambda: site.equipment(WASHER)["control"] == ControlState.OFF, what="observed off"
        )
        site.add_plan(WASHER, [1])
        wait_until(lambda: household["shellyplug-s-A101"].relay_on, what="the plug switched on")
        row = wait_until(
            lambda: (r := site.equipment(WASHER))["command"] == CS.MANUEL_PILOTE_ON and r,
            what="start verified",
        )
        assert row["mode"] == Mode.MANUEL  # the EMS must not plan it again
        assert row["consigne"] is True
        wait_until(lambda: site.equipment(WASHER)["control"] == ControlState.ON, what="observed on")
        assert row["started_at"] > 0
        # the latest power and the "why" journal in the supervisor's own schema
        wait_until(
            lambda: site.sql(
                "SELECT 1 FROM elfe_supervisor.device_state WHERE device_id = 'A101'"
                " AND power_w >= 1000"
            ),
            what="the plug's latest power",
        )
        reasons = [
            r
            for (r,) in site.sql(
                "SELECT reason FROM elfe_supervisor.event WHERE equipment_id = 1 ORDER BY id"
            )
        ]
        assert any(r.startswith("start verified") for r in reasons), reasons
        # the cycle ends (2 s of 2 kW, then idle) -> free running
        wait_until(
            lambda: site.equipment(WASHER)["command"] == CS.MANUEL_ON, timeout=15, what="cycle end"
        )
    assert json.loads(recorder.on(f"{site.base_topic}/status")[-1]) == {"state": "offline"}


def test_continuous_tank_on_tasmota_follows_a_plan_that_changes_mid_slot(site: Site) -> None:
    with site.household() as household, supervisor_running(site.config()):
        site.add_plan(TANK, [1] * 4, machine_type=131)
        wait_until(lambda: household["A102"].relay_on, what="tank on")
        row = wait_until(
            lambda: (r := site.equipment(TANK))["command"] == CS.MANUEL_PILOTE_ON and r,
            what="state 12",
        )
        wait_until(
            lambda: site.equipment(TANK)["started_at"] > 0, what="switch-on time for the EMS"
        )
        assert row["mode"] == Mode.PILOTE
        site.add_plan(TANK, [0] * 4, machine_type=131)  # a re-run of the EMS for the same slot
        wait_until(lambda: not household["A102"].relay_on, what="tank off")
        wait_until(lambda: site.equipment(TANK)["command"] == CS.PILOTE_STAND_BY, what="state 11")
        wait_until(lambda: site.equipment(TANK)["control"] == ControlState.OFF, what="observed off")


def test_a_restart_keeps_the_tank_relay_from_changing_within_min_switch_of_its_change(
    site: Site,
) -> None:
    """The tank's switch-on is kept in the own schema; the daemon restarts at once with a row
    that says off: the OFF waits `min_switch_s` from the switch-on, not from the restart."""
    config = site.config(control={"min_switch_s": 8.0})
    with site.household() as household:
        tank = household["A102"]
        with supervisor_running(config):
            site.add_plan(TANK, [1] * 4, machine_type=131)
            wait_until(lambda: tank.relay_on, timeout=15, what="tank on")
            kept = wait_until(
                lambda: site.sql(
                    "SELECT changed_at FROM elfe_supervisor.relay_change"
                    " WHERE device_id = 'A102' AND relay_on"
                ),
                what="the switch-on kept",
            )
        changed_at = kept[0][0]
        assert abs(changed_at - time.time()) < 5
        site.sql(  # meanwhile the EMS row says off
            f"UPDATE {SCHEMA}.equipement_pilote_ou_mesure SET etat_commande_id = 11,"
            " ems_consigne_marche = false WHERE id = %s",
            (TANK,),
        )
        site.add_plan(TANK, [0] * 4, machine_type=131)
        with supervisor_running(config):
            wait_until(lambda: not tank.relay_on, timeout=15, what="tank off")
            off_at = time.time()
        assert off_at >= changed_at + 8.0 - 1.0  # changed_at is whole seconds


def test_inverted_relay_heater_in_manual_is_powered_by_an_open_relay(site: Site) -> None:
    with site.household() as household, supervisor_running(site.config()):
        wait_until(
            lambda: household["shellyplug-s-A103"].commands, what="a command to the heater relay"
        )
        assert household["shellyplug-s-A103"].relay_on is False
        wait_until(lambda: site.equipment(HEATER)["control"] == ControlState.ON, what="observed on")
        assert site.equipment(HEATER)["command"] == CS.MANUEL_ON


def test_operator_interface_and_its_errors(site: Site, recorder: Recorder) -> None:
    with site.household() as household, supervisor_running(site.config()):
        recorder.publish(f"{site.base_topic}/equipment/{WASHER}/set", b'{"mode": "manuel"}')
        wait_until(lambda: household["shellyplug-s-A101"].relay_on, what="washer on")
        row = wait_until(
            lambda: (r := site.equipment(WASHER))["mode"] == Mode.MANUEL and r, what="mode 20"
        )
        assert row["command"] == CS.MANUEL_ON and row["programmed_at"] > 0
        recorder.publish(f"{site.base_topic}/equipment/{WASHER}/set", b'{"mode": "auto"}')
        recorder.publish(f"{site.base_topic}/equipment/99/set", b'{"start": true}')
        errors = wait_until(
            lambda: recorder.on(f"{site.base_topic}/equipment/{WASHER}/error"), what="error"
        )
        assert "invalid command" in json.loads(errors[0])["error"]
        errors = wait_until(
            lambda: recorder.on(f"{site.base_topic}/equipment/99/error"), what="error 99"
        )
        assert json.loads(errors[0]) == {"error": "unknown equipment 99"}


def test_viriya_update_applies_a_mode_changed_in_the_database(
    site: Site, recorder: Recorder
) -> None:
    with site.household() as household, supervisor_running(site.config()):
        wait_until(lambda: household["shellyplug-s-A101"].commands, what="start-up command")
        assert household["shellyplug-s-A101"].relay_on is False
        site.sql(
            "UPDATE bdd_coordination_schema.equipement_pilote_ou_mesure"
            " SET equipement_pilote_ou_mesure_mode_id = 20 WHERE id = 1"
        )
        recorder.publish(f"viriya/update/{WASHER}", b"")
        wait_until(
            lambda: household["shellyplug-s-A101"].relay_on, what="washer powered in manual mode"
        )
        wait_until(lambda: site.equipment(WASHER)["command"] == CS.MANUEL_ON, what="state 13")


def test_bad_payloads_are_rejected_and_the_rest_keeps_running(
    site: Site, recorder: Recorder
) -> None:
    with site.household() as household, supervisor_running(site.config()):
        for topic, payload in [
            ("shellies/shellyplug-s-A101/relay/0", b"\xff\xfe"),
            ("shellies/shellyplug-s-A101/relay/0/power", b"NaN"),
            ("stat/A102/RESULT", b"{not json"),
            ("tele/A102/SENSOR", b'{"ENERGY": {"Power": "lots"}}'),
            ("tele/A102/LWT", b"maybe"),
        ]:
            recorder.publish(f"{site.prefix}/{topic}", payload)
        recorder.publish("viriya/update/not-a-number", b"")
        site.add_plan(WASHER, [1])
        wait_until(lambda: household["shellyplug-s-A101"].relay_on, what="the washer still driven")
        wait_until(
            lambda: site.equipment(WASHER)["command"] == CS.MANUEL_PILOTE_ON, what="start verified"
        )


def test_an_unusable_row_goes_to_err_with_its_reason_and_the_others_run(site: Site) -> None:
    site.sql(
        "UPDATE bdd_coordination_schema.equipement_pilote_ou_mesure"
        " SET typologie_installation_domotique_id = 110 WHERE id = 2"
    )
    site.sql(
        "DELETE FROM bdd_coordination_schema.equipement_domotique_shellyplugs_shellycloud_v1"
        " WHERE equipement_domotique_id = 'A103'"
    )
    with site.household() as household, supervisor_running(site.config()) as started:
        assert started.problems == 2
        wait_until(lambda: site.equipment(TANK)["command"] == CS.ERR, what="tank in err")
        wait_until(lambda: site.equipment(HEATER)["command"] == CS.ERR, what="heater in err")
        site.add_plan(WASHER, [1])
        wait_until(lambda: household["shellyplug-s-A101"].relay_on, what="washer still driven")
        assert not household["A102"].commands and not household["shellyplug-s-A103"].commands


def test_a_stuck_relay_ends_in_err_and_recovers_when_it_obeys(site: Site) -> None:
    with site.household() as household, supervisor_running(site.config()):
        household["A102"].respond_to_commands = False
        site.add_plan(TANK, [1] * 4, machine_type=131)
        wait_until(lambda: site.equipment(TANK)["command"] == CS.ERR, timeout=15, what="err")
        household["A102"].respond_to_commands = True
        wait_until(
            lambda: site.equipment(TANK)["command"] == CS.MANUEL_PILOTE_ON,
            timeout=15,
            what="recovered by a re-assert at the next report",
        )


def test_device_offline_is_errcom_and_back_online_is_reasserted(site: Site) -> None:
    with site.household() as household, supervisor_running(site.config()):
        wait_until(lambda: site.equipment(TANK)["control"] == ControlState.OFF, what="observed off")
        household["A102"].go_offline()
        wait_until(lambda: site.equipment(TANK)["control"] == ControlState.ERRCOM, what="errcom")
        before = len(household["A102"].commands)
        household["A102"].come_online()
        wait_until(
            lambda: site.equipment(TANK)["control"] == ControlState.OFF, what="observed again"
        )
        wait_until(lambda: len(household["A102"].commands) > before, what="re-asserted")
