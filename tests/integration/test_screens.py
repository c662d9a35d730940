"""Household screens through the running supervisor, with simulated openHASP screens on the real
Mosquitto and the real PostgreSQL: touches reach the database, every screen of the household
redraws, other households' screens hear nothing, a rebooted screen is redrawn."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from protocol.config import ScreensConfig
from protocol.ems import slot_start
from protocol.ids import Mode
from runtime import control
from simulators import database
from simulators.household import SimulatedHousehold
from simulators.openhasp import SimulatedOpenHasp
from tests.integration.test_outages import database_outage
from tests.site import MQTT_HOST, MQTT_PORT, Recorder, Site, supervisor_running, wait_until

pytestmark = pytest.mark.integration

PARIS = ZoneInfo("Europe/Paris")
GREEN, RED = "#00FF00", "#FF0000"
SCHEMA = "bdd_coordination_schema"


def add_screen(site: Site, device: str, node: str, equipment: int, household: str) -> None:
    p = site.prefix
    database.add_device(
        site.dsn,
        device,
        equipment,
        711,
        71,
        f"{p}/hasp/{node}/state",
        f"{p}/hasp/{node}/command/jsonl",
        f"{p}/hasp/{node}/LWT",
        hardware_id=node.upper(),
        household=household,
    )


@contextmanager
def world(site: Site, labels: int | None = None) -> Iterator[SimulatedHousehold]:
    """The sample household R001 (washer 1, hot water 2, heater 3) with screens g101 (sample
    data) and g102; household R002 (a tank, 4) with screen g201."""
    database.add_equipment(site.dsn, 4, 131, 200, mode=30, household="R002")
    add_screen(site, "G102", "g102", 2, "R001")
    add_screen(site, "G201", "g201", 4, "R002")
    specs: list[dict[str, Any]] = [
        {"kind": "shelly_gen1", "root": "shellies/shellyplug-s-A101", "report_period_s": 0.5},
        {"kind": "tasmota", "topic": "A102", "tele_period_s": 0.5},
        {"kind": "shelly_gen1", "root": "shellies/shellyplug-s-A103", "report_period_s": 0.5},
        {"kind": "openhasp", "node": "g101", "labels": labels},
        {"kind": "openhasp", "node": "g102", "version": "0.6.3"},
        {"kind": "openhasp", "node": "g201"},
    ]
    household = SimulatedHousehold.from_specs(
        MQTT_HOST, MQTT_PORT, specs, topic_prefix=f"{site.prefix}/"
    )
    with household:
        yield household


def screen(household: SimulatedHousehold, node: str) -> SimulatedOpenHasp:
    device = household[node]
    assert isinstance(device, SimulatedOpenHasp)
    return device


def led(s: SimulatedOpenHasp, page: int = 3) -> Any:
    return s.prop(page, 10, "bg_color")


def drawn(s: SimulatedOpenHasp, colour: str, page: int = 3, timeout: float = 5.0) -> float:
    return s.wait_until(lambda core: core.prop(page, 10, "bg_color") == colour, timeout)


def test_switch_to_manual_from_a_screen(site: Site, recorder: Recorder) -> None:
    with world(site) as household, supervisor_running(site.config()):
        g101, g102, g201 = (screen(household, n) for n in ("g101", "g102", "g201"))
        for s in (g101, g102):  # drawn in full on the retained online: the washer is piloted
            drawn(s, GREEN)
            assert s.prop(3, 3, "val") == 1 and s.prop(8, 13, "bg_color") == GREEN
            assert s.prop(3, 5, "val") == 1 and s.prop(3, 6, "val") == 2  # cycle 1 h 30
            assert s.prop(9, 8, "text") == "ecran connecté"
        g201.wait_until(lambda core: core.prop(6, 10, "bg_color") == GREEN)
        assert g201.prop(3, 10, "bg_color") == "#808080"  # R002 has no washer: untouched
        others = len(g201.lines)
        touched = g101.touch_switch(3, 3, 0)
        wait_until(lambda: site.equipment(1)["mode"] == Mode.MANUEL, what="mode 20 in the DB")
        for s in (g101, g102):
            assert drawn(s, RED) - touched < 1.0
            assert s.prop(3, 3, "val") == 0 and s.prop(8, 13, "bg_color") == RED
        time.sleep(0.3)
        assert len(g201.lines) == others  # nothing for another household's screen
        for s in (g101, g102):
            assert all(type(line["page"]) is int for _, line in s.lines)
        assert not any(retain for _, t, _, retain in recorder.messages if "/command/" in t)


def test_back_to_piloted_rolls_the_end_time_forward(site: Site) -> None:
    past = int(time.time()) - 3 * 3600
    site.sql(f"UPDATE {SCHEMA}.equipement_pilote_ou_mesure SET equipement_pilote_ou_mesure_mode_id"
             " = 20 WHERE id = 1")  # fmt: skip
    site.sql(f"UPDATE {SCHEMA}.equipement_pilote_machine_generique"
             " SET timestamp_de_fin_souhaite = %s WHERE id = 1", (past,))  # fmt: skip
    with world(site) as household, supervisor_running(site.config()):
        g101 = screen(household, "g101")
        drawn(g101, RED)
        g101.touch_switch(3, 3, 1)
        wait_until(lambda: site.equipment(1)["mode"] == Mode.PILOTE, what="mode 30")
        deadline = wait_until(
            lambda: (d := end_time(site)) != past and d, what="the end time rolled forward"
        )
        assert 0 < deadline - time.time() <= 86400
        local = datetime.fromtimestamp(deadline, PARIS)
        before = datetime.fromtimestamp(past, PARIS)
        assert (local.hour, local.minute) == (before.hour, before.minute)
        drawn(g101, GREEN)


def end_time(site: Site) -> int:
    rows = site.sql(
        f"SELECT timestamp_de_fin_souhaite FROM {SCHEMA}.equipement_pilote_machine_generique"
        " WHERE equipement_pilote_ou_mesure_id = 1"
    )
    return int(rows[0][0])


def test_rollers_write_the_declaration_and_redraw(site: Site, recorder: Recorder) -> None:
    with world(site) as household, supervisor_running(site.config()):
        g101, g102 = screen(household, "g101"), screen(household, "g102")
        drawn(g102, GREEN)
        g101.touch_roller(3, 8, 14)  # end hour 14:00 (no end time yet: quarter 0)
        deadline = wait_until(lambda: end_time(site) or None, what="the end time in the DB")
        local = datetime.fromtimestamp(deadline, PARIS)
        assert (local.hour, local.minute) == (14, 0) and deadline > time.time()
        g102.wait_until(lambda core: core.prop(3, 8, "val") == 14)  # the other screen follows
        g101.touch_roller(3, 5, 2)  # cycle: 2 h, keeps the 30 min
        wait_until(lambda: cycle(site) == 9000, what="cycle 2 h 30")
        # out of range: nothing changes, one warning
        g101.touch_raw(3, 5, '{"event":"changed","val":24}')
        g101.touch_raw(3, 9, '{"event":"changed","text":"20"}')
        g101.touch_raw(3, 3, "not json")
        time.sleep(0.5)
        assert (end_time(site), cycle(site)) == (deadline, 9000)
        assert site.equipment(1)["mode"] == Mode.PILOTE


def test_a_declaration_made_during_a_database_outage_is_written_when_it_returns(
    site: Site,
) -> None:
    with world(site) as household, supervisor_running(site.config()):
        g101, g102 = screen(household, "g101"), screen(household, "g102")
        drawn(g102, GREEN)
        before = end_time(site)
        with database_outage(site):
            g101.touch_roller(3, 8, 15)  # end hour 15:00, nowhere to write it
            g102.wait_until(lambda core: core.prop(3, 8, "val") == 15)  # shown at once
            time.sleep(1.5)  # the write failed and waits in the queue
            g101.touch_roller(3, 5, 3)  # then the cycle: 3 h, written after the end time
            g102.wait_until(lambda core: core.prop(3, 5, "val") == 3)
        deadline = wait_until(
            lambda: (d := end_time(site)) != before and d, timeout=40, what="the end time written"
        )
        assert datetime.fromtimestamp(deadline, PARIS).hour == 15
        wait_until(lambda: cycle(site) // 3600 == 3, timeout=10, what="the cycle written")


def cycle(site: Site) -> int:
    table = f"{SCHEMA}.equipement_pilote_machine_generique_cycle"
    return int(site.sql(f"SELECT duree_cycle FROM {table} WHERE id = 1")[0][0])


def test_rebooted_screen_is_redrawn_within_2_s(site: Site, recorder: Recorder) -> None:
    topic = f"{site.prefix}/INDICATEURS/refresh"
    config = site.config(screens={"indicators_topic": topic})
    with world(site) as household, supervisor_running(config):
        g101, g102 = screen(household, "g101"), screen(household, "g102")
        drawn(g101, GREEN)
        drawn(g102, GREEN)
        indicators = len(recorder.on(topic))
        g101.fast_reboot()  # 0.7: online again without offline
        assert led(g101) == "#808080"
        started = time.time()
        assert drawn(g101, GREEN, timeout=2.0) - started < 2.0
        assert g101.prop(9, 8, "text") == "ecran connecté"
        g102.reboot()  # 0.6.3: offline, then online
        started = time.time()
        assert drawn(g102, GREEN, timeout=2.0) - started < 2.0
        wait_until(lambda: len(recorder.on(topic)) >= indicators + 2, what="indicators")
        assert set(recorder.on(topic)) >= {b"g101", b"g102"}
        # the operator asks for a redraw, on MQTT or through the control socket
        before = len(g101.lines)
        recorder.publish(f"{site.base_topic}/screen/g101/set", json.dumps({"refresh": True}))
        g101.wait_until(lambda core: len(core.lines) > before)
        before = len(g102.lines)
        path = control.control_path(site.state_dir)
        reply = control.request(path, {"screen": "G102", "refresh": True})
        assert reply["screen"]["household"] == "R001" and reply["equipment"] == [1, 2, 3]
        g102.wait_until(lambda core: len(core.lines) > before)
        overview = control.request(path, {"gateway": "displays"})
        assert sorted(overview["screens"]) == ["g101", "g102", "g201"]
        assert "error" in control.request(path, {"screen": "g999"})


def test_label_shows_the_planned_start_in_local_time(site: Site) -> None:
    now = time.time()
    first = slot_start(now)
    site.add_plan(1, [0, 0, 0, 0, 0, 0, 1, 1], first_valid=first)  # the washer at slot 6
    pages = [{**msgspec.to_builtins(p), "label": 11} for p in ScreensConfig().pages]
    config = site.config(screens={"pages": pages})
    start = datetime.fromtimestamp(first + 6 * 900, PARIS)
    expected = f"Démarrage prévu {start:%H:%M}"
    if start.date() != datetime.fromtimestamp(now, PARIS).date():
        expected = f"Démarrage prévu demain {start:%H:%M}"
    with world(site, labels=11) as household, supervisor_running(config):
        g101 = screen(household, "g101")
        g101.wait_until(lambda core: core.prop(3, 11, "text") == expected, timeout=5.0)
        g101.touch_switch(3, 3, 0)  # manual: no planned start, the reason instead
        g101.wait_until(lambda core: "mode 20" in str(core.prop(3, 11, "text")), timeout=5.0)


def test_screens_come_and_go_with_the_database(site: Site) -> None:
    specs = [{"kind": "openhasp", "node": "g301"}]
    prefix = f"{site.prefix}/"
    extra = SimulatedHousehold.from_specs(MQTT_HOST, MQTT_PORT, specs, topic_prefix=prefix)
    with world(site), extra, supervisor_running(site.config()):
        g301 = screen(extra, "g301")
        time.sleep(0.5)
        assert g301.lines == []  # not in the database yet: nobody draws it
        add_screen(site, "G301", "g301", 3, "R001")  # on the heater, household R001
        drawn(g301, GREEN, timeout=10.0)  # picked up by the next inventory read (2 s)
        site.sql(f"DELETE FROM {SCHEMA}.equipement_domotique_m5stackcore2_openhasp_v0"
                 " WHERE equipement_domotique_id = 'G301'")  # fmt: skip
        site.sql(f"DELETE FROM {SCHEMA}.equipement_domotique WHERE id = 'G301'")
        time.sleep(5.0)  # two inventory reads: its actor is stopped
        count = len(g301.lines)
        g301.fast_reboot()  # online again: nobody redraws it
        time.sleep(1.0)
        assert len(g301.lines) == count


def test_a_change_made_in_the_database_reaches_the_screens(site: Site) -> None:
    config = site.config(screens={"reread_seconds": 2.0})
    with world(site) as household, supervisor_running(config):
        g101 = screen(household, "g101")
        drawn(g101, GREEN)
        end = int(datetime(2030, 6, 1, 21, 45, tzinfo=PARIS).timestamp())
        site.sql(f"UPDATE {SCHEMA}.equipement_pilote_machine_generique"
                 " SET timestamp_de_fin_souhaite = %s WHERE id = 1", (end,))  # fmt: skip
        g101.wait_until(  # read again every reread_seconds
            lambda core: (core.prop(3, 8, "val"), core.prop(3, 9, "val")) == (21, 3), timeout=6.0
        )
