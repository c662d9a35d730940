"""Household specs, the household runner and the ``python -m simulators`` command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulators.household import (
    ShellyGen1Spec,
    SimulatedHousehold,
    SpecError,
    TasmotaSpec,
    load_spec_file,
    parse_specs,
)
from simulators.shelly_gen1 import SimulatedShellyPlug
from simulators.shelly_gen2 import SimulatedShellyPlus
from simulators.shelly_ht import SimulatedShellyHT
from simulators.socorel import SimulatedSocorel
from simulators.switchbot import SimulatedSwitchBot
from simulators.tasmota import SimulatedTasmotaPlug
from simulators.tic import SimulatedTic
from simulators.zigbee2mqtt import SimulatedZigbee2Mqtt
from tests.simulators.conftest import Probe

REPO = Path(__file__).resolve().parents[2]

SPECS: list[dict[str, object]] = [
    {
        "kind": "shelly_gen1",
        "root": "shellies/shellyplug-s-A101",
        "appliance": {"kind": "triggered", "cycle_power_w": 2000, "cycle_s": 5400},
    },
    {
        "kind": "tasmota",
        "topic": "A102",
        "appliance": {"kind": "continuous", "rated_power_w": 2400, "full_after_s": 7200},
    },
]


def test_parse_specs_accepts_a_list_or_an_object() -> None:
    parsed = parse_specs(SPECS)
    assert isinstance(parsed[0], ShellyGen1Spec)
    assert isinstance(parsed[1], TasmotaSpec)
    assert parsed[1].tele_period_s == 30.0
    assert parse_specs({"devices": SPECS}) == parsed


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "zigbee", "topic": "x"}, "Invalid value 'zigbee'"),
        ({"kind": "tasmota"}, "missing required field `topic`"),
        ({"kind": "tasmota", "topic": "A1", "tele_periode_s": 5}, "unknown field"),
        ({"kind": "shelly_gen1", "root": 5}, "Expected `str`"),
    ],
)
def test_bad_specs_give_one_line_errors(spec: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message) as info:
        parse_specs([spec])
    assert "\n" not in str(info.value)


def test_bad_parameter_values_are_spec_errors() -> None:
    spec = {"kind": "tasmota", "topic": "A1", "appliance": {"kind": "triggered", "cycle_s": 0}}
    with pytest.raises(SpecError, match="cycle_s must be > 0"):
        SimulatedHousehold.from_specs("127.0.0.1", 1883, [spec])


def test_load_spec_file_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(SpecError, match="invalid JSON"):
        load_spec_file(broken)
    with pytest.raises(SpecError, match="cannot read"):
        load_spec_file(tmp_path / "missing.json")
    scalar = tmp_path / "scalar.json"
    scalar.write_text("3")
    with pytest.raises(SpecError, match="expected a list"):
        load_spec_file(scalar)


def test_from_specs_builds_the_devices_with_a_prefix() -> None:
    household = SimulatedHousehold.from_specs("127.0.0.1", 1883, SPECS, topic_prefix="t5f3/")
    shelly, tasmota = household.devices
    assert isinstance(shelly, SimulatedShellyPlug)
    assert shelly.root == "t5f3/shellies/shellyplug-s-A101"
    assert isinstance(tasmota, SimulatedTasmotaPlug)
    assert tasmota.topic_for("cmnd", "POWER") == "t5f3/cmnd/A102/POWER"
    assert household["A102"] is tasmota
    assert household["shellyplug-s-A101"] is shelly
    assert shelly.appliance.kind == "triggered"
    assert len(household) == 2


def test_command_line_rejects_a_bad_spec_in_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps([{"kind": "tasmota", "topc": "A1"}]))
    result = subprocess.run(
        [sys.executable, "-m", "simulators", "--spec", str(spec)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: bad spec {spec}: device #0:")


@pytest.mark.integration
def test_household_runs_and_stops(broker: tuple[str, int], prefix: str, probe: Probe) -> None:
    with SimulatedHousehold.from_specs(*broker, SPECS, topic_prefix=f"{prefix}/") as household:
        probe.wait_for(f"{prefix}/shellies/shellyplug-s-A101/online")
        probe.wait_for(f"{prefix}/tele/A102/LWT", lambda m: m.payload == "Online")
        mark = probe.mark()
        probe.publish(f"{prefix}/cmnd/A102/POWER", "ON")
        probe.publish(f"{prefix}/shellies/shellyplug-s-A101/relay/0/command", "on")
        probe.wait_for(f"{prefix}/stat/A102/POWER", lambda m: m.payload == "ON", since=mark)
        probe.wait_for(f"{prefix}/shellies/shellyplug-s-A101/relay/0", since=mark)
        assert household["A102"].relay_on
        assert household["shellyplug-s-A101"].power_w() == 2000.0
        mark = probe.mark()
    # A clean stop announces the devices as offline, as their wills would have.
    assert probe.wait_for(f"{prefix}/tele/A102/LWT", since=mark).payload == "Offline"
    assert probe.wait_for(f"{prefix}/shellies/shellyplug-s-A101/online", since=mark).payload == (
        "false"
    )


@pytest.mark.integration
def test_command_line_runs_until_interrupted(
    broker: tuple[str, int], prefix: str, probe: Probe, tmp_path: Path
) -> None:
    spec = tmp_path / "household.json"
    spec.write_text(json.dumps({"devices": SPECS}))
    host, port = broker
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulators",
            "--host",
            host,
            "--port",
            str(port),
            "--spec",
            str(spec),
            "--topic-prefix",
            f"{prefix}/",
            "--log-level",
            "WARNING",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        probe.wait_for(f"{prefix}/stat/A102/POWER", timeout=10)  # the boot state: OFF
        mark = probe.mark()
        probe.publish(f"{prefix}/cmnd/A102/POWER", "TOGGLE")
        assert probe.wait_for(f"{prefix}/stat/A102/POWER", since=mark).payload == "ON"
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# -- fingers wired to the appliance of another device ------------------------------------------

FINGER_130: list[dict[str, object]] = [
    {
        "kind": "tasmota",
        "topic": "A110",
        "relay_on": True,
        "tele_period_s": 0.5,
        "appliance": {"kind": "pressable", "cycle_power_w": 2000, "cycle_s": 60},
    },
    {
        "kind": "switchbot",
        "host": "C002",
        "ble_delay_s": 0.1,
        "wait_between_s": 0.1,
        "bots": [{"name": "C003", "presses": "A110"}],
    },
]


def test_a_bot_presses_the_appliance_of_another_device() -> None:
    household = SimulatedHousehold.from_specs("127.0.0.1", 1883, FINGER_130)
    gateway = household["C003"]
    assert isinstance(gateway, SimulatedSwitchBot)
    assert household["C002"] is gateway
    plug = household["A110"]
    assert plug.appliance.phase(time.time()) == "idle"
    target = gateway.core.bots["C003"].target
    assert target is not None
    target(time.time())
    assert plug.appliance.running(time.time())
    assert plug.power_w() == 2000.0


@pytest.mark.parametrize(
    ("bot", "message"),
    [
        ({"name": "C003", "presses": "A999"}, "no such device"),
        ({"name": "C003", "presses": "A111"}, "'continuous', not 'pressable'"),
        ({"name": "C003", "presses": "A110", "output": 2}, "single output"),
        ({"name": "C003", "output": 2}, "'output' without 'presses'"),
        ({"name": "C003", "presses": "A110", "button": "stop"}, "Invalid enum value 'stop'"),
    ],
)
def test_bad_finger_wiring_is_a_spec_error(bot: dict[str, object], message: str) -> None:
    specs = [
        FINGER_130[0],
        {"kind": "tasmota", "topic": "A111", "appliance": {"kind": "continuous"}},
        {"kind": "switchbot", "host": "C002", "bots": [bot]},
    ]
    with pytest.raises(SpecError, match=message) as info:
        SimulatedHousehold.from_specs("127.0.0.1", 1883, specs)
    assert "\n" not in str(info.value)


# -- every kind ---------------------------------------------------------------------------------

ALL_KINDS: list[dict[str, object]] = [
    {"kind": "shelly_gen1", "root": "shellies/shellyplug-s-A101"},
    {"kind": "tasmota", "topic": "A102"},
    {"kind": "shelly_gen2", "prefix": "D003", "appliance": {"kind": "pressable"}},
    {"kind": "tic", "topic": "B101", "mode": "standard", "load_va": 1200},
    {"kind": "shelly_ht", "root": "shellies/F002", "period_s": 3600},
    {"kind": "socorel", "serial": "121345678", "appliances": [{"kind": "continuous"}]},
    {
        "kind": "zigbee2mqtt",
        "plugs": [{"friendly_name": "garage/washer", "appliance": {"kind": "pressable"}}],
    },
    {
        "kind": "switchbot",
        "host": "C002",
        "bots": [
            {"name": "C003", "presses": "D003"},
            {"name": "C004", "presses": "garage/washer", "button": "start"},
        ],
    },
]


def test_every_kind_is_built_and_found_by_its_id() -> None:
    household = SimulatedHousehold.from_specs("127.0.0.1", 1883, ALL_KINDS, topic_prefix="t1/")
    expected = {
        "shellyplug-s-A101": SimulatedShellyPlug,
        "A102": SimulatedTasmotaPlug,
        "D003": SimulatedShellyPlus,
        "B101": SimulatedTic,
        "F002": SimulatedShellyHT,
        "121345678": SimulatedSocorel,
        "garage/washer": SimulatedZigbee2Mqtt,
        "C002": SimulatedSwitchBot,
        "C003": SimulatedSwitchBot,
    }
    for device_id, kind in expected.items():
        assert isinstance(household[device_id], kind), device_id
    assert len(household) == 8
    assert household["D003"].prefix == "t1/D003"  # type: ignore[attr-defined]
    assert household["B101"].topic_for("tele", "SENSOR") == "t1/tele/B101/SENSOR"  # type: ignore[attr-defined]
    assert household["F002"].root == "t1/shellies/F002"  # type: ignore[attr-defined]
    assert household["121345678"].root == "t1/Socorel/121345678"  # type: ignore[attr-defined]
    assert household["garage/washer"].base == "t1/zigbee2mqtt"  # type: ignore[attr-defined]
    assert household["C002"].base == "t1/switchbot/C002"  # type: ignore[attr-defined]
    assert parse_specs({"devices": ALL_KINDS}) == parse_specs(ALL_KINDS)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "switchbot", "host": "C002"}, "missing required field `bots`"),
        ({"kind": "shelly_gen2", "prefix": "D003", "auto_on_delay": 5}, "unknown field"),
        ({"kind": "tic", "topic": "B1", "mode": "triphase"}, "Invalid enum value 'triphase'"),
        ({"kind": "shelly_ht", "root": "shellies/F002", "sleep_mode": "nap"}, "Invalid enum"),
        ({"kind": "socorel", "serial": "1", "outputs": 5}, "Expected `str`"),
        ({"kind": "zigbee2mqtt", "plugs": [{"name": "x"}]}, "unknown field"),
        ({"kind": "tic", "topic": "B1", "subscribed_kva": 2}, "subscribed_kva must be in"),
        ({"kind": "socorel", "serial": "1", "outputs": "0101"}, "outputs must be 8 characters"),
    ],
)
def test_bad_specs_of_the_new_kinds(spec: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message) as info:
        SimulatedHousehold.from_specs("127.0.0.1", 1883, [spec])
    assert "\n" not in str(info.value)


def test_duplicate_ids_are_spec_errors() -> None:
    specs = [{"kind": "tasmota", "topic": "A102"}, {"kind": "tic", "topic": "A102"}]
    with pytest.raises(SpecError, match="'A102' names two devices"):
        SimulatedHousehold.from_specs("127.0.0.1", 1883, specs)


def finger_household(
    prefix: str, broker: tuple[str, int], devices: list[dict[str, object]]
) -> SimulatedHousehold:
    gateway = {
        "kind": "switchbot",
        "host": "C002",
        "ble_delay_s": 0.1,
        "wait_between_s": 0.1,
        "bots": [
            {"name": "C003", "presses": "A110"},
            {"name": "C004", "presses": "A120", "button": "power"},
            {"name": "C005", "presses": "A120", "button": "start"},
            {"name": "C006", "presses": "D003"},
        ],
    }
    return SimulatedHousehold.from_specs(*broker, [*devices, gateway], topic_prefix=f"{prefix}/")


MACHINE = {"kind": "pressable", "cycle_power_w": 2000, "cycle_s": 60, "idle_power_w": 2}


@pytest.mark.integration
def test_plug_and_fingers_on_the_same_machines(
    broker: tuple[str, int], prefix: str, probe: Probe
) -> None:
    """130: a Tasmota plug measures, a finger starts. 150: a Shelly plug measures, one finger
    presses power, another start. 160: a Plus 1PM measures, one finger presses twice."""
    devices: list[dict[str, object]] = [
        {
            "kind": "tasmota",
            "topic": "A110",
            "relay_on": True,
            "tele_period_s": 0.3,
            "appliance": MACHINE,
        },
        {
            "kind": "shelly_gen1",
            "root": "shellies/A120",
            "relay_on": True,
            "report_period_s": 0.3,
            "appliance": {**MACHINE, "buttons": "power_and_start"},
        },
        {
            "kind": "shelly_gen2",
            "prefix": "D003",
            "relay_on": True,
            "appliance": {**MACHINE, "buttons": "start_wakes"},
        },
    ]
    with finger_household(prefix, broker, devices) as household:
        probe.wait_for(f"{prefix}/switchbot/C002/lastwill")
        mark = probe.mark()

        def press(bot: str) -> None:
            since = probe.mark()
            probe.publish(f"{prefix}/switchbot/C002/bot/{bot}/set", "PRESS", qos=0)
            probe.wait_for(
                f"{prefix}/switchbot/C002/bot/{bot}/status",
                lambda m: "success" in m.payload,
                since=since,
            )

        press("C003")  # 130
        press("C004")  # 150: power ...
        press("C005")  # ... then start
        press("C006")  # 160: wakes ...
        assert household["D003"].appliance.phase(time.time()) == "idle"
        press("C006")  # ... and starts

        sensor = probe.wait_for(
            f"{prefix}/tele/A110/SENSOR", lambda m: '"Power":2000' in m.payload, since=mark
        )
        assert sensor.payload
        probe.wait_for(
            f"{prefix}/shellies/A120/relay/0/power", lambda m: m.payload == "2000.00", since=mark
        )
        status = probe.wait_for(
            f"{prefix}/D003/status/switch:0", lambda m: '"apower":2000.0' in m.payload, since=mark
        )
        assert status.payload
        for device_id in ("A110", "A120", "D003"):
            assert household[device_id].appliance.running(time.time()), device_id
