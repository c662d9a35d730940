"""Household safety when the world is imperfect: restarts, offline or silent devices, lost
acknowledgements, expired plans (spec typologies.md §3–§6). Each test drives a machine through
`tests/harness.py` and asserts what goes out: commands with their times, rows as written."""

from __future__ import annotations

import msgspec

from protocol.ids import CommandState as CS
from protocol.ids import Mode
from protocol.messages import DeviceReport, EmsDecision, ForceStart, ModeRequested
from protocol.model import ComfortSettings, DeviceRow, EquipmentDetails
from tests.harness import (
    Harness,
    bot_row,
    equipment_row,
    make_spec,
    plug_row,
    sensor_row,
)

WASHER, TANK, REGULATED = 112, 131, 155
DAY = 86400


def machine(
    typology: int,
    devices: list[DeviceRow],
    type_id: int = WASHER,
    mode: int = 30,
    command_state: int = 11,
    consigne: bool = False,
    details: EquipmentDetails | None = None,
    started_at: int = 0,
    now: float = 1_000_000.0,
    relays: tuple[tuple[str, bool, int], ...] = (),
    **control: object,
) -> Harness:
    row = equipment_row(
        type_id=type_id,
        typology=typology,
        mode=mode,
        command_state=command_state,
        consigne=consigne,
        details=details,
    )
    row = msgspec.structs.replace(row, started_at=started_at, relays=relays)
    control.setdefault("min_switch_s", 0)
    return Harness(make_spec(row, devices, **control), row, now=now).start()


def decide(h: Harness, on: bool) -> None:
    h.feed(EmsDecision(1, on, int(h.now // 900 * 900), 7, h.now))


def actions(h: Harness, device: str = "A101") -> list[str]:
    return [c.action for _, c in h.commands if c.device == device]


def presses(h: Harness) -> list[float]:
    return [t for t, c in h.commands if c.action == "PRESS"]


def washer() -> list[DeviceRow]:
    return [plug_row("A101", usage=11)]


def finger_devices() -> list[DeviceRow]:
    return [bot_row("C101", 32), plug_row("A101", usage=21)]


# --- 1. a restart in err (30) keeps what err allowed ---------------------------------------------


def test_restart_in_err_is_started_again_by_the_next_decision() -> None:
    h = machine(120, washer(), command_state=CS.ERR, consigne=True)
    h.obey()
    assert h.row.command_state == CS.ERR  # the plug on is not a start: the power decides
    h.report(power_w=1.0)
    h.advance(900)
    decide(h, True)
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION
    h.report(power_w=1800.0)
    assert (h.row.mode, h.row.command_state) == (Mode.MANUEL, CS.MANUEL_PILOTE_ON)


def test_restart_in_err_arms_the_deadline_guard() -> None:
    details = EquipmentDetails(deadline=1_000_000 + 600 + 3600 + 900, cycle_s=3600)
    h = machine(120, washer(), command_state=CS.ERR, consigne=True, details=details)
    h.obey()
    h.report(power_w=1.0)
    h.advance(601)
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION
    assert any(e.reason.startswith("deadline") for e in h.events)


def test_restart_in_err_is_cleared_by_a_matching_report() -> None:
    h = machine(120, washer(), command_state=CS.ERR, consigne=True)
    h.obey(power_on_w=1900.0)  # the household started it: the power says it runs
    assert (h.row.mode, h.row.command_state) == (Mode.MANUEL, CS.MANUEL_PILOTE_ON)


def test_restart_in_err_in_manual_mode_is_cleared_when_the_plug_is_on() -> None:
    h = machine(120, washer(), type_id=TANK, mode=Mode.MANUEL, command_state=CS.ERR)
    assert actions(h) == ["ON"]
    h.obey()
    assert h.row.command_state == CS.MANUEL_ON


def test_restart_resumes_the_state_the_row_implies() -> None:
    h = machine(120, washer(), mode=Mode.MANUEL, command_state=CS.MANUEL_PILOTE_ON)
    assert h.writes == []  # 12 kept: the cycle end is still watched
    h = machine(120, washer(), mode=Mode.MANUEL, command_state=CS.PILOTE_EN_ACTIVATION)
    assert h.row.command_state == CS.MANUEL_ON  # not a piloted state in manual mode
    h = machine(120, washer(), type_id=TANK, command_state=CS.PILOTE_STAND_BY, consigne=True)
    assert h.row.command_state == CS.MANUEL_PILOTE_ON and actions(h) == ["ON"]


def test_a_finger_restarts_from_a_row_with_a_start_time() -> None:
    h = machine(130, finger_devices(), started_at=999_000)
    h.report("A101", power_w=1.0)
    decide(h, True)
    assert len(presses(h)) == 1


def test_restart_in_err_of_a_finger_presses_at_the_next_decision() -> None:
    h = machine(130, finger_devices(), command_state=CS.ERR, consigne=True)
    h.report("A101", power_w=1.0)
    decide(h, True)
    assert len(presses(h)) == 1


# --- 2. no press, no comfort hold, without a fresh measurement ------------------------------------


def pressed_once(plug_goes_offline: bool) -> Harness:
    """A finger start whose plug shows the machine idle before the press, then ..."""
    h = machine(130, finger_devices(), verify_s=180)
    h.report("A101", power_w=1.0)
    decide(h, True)
    h.reply("C101")
    if plug_goes_offline:
        h.report("A101", online=False)
    h.advance(181)
    return h


def test_finger_is_not_pressed_again_when_the_plug_went_offline() -> None:
    h = pressed_once(plug_goes_offline=True)
    assert len(presses(h)) == 1 and h.row.command_state == CS.ERR
    assert h.events[-1].reason == "start not verified: no measurement"
    h.advance(900)
    h.report("A101", online=True, power_w=1.0)
    decide(h, True)  # err after a start that was not verified: the EMS may plan it again
    assert len(presses(h)) == 2 and h.row.command_state == CS.PILOTE_EN_ACTIVATION


def test_a_start_whose_plug_fell_silent_is_err_and_planned_again() -> None:
    h = machine(120, washer(), verify_s=180)
    h.obey(power_on_w=1.0)
    decide(h, True)
    h.obey()  # ON acknowledged, then nothing more from the plug
    h.advance(181)
    assert h.row.command_state == CS.ERR
    assert h.events[-1].reason == "start not verified: no measurement"
    h.advance(900)
    h.obey(power_on_w=1.0)
    decide(h, True)
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION


def test_finger_is_not_pressed_again_when_the_plug_was_silent_since_the_press() -> None:
    h = pressed_once(plug_goes_offline=False)  # the plug reported before the press only
    assert len(presses(h)) == 1 and h.row.command_state == CS.ERR
    assert "start not verified: no measurement" in h.events[-1].reason


def test_a_finger_start_planned_before_the_first_measurement_waits_for_it() -> None:
    h = machine(130, finger_devices(), verify_s=180)  # just started: the plug not heard yet
    decide(h, True)
    assert presses(h) == [] and h.row.command_state == CS.PILOTE_STAND_BY
    assert not any(w.command_state == CS.ERR for w in h.writes)
    h.advance(20)
    h.report("A101", power_w=1.0)  # its first report: idle
    assert presses(h) == [h.now] and h.row.command_state == CS.PILOTE_EN_ACTIVATION


def test_a_finger_start_waits_for_a_measurement_not_for_any_message() -> None:
    h = machine(130, finger_devices(), verify_s=180)
    decide(h, True)
    h.report("A101", online=True)  # the plug is up, its power not yet reported
    assert presses(h) == [] and h.row.command_state == CS.PILOTE_STAND_BY
    h.advance(10)
    h.report("A101", power_w=1.0)
    assert presses(h) == [h.now]


def test_a_plug_that_measured_and_went_offline_gets_no_grace() -> None:
    h = machine(130, finger_devices(), verify_s=180)
    h.report("A101", power_w=1.0)
    h.report("A101", online=False)
    decide(h, True)  # its measurement is not fresh: no press, and no waiting
    assert presses(h) == [] and h.row.command_state == CS.ERR


def test_a_plug_heard_without_a_measurement_is_waited_for() -> None:
    h = machine(130, finger_devices(), verify_s=180)
    h.report("A101", online=True)
    decide(h, True)
    assert presses(h) == [] and h.row.command_state == CS.PILOTE_STAND_BY
    h.report("A101", power_w=1.0)
    assert presses(h) == [h.now]


def test_a_force_start_awaiting_its_measurement_is_forgotten_with_the_mode() -> None:
    h = machine(130, finger_devices(), verify_s=180)
    h.feed(ForceStart(1, "operator", h.now))
    h.feed(ModeRequested(1, Mode.MANUEL, "screen", h.now))
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))
    h.report("A101", power_w=1.0)
    assert presses(h) == [] and h.row.command_state == CS.PILOTE_STAND_BY


def test_a_plug_silent_after_its_first_measurement_is_seen_silent() -> None:
    h = machine(130, finger_devices(), verify_s=180)
    decide(h, True)
    h.advance(20)
    h.report("A101", power_w=1.0)  # the awaited start is pressed on this report
    assert presses(h) == [h.now]
    h.advance(91)  # three report periods after it, nothing more: silent
    assert h.row.control_state == 60


def test_a_finger_start_whose_plug_is_never_heard_ends_in_err_after_the_grace() -> None:
    h = machine(130, finger_devices(), verify_s=180)
    decide(h, True)
    h.advance(3 * 30 - 1)
    assert h.row.command_state == CS.PILOTE_STAND_BY  # still waiting
    h.advance(2)  # three report periods of the Shelly plug
    assert presses(h) == [] and h.row.command_state == CS.ERR
    assert "no measurement" in h.events[-1].reason


def test_a_machine_found_running_at_the_first_measurement_is_not_pressed() -> None:
    h = machine(130, finger_devices(), verify_s=180)
    decide(h, True)
    h.report("A101", power_w=1900.0)
    assert presses(h) == []
    assert (h.row.mode, h.row.command_state) == (Mode.MANUEL, CS.MANUEL_PILOTE_ON)


def test_a_start_awaiting_its_measurement_is_dropped_when_the_plan_or_the_mode_changes() -> None:
    h = machine(130, finger_devices(), verify_s=180, now=1_000_750.0)
    decide(h, True)
    h.advance(50)  # the next slot, within the grace: the plan says off
    decide(h, False)
    h.report("A101", power_w=1.0)
    assert presses(h) == [] and h.row.command_state == CS.PILOTE_STAND_BY
    h = machine(130, finger_devices(), verify_s=180)
    decide(h, True)
    h.feed(ModeRequested(1, Mode.MANUEL, "screen", h.now))
    h.report("A101", power_w=1.0)
    assert presses(h) == [] and h.row.mode == Mode.MANUEL


def test_finger_is_not_pressed_again_on_a_fresh_measurement_older_than_the_press() -> None:
    h = machine(130, finger_devices(), verify_s=60)
    h.report("A101", power_w=1.0)
    h.advance(1)
    decide(h, True)
    h.reply("C101")
    h.advance(61)  # the idle reading is fresh, but it was made before the press
    assert len(presses(h)) == 1 and h.row.command_state == CS.ERR
    assert h.events[-1].reason == "start not verified: no measurement"


def test_finger_reading_made_at_the_press_second_counts_after_it() -> None:
    h = machine(130, finger_devices(), verify_s=60)
    h.report("A101", power_w=1.0)
    decide(h, True)  # pressed at the same second as the reading
    h.reply("C101")
    h.advance(61)
    assert len(presses(h)) == 2


def test_finger_reading_as_old_as_the_staleness_window_is_no_measurement() -> None:
    h = machine(130, finger_devices())
    h.report("A101", power_w=1.0)
    h.advance(90)  # the plug reports every 30 s: stale after 90 s
    decide(h, True)
    assert presses(h) == [] and h.row.command_state == CS.ERR


def test_finger_reading_at_the_on_threshold_is_a_running_machine() -> None:
    h = machine(130, finger_devices())
    h.report("A101", power_w=10.0)
    decide(h, True)
    assert presses(h) == [] and h.row.command_state == CS.MANUEL_PILOTE_ON


def test_the_deadline_guard_starts_once_even_when_the_start_fails() -> None:
    details = EquipmentDetails(deadline=1_000_000 + 60 + 3600 + 900, cycle_s=3600)
    h = machine(130, finger_devices(), details=details)  # the plug never reports
    h.advance(91)  # the start at 60 s waits for a first measurement until 90 s
    assert presses(h) == [] and h.row.command_state == CS.ERR
    errs = len(h.events)
    h.advance(3000)
    assert len(h.events) == errs


def test_finger_is_repeated_once_when_a_fresh_measurement_shows_it_idle() -> None:
    h = machine(130, finger_devices(), verify_s=180)
    h.report("A101", power_w=1.0)
    decide(h, True)
    h.reply("C101")
    h.advance(150)
    h.report("A101", power_w=1.0)  # after the press, online: idle
    h.advance(31)
    assert len(presses(h)) == 2


def comfort_heater(type_id: int = REGULATED, **control: object) -> Harness:
    comfort = ComfortSettings(
        eco_dk=2731 + 160, comfort_dk=2731 + 200, delta_dk=10, weekday=((0, DAY),)
    )
    return machine(
        140,
        [plug_row("A101", usage=11), sensor_row("F101")],
        type_id=type_id,
        details=EquipmentDetails(comfort=comfort),
        now=1_764_576_000.0,  # Monday 2025-12-01 08:00 UTC
        **control,
    )


def test_an_offline_sensor_does_not_hold_a_heater_on() -> None:
    h = comfort_heater()
    h.obey()
    decide(h, False)
    h.obey()
    h.report("F101", temperature_c=18.5)
    assert actions(h)[-1] == "ON"
    h.report("F101", online=False)
    assert actions(h)[-1] == "OFF"
    assert h.events[-1].reason == "comfort: no fresh temperature from the sensor, back to the plan"


def test_the_sensors_other_messages_keep_its_temperature_and_a_late_one_is_ignored() -> None:
    h = comfort_heater()
    h.obey()
    decide(h, False)
    h.obey()
    h.report("F101", temperature_c=18.5)  # too cold: held on
    h.obey()
    h.advance(60)
    h.report("F101", online=True)
    h.report("F101", battery=90)
    h.feed(DeviceReport(device="F101", at=h.now - 90, temperature_c=21.0))  # older reading
    assert actions(h)[-1] == "ON"  # still 18.5 °C: still held on


def test_comfort_reached_without_a_plan_keeps_the_heater_as_the_guard_left_it() -> None:
    h = comfort_heater()
    h.obey()
    h.report("F101", temperature_c=18.5)  # no plan: too cold, forced on
    h.obey()
    assert actions(h)[-1] == "ON" and h.row.command_state == CS.MANUEL_PILOTE_ON
    h.report("F101", temperature_c=20.5)  # warm: back to the plan, and there is none
    assert actions(h)[-1] == "ON" and h.row.command_state == CS.MANUEL_PILOTE_ON


def test_the_comfort_guard_acts_in_piloted_mode_only() -> None:
    h = comfort_heater(mode=Mode.MANUEL, command_state=CS.MANUEL_ON)
    h.obey()
    h.report("F101", temperature_c=15.0)
    assert h.writes == [] and actions(h) == ["ON"]


def test_a_silent_sensor_does_not_hold_a_heater_on() -> None:
    h = comfort_heater()
    h.obey()
    decide(h, False)
    h.obey()
    h.advance(3600)
    h.report("F101", temperature_c=18.5)
    h.obey()
    assert actions(h)[-1] == "ON"
    h.advance(3 * 21600 - 1)  # three report periods of the H&T after its reading: stale
    assert actions(h)[-1] == "ON"
    h.advance(1)
    assert actions(h)[-1] == "OFF"


def test_a_cold_room_never_holds_a_triggered_machine_on() -> None:
    h = comfort_heater(type_id=WASHER)  # comfort settings on a washing machine: ignored
    h.obey()
    h.report("F101", temperature_c=15.0)
    assert actions(h) == ["OFF"] and h.row.command_state == CS.PILOTE_STAND_BY
    assert not any("comfort" in e.reason for e in h.events)


def test_a_machine_whose_off_order_failed_is_not_started_by_its_power() -> None:
    h = machine(120, washer())
    h.advance(200)  # the OFF is never answered: err
    assert h.row.command_state == CS.ERR
    h.report(power_w=2000.0)  # the household runs it: no start of ours
    assert (h.row.mode, h.row.command_state) == (Mode.PILOTE, CS.ERR)


def test_restart_in_err_in_manual_mode_of_a_machine_is_cleared_when_the_plug_is_on() -> None:
    h = machine(120, washer(), mode=Mode.MANUEL, command_state=CS.ERR)
    assert actions(h) == ["ON"]
    h.obey()
    assert h.row.command_state == CS.MANUEL_ON


# --- 3. anti short-cycling counts from the confirmed change --------------------------------------


def test_a_restart_keeps_the_relay_from_changing_within_min_switch_of_its_last_change() -> None:
    """Switched on 10 s before the restart (kept in the own schema); the row says off: the
    start-up OFF waits until 60 s after that change, then goes."""
    now = 1_000_000.0
    h = machine(120, washer(), type_id=TANK, min_switch_s=60, relays=(("A101", True, 999_990),))
    assert actions(h) == []
    h.advance(49)
    assert actions(h) == []
    h.advance(2)
    assert [(t - now, c.action) for t, c in h.commands] == [(50.0, "OFF")]


def test_a_start_up_order_that_matches_the_kept_relay_is_sent_at_once() -> None:
    h = machine(120, washer(), type_id=TANK, min_switch_s=60, relays=(("A101", False, 999_990),))
    assert [c.action for _, c in h.commands] == ["OFF"]  # what the relay already is


def test_a_restart_long_after_the_last_change_sends_at_once() -> None:
    h = machine(120, washer(), type_id=TANK, min_switch_s=60, relays=(("A101", True, 900_000),))
    assert [c.action for _, c in h.commands] == ["OFF"]


def test_min_switch_is_counted_from_the_relay_confirmed_change() -> None:
    h = machine(120, washer(), type_id=TANK, min_switch_s=60, ack_timeout_s=10)
    h.obey()
    h.advance(120)
    t = h.now
    decide(h, True)
    h.advance(100)  # ON at t, t+15, t+40, t+95: no ack yet
    assert [round(s - t) for s, c in h.commands if c.action == "ON"] == [0, 15, 40, 95]
    h.advance(2)
    h.report(relay_on=True)  # confirmed at t+102
    h.advance(1)
    decide(h, False)
    h.advance(58)
    assert actions(h)[-1] == "ON"
    h.advance(2)
    off = [s - t for s, c in h.commands if c.action == "OFF" and s > t]
    assert off == [162]


# --- 4. the max-off clock survives a restart ------------------------------------------------------


def test_max_off_clock_survives_a_restart() -> None:
    h = machine(120, washer(), type_id=TANK, max_off_s=DAY)
    h.obey()
    decide(h, True)
    h.obey()
    h.advance(3600)
    decide(h, False)
    h.obey()
    off_at = h.now
    h.advance(22 * 3600)
    h.restart()
    h.obey()
    restarted = h.now
    h.advance(2 * 3600 + 1)
    on = [t for t, c in h.commands if c.action == "ON" and t > restarted]
    assert on and on[0] <= off_at + DAY
    assert any("max-off" in e.reason for e in h.events)


def test_the_max_off_guard_never_switches_on_a_waiting_machine() -> None:
    h = machine(120, washer(), mode=Mode.MANUEL, command_state=CS.MANUEL_ON, max_off_s=3600)
    h.obey()
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))  # armed: waits, held off
    h.obey()
    h.advance(3700)
    assert actions(h) == ["ON", "OFF"] and h.row.command_state == CS.PILOTE_STAND_BY
    h = machine(120, washer(), max_off_s=3600)  # restarted waiting
    h.obey()
    h.advance(3700)
    assert actions(h) == ["OFF"] and h.row.command_state == CS.PILOTE_STAND_BY


# --- 5. a start verified by power is never undone by a lost ack ----------------------------------


def test_a_lost_ack_after_a_power_verified_start_keeps_12_and_the_cycle_end() -> None:
    h = machine(120, washer(), cycle_end_s=300)
    h.obey()
    decide(h, True)
    h.report(power_w=1800.0)  # the relay's own report is lost, the power says it runs
    assert h.row.command_state == CS.MANUEL_PILOTE_ON
    assert h.events[-1].reason == "start verified: 1800 W"
    h.advance(200)
    assert h.row.command_state == CS.MANUEL_PILOTE_ON
    assert actions(h) == ["OFF", "ON"]  # the power acknowledged the ON: no retry
    h.report(relay_on=True)
    h.report(power_w=2.0)
    h.advance(301)
    assert h.row.command_state == CS.MANUEL_ON
    assert h.events[-1].reason == "cycle ended"
    assert not any(w.command_state == CS.ERR for w in h.writes)


def test_a_relay_confirmed_before_unanswered_orders_is_not_taken_as_it_is() -> None:
    """ON confirmed, then an OFF and an ON the plug never answers (the OFF may have switched
    it): the next start sends ON again rather than trusting the older confirmation."""
    h = machine(120, washer(), mode=Mode.MANUEL, command_state=CS.MANUEL_ON)
    h.obey()  # ON, confirmed
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))  # OFF, never answered
    h.feed(ForceStart(1, "operator", h.now))  # ON, never answered
    h.advance(200)
    assert h.row.command_state == CS.ERR
    sent = len(actions(h))
    h.feed(ForceStart(1, "operator", h.now))
    assert actions(h)[sent:] == ["ON"]
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION


# --- 6. an expired decision is never applied ------------------------------------------------------


def test_an_expired_decision_is_not_applied_when_piloted_again() -> None:
    h = machine(120, washer(), type_id=TANK, mode=Mode.MANUEL, command_state=CS.MANUEL_ON)
    h.obey()
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))
    decide(h, False)
    h.obey()
    h.feed(ModeRequested(1, Mode.MANUEL, "screen", h.now))
    h.obey()
    h.advance(5 * DAY)
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))
    assert actions(h)[-1] == "ON"
    assert h.row.command_state == CS.MANUEL_PILOTE_ON


# --- 7. 170: only a rise after the press verifies the start ---------------------------------------


def prise_rallume(**control: object) -> Harness:
    details = EquipmentDetails(rated_power_w=2000.0)
    devices = [plug_row("A101", usage=11), bot_row("C101", 32)]
    return machine(170, devices, details=details, boot_delay_s=10, **control)


def test_170_boot_draw_does_not_cancel_the_start_press() -> None:
    h = prise_rallume()
    h.obey()
    decide(h, True)
    h.obey()
    h.report(power_w=12.0)  # the electronics booting
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION
    h.advance(11)
    assert len(presses(h)) == 1
    h.reply("C101")
    h.report(power_w=30.0)  # above on_threshold_w, far below the rated power
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION
    h.report(power_w=1500.0)
    assert (h.row.mode, h.row.command_state) == (Mode.MANUEL, CS.MANUEL_PILOTE_ON)


def test_170_found_running_at_the_press_is_not_failed_by_the_lost_ack_of_its_on() -> None:
    h = prise_rallume(min_switch_s=60)
    h.obey()
    decide(h, True)
    h.obey()  # the relay is on: the start press is due after the boot delay
    h.report(online=False)
    h.report(online=True, power_w=1500.0)  # back: the ON is re-sent, its answer is lost
    h.advance(11)
    assert presses(h) == []  # the household started it meanwhile
    assert (h.row.mode, h.row.command_state) == (Mode.MANUEL, CS.MANUEL_PILOTE_ON)
    h.advance(200)  # no ack ever comes: the power already said the switch is on
    assert not any(w.command_state == CS.ERR for w in h.writes)


def test_170_found_running_at_the_press_time_is_started_without_a_press() -> None:
    h = prise_rallume()
    h.obey()
    h.report(power_w=1500.0)  # the household runs it already, before any plan
    decide(h, True)
    h.obey()
    h.advance(11)
    assert presses(h) == []
    assert (h.row.mode, h.row.command_state) == (Mode.MANUEL, CS.MANUEL_PILOTE_ON)
    assert h.events[-1].reason == "the machine runs: not pressed"


def test_170_is_not_pressed_without_a_measurement_at_the_press_time() -> None:
    h = prise_rallume()
    h.obey(power_on_w=1.0)
    decide(h, True)
    h.obey()
    h.report(online=False)
    h.advance(11)
    assert presses(h) == [] and h.row.command_state == CS.ERR
    assert h.events[-1].reason == "start not pressed: no measurement"
    h.advance(900)
    h.report(online=True, power_w=1.0)
    decide(h, True)  # err after a start that was not made: the EMS may plan it again
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION


def test_finger_found_running_at_the_decision_is_started_without_a_press() -> None:
    h = machine(130, finger_devices())
    h.report("A101", power_w=1900.0)
    decide(h, True)
    assert presses(h) == []
    assert (h.row.mode, h.row.command_state) == (Mode.MANUEL, CS.MANUEL_PILOTE_ON)
    assert h.events[-1].reason.endswith(": already running, not pressed")


def test_a_start_while_the_relay_is_already_on_watches_the_power_at_once() -> None:
    h = machine(120, washer(), min_switch_s=60, verify_s=60)
    h.obey(power_on_w=1.0)
    h.advance(10)
    h.report(relay_on=True)  # switched on at the plug: switching it off again waits
    h.advance(10)
    decide(h, True)  # the relay is on: the start is watched from now
    started = h.now
    h.advance(30)
    h.report(power_w=1.0)
    h.advance(31)
    assert [w.at - started for w in h.writes if w.command_state == CS.ERR] == [60]
    assert h.events[-1].reason == "no power rise within 60 s of the start"


def test_170_a_failed_start_press_is_repeated_once() -> None:
    h = prise_rallume(press_gap_s=5)
    h.obey(power_on_w=1.0)
    decide(h, True)
    h.obey()
    h.report(power_w=1.0)
    h.advance(11)
    h.reply("C101", ok=False, detail="errorConnect")
    h.advance(5)
    assert len(presses(h)) == 2


def test_170_restart_in_21_never_presses_and_ends_in_err_when_idle() -> None:
    h = prise_rallume(command_state=CS.PILOTE_EN_ACTIVATION, verify_s=180)
    h.obey()
    h.report(power_w=12.0)
    h.advance(179)
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION
    h.advance(2)
    assert presses(h) == []
    assert h.row.command_state == CS.ERR


def test_170_presses_again_at_the_next_arming_after_a_resumed_start() -> None:
    h = prise_rallume(command_state=CS.PILOTE_EN_ACTIVATION)
    h.obey()
    h.report(power_w=1500.0)  # the start made before the restart is verified
    assert (h.row.mode, h.row.command_state) == (Mode.MANUEL, CS.MANUEL_PILOTE_ON)
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))
    h.obey(power_on_w=1.0)
    decide(h, True)
    h.obey()
    h.advance(11)  # a new arming, a new start: the press is made after the boot delay
    assert len(presses(h)) == 1


# --- 8. err clears by a report, not by the next decision ------------------------------------------


def test_err_is_not_cleared_by_the_next_decision_but_by_a_matching_report() -> None:
    h = machine(120, washer(), type_id=TANK)
    h.obey()
    decide(h, True)
    h.advance(200)  # the device is dead: no ack
    assert h.row.command_state == CS.ERR
    h.advance(900 - h.now % 900)
    sent, written = len(actions(h)), len(h.writes)
    decide(h, True)
    assert len(actions(h)) == sent + 1 and actions(h)[-1] == "ON"  # tried again
    assert h.row.command_state == CS.ERR
    assert not any(w.command_state is not None for w in h.writes[written:])
    h.report(relay_on=True)
    assert h.row.command_state == CS.MANUEL_PILOTE_ON
    assert h.events[-2].reason == "the device now reports the desired output"


# --- 9. mode 20 -> 13 from any state --------------------------------------------------------------


def test_manual_requested_while_in_12_goes_to_13() -> None:
    h = machine(120, washer(), type_id=TANK)
    h.obey()
    decide(h, True)
    h.obey()
    assert h.row.command_state == CS.MANUEL_PILOTE_ON
    h.feed(ModeRequested(1, Mode.MANUEL, "screen", h.now))
    assert (h.row.mode, h.row.command_state) == (Mode.MANUEL, CS.MANUEL_ON)


# --- 10. 190 verifies with its measuring device -----------------------------------------------


def test_inverted_relay_start_is_verified_by_its_measuring_device() -> None:
    devices = [plug_row("A101", usage=11), plug_row("A102", usage=21)]
    h = machine(190, devices, cycle_end_s=300)
    h.obey()
    decide(h, True)
    assert actions(h)[-1] == "OFF"  # inverted: relay open = powered
    h.obey()
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION  # acknowledged, not yet verified
    h.report("A102", power_w=1500.0)
    assert (h.row.mode, h.row.command_state) == (Mode.MANUEL, CS.MANUEL_PILOTE_ON)
    h.report("A102", power_w=1.0)
    h.advance(301)
    assert h.row.command_state == CS.MANUEL_ON


# --- an order to an offline device waits for it -------------------------------------------------


def test_an_order_to_an_offline_device_waits_for_its_return_instead_of_failing() -> None:
    h = machine(120, washer(), type_id=TANK)
    h.report(online=False)  # the startup OFF is in flight: the LWT says offline
    h.advance(200)
    assert actions(h) == ["OFF"] and h.row.command_state != CS.ERR
    h.report(online=True)
    h.advance(3)  # re-asserted once it has subscribed again
    assert actions(h) == ["OFF", "OFF"]


def test_a_deferred_change_waits_again_when_the_relay_changed_meanwhile() -> None:
    h = machine(120, washer(), type_id=TANK, min_switch_s=60)
    h.obey()  # OFF confirmed now
    t = h.now
    h.advance(10)
    decide(h, True)  # deferred to t + 60
    h.advance(20)
    h.report(relay_on=True)  # someone switched it at t + 30
    h.advance(31)
    assert actions(h) == ["OFF"]  # not at t + 60: the relay changed at t + 30
    h.advance(30)
    assert [round(s - t) for s, c in h.commands] == [0, 90]


def test_a_failed_press_is_not_repeated_without_a_measurement() -> None:
    h = machine(130, finger_devices())
    h.report("A101", power_w=1.0)
    decide(h, True)
    h.report("A101", online=False)
    h.reply("C101", ok=False, detail="errorConnect")
    h.advance(60)
    assert len(presses(h)) == 1 and h.row.command_state == CS.ERR
    assert "not repeated: no measurement" in h.events[-1].reason


def test_a_start_failed_for_a_lost_ack_resumes_when_the_plug_reports_it_on() -> None:
    h = machine(120, washer())
    h.obey()
    decide(h, True)
    h.advance(200)  # the ON is never acknowledged: err
    assert h.row.command_state == CS.ERR
    h.report(relay_on=True)  # the plug says it is on after all: the start goes on
    assert [w.command_state for w in h.writes] == [
        CS.PILOTE_EN_ACTIVATION,
        CS.ERR,
        CS.PILOTE_EN_ACTIVATION,
    ]
    assert h.events[-1].reason == "the device now reports the desired output"
    h.report(power_w=1800.0)
    assert (h.row.mode, h.row.command_state) == (Mode.MANUEL, CS.MANUEL_PILOTE_ON)


def test_a_resumed_start_is_failed_again_without_a_power_rise() -> None:
    h = machine(120, washer(), verify_s=180)
    h.obey()
    decide(h, True)
    h.advance(200)
    h.report(relay_on=True, power_w=2.0)
    h.advance(100)
    h.report(power_w=2.0)  # idle
    h.advance(79)
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION
    h.advance(2)
    assert h.row.command_state == CS.ERR
    assert h.events[-1].reason == "no power rise within 180 s of the start"


def test_a_device_gone_offline_while_a_retry_waits_gets_no_retry_and_no_err() -> None:
    h = machine(120, washer(), type_id=TANK)
    t = h.now
    h.advance(11)  # the startup OFF went unanswered: its retry waits until t + 15
    h.report(online=False)
    h.advance(300)
    assert actions(h) == ["OFF"] and h.row.command_state != CS.ERR
    h.report(online=True)
    h.advance(3)  # back: the target is re-asserted once
    assert [round(s - t) for s, c in h.commands] == [0, 313]
