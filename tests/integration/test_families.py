"""Every device family driven through the running supervisor (real PostgreSQL, real Mosquitto,
simulated devices answering like the real ones), and one typology of each family end to end:
fingers (130, 150), the house meter (180), a PLC output (140 on a Socorel channel)."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from psycopg import sql

from protocol.ids import CommandState as CS
from protocol.ids import ControlState, Mode
from simulators import database
from simulators.household import SimulatedHousehold
from tests.site import MQTT_HOST, MQTT_PORT, Recorder, Site, supervisor_running, wait_until

pytestmark = pytest.mark.integration

FAST = {
    "report_period_s": {
        "111": 1.0,
        "112": 1.0,
        "211": 1.0,
        "311": 5.0,
        "411": 1.0,
        "611": 2.0,
        "711": 5.0,
        "811": 1.0,
    }
}


def world(site: Site, specs: list[dict[str, Any]]) -> SimulatedHousehold:
    return SimulatedHousehold.from_specs(
        MQTT_HOST, MQTT_PORT, specs, topic_prefix=f"{site.prefix}/"
    )


def add_device(
    site: Site,
    device: str,
    equipment: int,
    type_id: int,
    usage: int,
    control: str,
    command: str,
    lwt: str | None,
    **kw: Any,
) -> None:
    p = site.prefix
    database.add_device(
        site.dsn,
        device,
        equipment,
        type_id,
        usage,
        f"{p}/{control}",
        f"{p}/{command}",
        f"{p}/{lwt}" if lwt else None,
        **kw,
    )


def device_state(site: Site, device: str) -> dict[str, Any] | None:
    """The device's row in the supervisor's own table (None until it is written)."""
    try:
        rows = site.sql(
            "SELECT relay_on, power_w, temperature_c, online FROM elfe_supervisor.device_state"
            " WHERE device_id = %s",
            (device,),
        )
    except psycopg.errors.UndefinedTable:
        return None  # created at the first flush
    if not rows:
        return None
    return dict(zip(("relay_on", "power_w", "temperature_c", "online"), rows[0], strict=True))


# --- fingers -------------------------------------------------------------------------------------


def finger_site(site: Site, typology: int) -> list[dict[str, Any]]:
    """A washing machine on a Tasmota plug that measures it, started by SwitchBot finger(s)."""
    database.add_equipment(site.dsn, 10, 112, typology)
    add_device(site, "A110", 10, 112, 21, "tele/A110/STATE", "cmnd/A110/POWER", "tele/A110/LWT")
    bots = [{"name": "C110", "presses": "A110", "button": "start"}]
    if typology == 150:
        bots.insert(0, {"name": "C109", "presses": "A110", "button": "power"})
        add_device(
            site,
            "C109",
            10,
            311,
            31,
            "switchbot/GW10/bot/C109/status",
            "switchbot/GW10/bot/C109/set",
            "switchbot/GW10/lastwill",
        )
    add_device(
        site,
        "C110",
        10,
        311,
        32,
        "switchbot/GW10/bot/C110/status",
        "switchbot/GW10/bot/C110/set",
        "switchbot/GW10/lastwill",
    )
    buttons = "power_and_start" if typology == 150 else "start"
    return [
        {
            "kind": "tasmota",
            "topic": "A110",
            "relay_on": True,
            "tele_period_s": 0.5,
            "appliance": {
                "kind": "pressable",
                "cycle_power_w": 2000,
                "cycle_s": 30.0,
                "buttons": buttons,
            },
        },
        {
            "kind": "switchbot",
            "host": "GW10",
            "bots": bots,
            "ble_delay_s": 0.2,
            "wait_between_s": 0.2,
        },
    ]


@pytest.mark.parametrize("typology", [130, 150])
def test_fingers_start_the_machine_once_and_the_database_shows_it(
    site: Site, typology: int
) -> None:
    specs = finger_site(site, typology)
    config = site.config(devices=FAST, control={"press_gap_s": 1.0})
    with world(site, specs) as household, supervisor_running(config):
        gateway = household["GW10"]
        wait_until(lambda: site.equipment(10)["control"] == 25, what="the plug's first report")
        site.add_plan(10, [1])
        row = wait_until(
            lambda: (r := site.equipment(10))["command"] == CS.MANUEL_PILOTE_ON and r,
            timeout=20,
            what="the finger start verified by the plug's power",
        )
        assert row["mode"] == Mode.MANUEL and row["started_at"] > 0
        time.sleep(2)
        assert len(gateway.presses("C110")) == 1  # never pressed twice
        if typology == 150:
            assert len(gateway.presses("C109")) == 1
        battery = wait_until(lambda: device_state(site, "C110"), what="the bot's telemetry")
        assert battery is not None


def test_a_finger_whose_gateway_fails_is_repeated_once_then_err(
    site: Site, recorder: Recorder
) -> None:
    specs = finger_site(site, 130)
    config = site.config(devices=FAST, control={"press_gap_s": 0.5, "finger_ack_timeout_s": 5})
    press_topic = f"{site.prefix}/switchbot/GW10/bot/C110/set"
    with world(site, specs) as household, supervisor_running(config):
        gateway = household["GW10"]
        gateway.fail_next("errorConnect", "C110")
        gateway.fail_next("errorConnect", "C110")
        wait_until(lambda: site.equipment(10)["control"] == 25, what="the plug's first report")
        site.add_plan(10, [1])
        row = wait_until(
            lambda: (r := site.equipment(10))["command"] == CS.ERR and r,
            timeout=20,
            what="err after the press and its single repeat both failed",
        )
        assert row["mode"] == Mode.PILOTE  # the EMS may plan it again
        time.sleep(2)
        assert len(recorder.on(press_topic)) == 2  # exactly the press and its repeat
        assert gateway.presses("C110") == []  # the gateway pressed nothing


def test_a_finger_whose_first_press_fails_is_started_by_the_repeat(site: Site) -> None:
    specs = finger_site(site, 130)
    config = site.config(devices=FAST, control={"press_gap_s": 0.5, "finger_ack_timeout_s": 5})
    with world(site, specs) as household, supervisor_running(config):
        gateway = household["GW10"]
        gateway.fail_next("errorConnect", "C110")
        # a press needs a fresh idle measurement: the plan comes once the plug has reported
        wait_until(lambda: site.equipment(10)["control"] == 25, what="the plug's first report")
        site.add_plan(10, [1])
        row = wait_until(
            lambda: (r := site.equipment(10))["command"] == CS.MANUEL_PILOTE_ON and r,
            timeout=20,
            what="started by the repeated press",
        )
        assert row["mode"] == Mode.MANUEL and len(gateway.presses("C110")) == 1


# --- the house meter (180) on a Shelly Plus relay ------------------------------------------------


def test_relai_et_compteur_is_confirmed_by_the_house_meter(site: Site) -> None:
    database.add_equipment(site.dsn, 11, 221, 180)  # a car charging at 2300 W
    add_device(site, "D111", 11, 411, 12, "controle/D111", "D111/rpc", "D111/online")
    add_device(site, "B111", 11, 211, 21, "tele/B111/SENSOR", "cmnd/B111/POWER", "tele/B111/LWT")
    specs = [
        {
            "kind": "shelly_gen2",
            "prefix": "D111",
            "report_period_s": 1.0,
            "appliance": {"kind": "continuous", "rated_power_w": 2300},
        },
        {"kind": "tic", "topic": "B111", "tele_period_s": 0.5, "load_va": 600.0},
    ]
    config = site.config(devices=FAST)
    with world(site, specs) as household, supervisor_running(config):
        relay, meter = household["D111"], household["B111"]
        wait_until(lambda: device_state(site, "B111"), what="the meter's first reading")
        time.sleep(1.0)
        site.add_plan(11, [1], machine_type=221)
        wait_until(lambda: relay.relay_on, what="the RPC order carried out")
        assert site.equipment(11)["command"] == CS.PILOTE_EN_ACTIVATION
        meter.set_load_va(600.0 + 2300.0)  # the house now draws the car's charge too
        row = wait_until(
            lambda: (r := site.equipment(11))["command"] == CS.MANUEL_PILOTE_ON and r,
            timeout=15,
            what="the meter step",
        )
        assert row["mode"] == Mode.MANUEL
        wait_until(lambda: site.equipment(11)["control"] == ControlState.ON, what="observed on")


# --- a PLC output (Socorel) and its local control ------------------------------------------------


def test_a_socorel_output_is_driven_and_the_plc_takes_local_control(site: Site) -> None:
    database.add_equipment(site.dsn, 12, 131, 140)  # hot water on output 3
    add_device(
        site,
        "S123",
        12,
        811,
        12,
        "Socorel/123456789/EtatSorties",
        "Socorel/123456789/sortie3",
        None,
        hardware_id="123456789",
    )
    specs = [
        {
            "kind": "socorel",
            "serial": "123456789",
            "report_period_s": 0.5,
            "appliances": [{}, {}, {"kind": "continuous", "rated_power_w": 2400}],
        }
    ]
    config = site.config(devices=FAST)
    with world(site, specs) as household, supervisor_running(config):
        plc = household["123456789"]
        site.add_plan(12, [1] * 4, machine_type=131)
        wait_until(lambda: plc.output_on(3), what="output 3 on")
        wait_until(lambda: site.equipment(12)["command"] == CS.MANUEL_PILOTE_ON, what="state 12")
        site.add_plan(12, [0] * 4, machine_type=131)
        wait_until(lambda: not plc.output_on(3), what="output 3 off")
        seen = len(plc.received)

        def orders() -> list[str]:
            return [p for _, t, p in plc.received[seen:] if t.endswith("/sortie3")]

        plc.set_local_manual(True)
        wait_until(lambda: site.equipment(12)["mode"] == 70, what="mode 70")
        # the single release ON goes out (a PLC in local control ignores it, as the real one does)
        wait_until(lambda: orders() == ["1"], what="the single release ON")
        plc.set_local_manual(False)
        wait_until(lambda: site.equipment(12)["mode"] == Mode.PILOTE, what="back to piloted")


# --- read-only families: TIC, H&T, openHASP; and Zigbee2MQTT through configuration ---------------


def test_read_only_devices_are_monitored(site: Site, recorder: Recorder) -> None:
    database.add_equipment(site.dsn, 13, 410, 200, mode=1, command_state=99)  # the house meter
    add_device(site, "B113", 13, 211, 21, "tele/B113/SENSOR", "cmnd/B113/POWER", "tele/B113/LWT")
    add_device(
        site,
        "F113",
        13,
        611,
        61,
        "shellies/F113/sensor/temperature",
        "NULL",
        "shellies/F113/online",
    )
    specs = [
        {
            "kind": "tic",
            "topic": "B113",
            "tele_period_s": 0.5,
            "load_va": 1500.0,
            "mode": "standard",
        },
        {"kind": "shelly_ht", "root": "shellies/F113", "period_s": 1.0, "temperature_c": 19.5},
        {"kind": "shelly_gen1", "root": "shellies/shellyplug-s-A101", "report_period_s": 0.5},
    ]
    config = site.config(devices=FAST)
    with world(site, specs) as household, supervisor_running(config):
        wait_until(lambda: site.equipment(13)["control"] == ControlState.ON, what="meter on")
        meter = wait_until(lambda: device_state(site, "B113"), what="meter telemetry")
        assert meter is not None and meter["power_w"] == pytest.approx(1500.0, abs=20)
        sensor = wait_until(
            lambda: (s := device_state(site, "F113")) and s["temperature_c"] and s,
            what="the thermometer's temperature",
        )
        assert sensor["temperature_c"] == pytest.approx(19.5)
        # the screen of the sample household: its LWT says online
        recorder.publish(f"{site.prefix}/hasp/g101/LWT", b"online", retain=True)
        screen = wait_until(
            lambda: (s := device_state(site, "G101")) and s["online"] and s,
            what="the screen's availability",
        )
        assert screen["online"] is True
        household["B113"].go_offline()
        wait_until(lambda: site.equipment(13)["control"] == ControlState.ERRCOM, what="errcom")
        assert site.equipment(13)["command"] == CS.NON_COMMANDE  # never commanded


def test_a_zigbee2mqtt_plug_through_configuration(site: Site) -> None:
    """An installation adds a device type for its Zigbee plugs and maps it to the codec."""
    schema = sql.Identifier("bdd_coordination_schema")
    site.sql(
        sql.SQL(
            "INSERT INTO {}.equipement_domotique_type VALUES"
            " (911, 'zigbee2mqtt_plug_v2', 'Prise Zigbee', 'prise Zigbee2MQTT')"
        )
        .format(schema)
        .as_string()
    )
    site.sql(
        sql.SQL(
            "CREATE TABLE {}.equipement_domotique_zigbee2mqtt_plug_v2 (id serial PRIMARY KEY,"
            " equipement_domotique_id text NOT NULL REFERENCES {}.equipement_domotique(id),"
            " topic_mqtt_controle_json text NOT NULL, topic_mqtt_commande_text text NOT NULL,"
            " topic_mqtt_lwt text)"
        )
        .format(schema, schema)
        .as_string()
    )
    database.DETAIL_TABLES[911] = "zigbee2mqtt_plug_v2"
    database.add_equipment(site.dsn, 14, 131, 120)
    add_device(
        site,
        "Z114",
        14,
        911,
        11,
        "zigbee2mqtt/garage/tank",
        "zigbee2mqtt/garage/tank/set",
        "zigbee2mqtt/garage/tank/availability",
    )
    specs = [
        {
            "kind": "zigbee2mqtt",
            "report_period_s": 1.0,
            "plugs": [
                {
                    "friendly_name": "garage/tank",
                    "appliance": {"kind": "continuous", "rated_power_w": 2000},
                }
            ],
        }
    ]
    config = site.config(devices={**FAST, "codecs": {"911": "zigbee2mqtt"}})
    try:
        with world(site, specs) as household, supervisor_running(config):
            bridge = household["garage/tank"]
            site.add_plan(14, [1] * 4, machine_type=131)
            wait_until(lambda: bridge.plug_on("garage/tank"), what="the Zigbee plug on")
            wait_until(lambda: site.equipment(14)["command"] == CS.MANUEL_PILOTE_ON, what="12")
            wait_until(lambda: site.equipment(14)["control"] == ControlState.ON, what="observed")
    finally:
        del database.DETAIL_TABLES[911]
