"""Table tests of the typologies beyond 120/190 (spec typologies.md §4–§6): fingers (130, 150,
160), 110, 140 with its comfort guard, 170, 180, the deadline and max-off guards, restart
reconciliation and local control."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from protocol.ids import CommandState as CS
from protocol.ids import ControlState, Mode
from protocol.messages import (
    CommandReply,
    DeviceReport,
    EmsDecision,
    ModeRequested,
    RestoreMode,
    RowChanged,
)
from protocol.model import ComfortSettings, DeviceRow, EquipmentDetails
from tests.harness import (
    Harness,
    bot_row,
    device_row,
    equipment_row,
    make_spec,
    plug_row,
    relay_row,
    sensor_row,
    tic_row,
)

WASHER, TANK, HEATER, REGULATED = 112, 131, 151, 155


def machine(
    typology: int,
    devices: list[DeviceRow],
    type_id: int = WASHER,
    mode: int = 30,
    command_state: int = 11,
    details: EquipmentDetails | None = None,
    **control: object,
) -> Harness:
    row = equipment_row(
        type_id=type_id, typology=typology, mode=mode, command_state=command_state, details=details
    )
    control.setdefault("min_switch_s", 0)
    return Harness(make_spec(row, devices, **control), row).start()


def decide(h: Harness, on: bool) -> None:
    h.feed(EmsDecision(1, on, int(h.now // 900 * 900), 7, h.now))


def presses(h: Harness) -> list[tuple[float, str]]:
    return [(t, c.device) for t, c in h.commands if c.action == "PRESS"]


def actions(h: Harness, device: str) -> list[str]:
    return [c.action for _, c in h.commands if c.device == device]


# --- fingers: 130, 150, 160 ----------------------------------------------------------------------


def finger(typology: int = 130, **kw: object) -> Harness:
    devices = {
        130: [bot_row("C101", 32)],
        160: [bot_row("C101", 32)],
        150: [bot_row("C100", 31), bot_row("C101", 32)],
    }[typology]
    h = machine(typology, [*devices, plug_row("A101", usage=21)], **kw)  # type: ignore[arg-type]
    h.report("A101", power_w=1.0)  # the plug shows the machine idle: a press may go
    return h


def test_finger_start_is_one_press_verified_by_power_then_mode_20() -> None:
    h = finger()
    assert h.commands == []  # waiting in 11 sends nothing: a finger cannot hold it off
    decide(h, True)
    assert presses(h) == [(h.now, "C101")] and h.row.command_state == CS.PILOTE_EN_ACTIVATION
    h.advance(2)
    h.reply("C101")
    h.advance(40)
    h.report("A101", power_w=1900.0)
    assert (h.row.mode, h.row.command_state) == (Mode.MANUEL, CS.MANUEL_PILOTE_ON)
    h.advance(1000)
    assert len(presses(h)) == 1


def test_only_a_reading_made_at_or_after_the_first_press_verifies_a_finger_start() -> None:
    h = finger()
    h.advance(10)
    decide(h, True)
    pressed = h.now
    h.reply("C101")
    h.feed(DeviceReport(device="A101", at=pressed - 1, power_w=1900.0))  # made before the press
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION
    h.report("A101", power_w=10.0)  # the start threshold, read at the press's second
    assert (h.row.mode, h.row.command_state) == (Mode.MANUEL, CS.MANUEL_PILOTE_ON)


def test_a_second_start_is_verified_after_its_own_press_not_the_first_ones() -> None:
    h = finger(press_gap_s=5)
    decide(h, True)
    h.reply("C101", ok=False, detail="errorConnect")
    h.advance(5)
    h.reply("C101", ok=False, detail="errorConnect")  # err after the repeat
    assert h.row.command_state == CS.ERR
    h.advance(895)
    h.report("A101", power_w=1.0)
    h.advance(5)
    decide(h, True)
    pressed = h.now
    h.reply("C101")
    h.feed(DeviceReport(device="A101", at=pressed - 1, power_w=1900.0))  # before this press
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION


def test_finger_piloted_requested_waits_in_11_and_sends_nothing() -> None:
    h = finger(mode=Mode.MANUEL, command_state=CS.MANUEL_ON)
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))
    assert (h.row.mode, h.row.command_state) == (Mode.PILOTE, CS.PILOTE_STAND_BY)
    assert h.commands == []


def test_finger_deadline_guard_starts_the_sequence() -> None:
    details = EquipmentDetails(deadline=1_000_000 + 60 + 3600 + 900, cycle_s=3600)
    h = finger(details=details)
    h.advance(61)
    assert [d for _, d in presses(h)] == ["C101"]
    assert any(e.reason.startswith("deadline") for e in h.events)


def test_prise_et_deux_doigts_presses_power_then_start_after_the_gap() -> None:
    h = finger(150, press_gap_s=5)
    decide(h, True)
    h.reply("C100")
    h.advance(4.9)
    assert [d for _, d in presses(h)] == ["C100"]
    h.advance(0.2)
    assert [d for _, d in presses(h)] == ["C100", "C101"]


def test_presses_carry_their_own_request_ids_and_a_short_gap_is_kept() -> None:
    h = finger(150, press_gap_s=1)
    decide(h, True)
    h.reply("C100")
    assert [(c.device, c.request_id) for _, c in h.commands] == [("C100", "1-1")]
    h.advance(1)
    assert [(c.device, c.request_id) for _, c in h.commands] == [("C100", "1-1"), ("C101", "1-2")]


def test_a_rise_between_the_power_and_the_start_press_verifies_the_start() -> None:
    h = finger(150, press_gap_s=5)
    decide(h, True)
    first = h.now
    h.reply("C100")
    h.advance(5)
    h.reply("C101")
    h.feed(DeviceReport(device="A101", at=first + 2, power_w=1900.0))  # read before the 2nd press
    assert (h.row.mode, h.row.command_state) == (Mode.MANUEL, CS.MANUEL_PILOTE_ON)


def test_only_the_pressed_fingers_fresh_answer_counts() -> None:
    h = finger(150, press_gap_s=5, finger_ack_timeout_s=30)
    decide(h, True)
    pressed = h.now
    h.advance(1)
    h.reply("C101")  # the other finger: not the press in flight
    h.report("C100", retained=True, reply=CommandReply(None, True, "success", "PRESS"))
    h.feed(
        DeviceReport(
            device="C100", at=pressed - 1, reply=CommandReply(None, True, "success", "PRESS")
        )
    )  # an answer older than the press
    h.advance(10)
    assert [d for _, d in presses(h)] == ["C100"]  # still waiting for the power press's answer
    h.advance(20)  # unanswered: never pressed on blindly, the power decides
    assert [d for _, d in presses(h)] == ["C100"]
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION


def test_a_failed_press_is_repeated_after_a_gap_of_one_second() -> None:
    h = finger(press_gap_s=1)
    decide(h, True)
    h.reply("C101", ok=False, detail="errorConnect")
    assert len(presses(h)) == 1
    h.advance(1)
    assert len(presses(h)) == 2


def test_a_late_answer_to_an_unanswered_press_changes_nothing() -> None:
    h = finger(finger_ack_timeout_s=30, verify_s=180)
    decide(h, True)
    h.advance(31)  # unanswered: the power decides from now, within 180 s
    h.advance(40)
    h.reply("C101")  # the gateway's answer, late
    h.advance(130)
    h.report("A101", power_w=1.0)
    h.advance(11)
    assert len(presses(h)) == 2  # 180 s after the timeout, not after the late answer


def test_double_press_presses_the_start_finger_twice() -> None:
    h = finger(160, press_gap_s=5)
    decide(h, True)
    h.reply("C101")
    h.advance(5)
    h.reply("C101")
    assert [d for _, d in presses(h)] == ["C101", "C101"]
    assert "verify" in h.timers


def test_no_power_rise_repeats_the_sequence_once_then_err() -> None:
    h = finger(verify_s=180)
    decide(h, True)
    h.reply("C101")
    h.advance(150)
    h.report("A101", power_w=1.0)  # after the press: idle
    h.advance(31)
    assert len(presses(h)) == 2
    assert h.events[-1].reason == "no power rise after the presses: repeating once"
    h.reply("C101")
    h.advance(150)
    h.report("A101", power_w=1.0)
    h.advance(31)
    assert len(presses(h)) == 2
    assert h.row.command_state == CS.ERR and h.row.mode == Mode.PILOTE
    assert h.events[-1].reason == "no power rise within 180 s of the start"


def test_a_repeated_answer_does_not_extend_the_verification() -> None:
    h = finger(verify_s=180)
    decide(h, True)
    h.reply("C101")
    h.advance(100)
    h.reply("C101")  # the gateway repeats its answer
    h.report("A101", power_w=1.0)
    h.advance(81)
    assert len(presses(h)) == 2  # 180 s after the answer: no rise, the press is repeated


def test_a_press_is_never_made_once_the_power_shows_the_machine_started() -> None:
    h = finger(150, press_gap_s=5)
    decide(h, True)
    h.report("A101", power_w=1200.0)  # the power press alone started it
    h.reply("C100")
    h.advance(60)
    assert [d for _, d in presses(h)] == ["C100"]
    assert h.row.command_state == CS.MANUEL_PILOTE_ON


def test_a_failed_press_is_repeated_once_then_err_with_the_gateways_word() -> None:
    h = finger(press_gap_s=5)
    t = h.now
    decide(h, True)
    h.reply("C101", ok=False, detail="errorConnect")
    assert h.events[-1].reason == (
        "the gateway reports the press failed (errorConnect): repeating once"
    )
    h.advance(4.9)
    assert len(presses(h)) == 1
    h.advance(0.1)
    assert [p - t for p, _ in presses(h)] == [0, 5]  # after the gap between presses
    h.report("A101", online=False)  # no measurement now: the second failure is just reported
    h.reply("C101", ok=False, detail="errorConnect")
    assert h.row.command_state == CS.ERR
    assert h.events[-1].reason == "the gateway reports the press failed (errorConnect)"
    h.advance(900)
    h.report("A101", online=True, power_w=1.0)
    decide(h, True)  # err after a failed press: the EMS may plan it again
    assert len(presses(h)) == 3 and h.row.command_state == CS.PILOTE_EN_ACTIVATION


def test_an_unanswered_press_lets_the_power_decide_and_is_not_pressed_blindly() -> None:
    h = finger(finger_ack_timeout_s=30, verify_s=180)
    decide(h, True)
    h.advance(31)
    assert len(presses(h)) == 1
    h.report("A101", power_w=2000.0)
    assert h.row.command_state == CS.MANUEL_PILOTE_ON


def test_without_a_measure_an_unanswered_press_is_err() -> None:
    h = machine(130, [bot_row("C101", 32)], finger_ack_timeout_s=30)
    decide(h, True)
    h.advance(31)
    assert h.row.command_state == CS.ERR
    assert h.events[-1].reason == "the gateway did not answer the press"


def test_without_a_measure_the_gateways_success_is_the_start() -> None:
    h = machine(130, [bot_row("C101", 32)])
    decide(h, True)
    h.reply("C101")
    assert (h.row.mode, h.row.command_state) == (Mode.MANUEL, CS.MANUEL_PILOTE_ON)
    assert h.events[-1].reason == "start acknowledged (nothing measures it)"


def test_manual_mode_stops_a_sequence_and_sends_nothing() -> None:
    h = finger(150, press_gap_s=5)
    decide(h, True)
    h.reply("C100")
    h.feed(ModeRequested(1, Mode.MANUEL, "screen", h.now))
    h.advance(30)
    assert [d for _, d in presses(h)] == ["C100"]
    assert h.row.command_state == CS.MANUEL_ON


def test_a_continuous_equipment_on_a_finger_is_a_configuration_error() -> None:
    h = machine(130, [bot_row("C101", 32)], type_id=TANK)
    decide(h, True)
    assert h.commands == [] and h.row.command_state == CS.ERR
    assert "finger" in h.events[0].reason


def test_restart_during_a_finger_start_never_presses_again() -> None:
    h = finger(command_state=CS.PILOTE_EN_ACTIVATION, verify_s=180)
    assert h.commands == []
    h.report("A101", power_w=1.0)
    h.advance(120)
    h.report("A101", power_w=1.0)
    h.advance(59)
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION  # the window runs from the restart
    h.advance(2)
    assert presses(h) == [] and h.row.command_state == CS.ERR


def test_restart_during_a_finger_start_sees_the_machine_running() -> None:
    h = finger(command_state=CS.PILOTE_EN_ACTIVATION)
    h.report("A101", power_w=1700.0)
    assert presses(h) == [] and h.row.command_state == CS.MANUEL_PILOTE_ON


# --- 110, 170, 180 -------------------------------------------------------------------------------


def test_deux_relais_switches_one_device_and_measures_with_the_other() -> None:
    h = machine(110, [relay_row("D101", 12), plug_row("A101", usage=21)])
    assert actions(h, "D101") == ["OFF"] and actions(h, "A101") == []
    h.report("D101", relay_on=False)
    decide(h, True)
    request = h.last_command
    assert request is not None and request.device == "D101"
    h.report("D101", reply=CommandReply(request.request_id, True, "was_on false"))  # RPC ack
    assert "verify" in h.timers
    h.report("A101", power_w=1500.0)
    assert h.row.command_state == CS.MANUEL_PILOTE_ON


def test_an_rpc_error_reply_is_retried_without_waiting_for_the_timeout() -> None:
    h = machine(110, [relay_row("D101", 12), plug_row("A101", usage=21)])
    request = h.last_command
    assert request is not None
    h.report("D101", reply=CommandReply(request.request_id, False, "-103 busy"))
    assert h.events[-1].reason == "device D101 refused the command: -103 busy"
    h.advance(5)
    assert actions(h, "D101") == ["OFF", "OFF"]


def test_an_rpc_success_confirms_the_relay_for_anti_short_cycling() -> None:
    devices = [relay_row("D101", 12), plug_row("A101", usage=21)]
    h = machine(110, devices, min_switch_s=60, ack_timeout_s=60)
    start = h.now
    h.advance(30)
    h.report("D101", reply=CommandReply("1-1", True, "ok"))  # the OFF is set, late: now
    h.advance(31)
    decide(h, True)  # 61 s after the start, 31 s after the relay changed: waits
    h.advance(29)
    assert [t - start for t, c in h.commands if c.action == "ON"] == [90]


def test_prise_rallume_et_doigt_powers_on_then_presses_after_the_boot_delay() -> None:
    h = machine(170, [plug_row("A101", usage=11), bot_row("C101", 32)], boot_delay_s=10)
    h.obey("A101")
    decide(h, True)
    h.obey("A101", power_on_w=2.0)
    h.advance(9.9)
    assert presses(h) == []
    h.advance(0.2)
    assert [d for _, d in presses(h)] == ["C101"]
    h.reply("C101")
    h.report("A101", power_w=2000.0)
    assert h.row.command_state == CS.MANUEL_PILOTE_ON


def test_prise_rallume_et_doigt_does_not_press_a_machine_that_starts_on_power() -> None:
    h = machine(170, [plug_row("A101", usage=11), bot_row("C101", 32)], boot_delay_s=10)
    h.obey("A101")
    decide(h, True)
    h.obey("A101", power_on_w=1800.0)
    h.advance(30)
    assert presses(h) == [] and h.row.command_state == CS.MANUEL_PILOTE_ON


def test_relai_et_compteur_is_verified_by_a_step_of_the_house_meter() -> None:
    details = EquipmentDetails(rated_power_w=2400.0)
    h = machine(180, [relay_row("D101", 12), tic_row("B101")], type_id=221, details=details)
    h.report("D101", relay_on=False)
    h.report("B101", power_w=500.0)
    decide(h, True)
    h.report("D101", relay_on=True)
    h.report("B101", power_w=1100.0)  # +600 W: another appliance, not 50 % of 2400 W
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION
    h.report("B101", power_w=1700.0)  # +1200 W: 50 % of the rated power exactly
    assert h.row.command_state == CS.MANUEL_PILOTE_ON
    assert h.events[-1].reason == "start verified: house meter step"
    assert h.row.control_state == ControlState.ON  # the relay, not the house meter, says it is on


def test_relai_et_compteur_with_a_silent_meter_is_started_on_the_relays_word() -> None:
    details = EquipmentDetails(rated_power_w=2400.0)
    h = machine(180, [relay_row("D101", 12), tic_row("B101")], type_id=221, details=details)
    h.report("D101", relay_on=False)
    decide(h, True)  # the house meter never reported: nothing to compare with
    h.report("D101", relay_on=True)
    assert (h.row.mode, h.row.command_state) == (Mode.MANUEL, CS.MANUEL_PILOTE_ON)
    assert h.events[-1].reason == "start acknowledged (nothing measures it)"


def test_170_leaving_a_start_before_its_press_presses_at_the_next_start() -> None:
    h = machine(170, [plug_row("A101", usage=11), bot_row("C101", 32)], boot_delay_s=10)
    h.obey("A101", power_on_w=1.0)
    decide(h, True)
    h.obey("A101")
    h.feed(ModeRequested(1, Mode.MANUEL, "screen", h.now))  # before the boot delay is over
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))
    h.obey("A101")
    h.report("A101", power_w=1.0)
    decide(h, True)
    h.obey("A101")
    h.advance(11)
    assert [d for _, d in presses(h)] == ["C101"]


def test_a_tank_is_never_taken_for_a_started_machine() -> None:
    h = machine(120, [plug_row()], type_id=TANK, cycle_end_s=300)
    h.obey("A101")
    decide(h, True)
    h.obey("A101", power_on_w=2000.0)  # heating
    h.report("A101", power_w=0.0)  # the thermostat is satisfied
    h.advance(301)
    assert (h.row.mode, h.row.command_state) == (Mode.PILOTE, CS.MANUEL_PILOTE_ON)
    h.advance(600)
    decide(h, True)
    h.advance(200)  # the ON is never acknowledged: err, and still piloted
    h.report("A101", power_w=2000.0)
    assert (h.row.mode, h.row.command_state) == (Mode.PILOTE, CS.ERR)


def test_the_cycle_end_waits_for_the_power_to_stay_low() -> None:
    h = machine(120, [plug_row()], cycle_end_s=300)
    h.obey("A101")
    decide(h, True)
    h.obey("A101", power_on_w=2000.0)
    assert h.row.command_state == CS.MANUEL_PILOTE_ON
    h.advance(10)
    h.report("A101", power_w=2000.0)
    h.advance(301)  # running all along
    assert h.row.command_state == CS.MANUEL_PILOTE_ON
    h.report("A101", power_w=1.0)
    h.advance(100)
    h.report("A101", power_w=2000.0)  # a pause, not the end
    h.report("A101", power_w=1.0)
    low = h.now
    h.advance(299)
    assert h.row.command_state == CS.MANUEL_PILOTE_ON
    h.advance(1)
    assert h.row.command_state == CS.MANUEL_ON and h.writes[-1].at == low + 300


def test_the_observed_state_of_a_measured_output_and_of_a_finger() -> None:
    row_devices = [relay_row("D101", 12), plug_row("A101", usage=21)]
    row = equipment_row(typology=110, control_state=ControlState.OFF)
    h = Harness(make_spec(row, row_devices, min_switch_s=0), row).start()
    h.advance(30)
    h.report("D101", online=True)  # the measure has not spoken yet: nothing known
    assert h.observed == []
    h.report("A101", power_w=10.0)  # the on threshold: drawing
    assert h.row.control_state == ControlState.ON
    h.report("A101", power_w=10.0)
    assert len(h.observed) == 1  # written once
    f = machine(130, [bot_row("C101", 32)])
    f.report("C101", online=False)  # no measure: the gateway's availability
    assert f.row.control_state == ControlState.ERRCOM


def test_a_finger_restarted_in_21_without_a_measure_is_err_after_the_window() -> None:
    h = machine(130, [bot_row("C101", 32)], command_state=CS.PILOTE_EN_ACTIVATION, verify_s=180)
    h.advance(181)
    assert h.commands == [] and h.row.command_state == CS.ERR


def test_relai_et_compteur_without_a_step_is_err_after_one_meter_period_more() -> None:
    details = EquipmentDetails(rated_power_w=2400.0)
    h = machine(
        180, [relay_row("D101", 12), tic_row("B101")], type_id=221, details=details, verify_s=180
    )
    h.report("D101", relay_on=False)
    h.report("B101", power_w=500.0)
    decide(h, True)
    h.report("D101", relay_on=True)
    h.advance(180 + 299)
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION
    h.advance(2)
    assert h.row.command_state == CS.ERR


# --- guards --------------------------------------------------------------------------------------


def test_deadline_guard_starts_a_waiting_machine_in_time() -> None:
    start_at = 1_000_000 + 3600
    details = EquipmentDetails(deadline=start_at + 5400 + 900, cycle_s=5400)
    h = machine(120, [plug_row()], details=details, deadline_margin_s=900)
    h.obey()
    h.advance(3599)
    assert h.row.command_state == CS.PILOTE_STAND_BY
    h.advance(2)
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION
    assert any(e.reason.startswith("deadline") for e in h.events)


def test_deadline_guard_is_off_by_configuration_and_ignores_a_past_deadline() -> None:
    details = EquipmentDetails(deadline=1_000_000 + 7200, cycle_s=5400)
    off = machine(120, [plug_row()], details=details, deadline_guard=False)
    off.obey()
    off.advance(7200)
    assert off.row.command_state == CS.PILOTE_STAND_BY
    past = machine(120, [plug_row()], details=EquipmentDetails(deadline=999_000, cycle_s=60))
    past.obey()
    past.advance(10)
    assert past.row.command_state == CS.PILOTE_STAND_BY


def test_a_new_declaration_rearms_the_deadline_guard() -> None:
    h = machine(120, [plug_row()])
    h.obey()
    details = EquipmentDetails(deadline=int(h.now) + 1800 + 900 + 60, cycle_s=1800)
    h.feed(RowChanged(equipment_row(details=details), h.now))
    h.advance(61)
    assert h.row.command_state == CS.PILOTE_EN_ACTIVATION


def test_max_off_guard_switches_a_tank_on_after_24_h_off() -> None:
    h = machine(120, [plug_row()], type_id=TANK)
    h.obey()
    decide(h, False)
    h.obey()
    h.advance(86400 - 1)
    assert actions(h, "A101")[-1] == "OFF"
    h.advance(2)
    assert actions(h, "A101")[-1] == "ON"
    assert h.events[-1].reason == (
        "max-off: held off 24 h, switched on until the plan does, held on by the max-off guard"
    )
    decide(h, False)  # the plan still says off: the guard holds
    assert actions(h, "A101")[-1] == "ON"
    assert h.events[-1].reason.endswith("off for slot 1086300, held on by the max-off guard")
    decide(h, True)
    decide(h, False)  # the plan had it on once: it follows again
    assert actions(h, "A101")[-1] == "OFF"


def test_max_off_counts_from_the_restart_of_a_tank_held_off_by_a_row_without_dates() -> None:
    h = machine(120, [plug_row()], type_id=TANK)  # 11, never switched on or programmed
    booted = h.now
    h.obey()
    h.advance(86400)  # no plan at all
    assert actions(h, "A101") == ["OFF", "ON"] and h.commands[-1][0] == booted + 86400


def test_max_off_counts_from_the_last_switch_off_not_an_earlier_one() -> None:
    h = machine(120, [plug_row()], type_id=TANK)
    h.obey()
    decide(h, False)
    h.obey()
    h.advance(3600)
    decide(h, True)
    h.obey()
    h.advance(3600)
    decide(h, False)
    h.obey()
    off_at = h.now
    h.advance(86400 - 1)
    assert actions(h, "A101")[-1] == "OFF"
    h.advance(1)
    assert actions(h, "A101")[-1] == "ON" and h.commands[-1][0] == off_at + 86400


def test_max_off_counts_from_the_switch_off_after_an_arming_that_switched_on() -> None:
    h = machine(120, [plug_row()], type_id=TANK, mode=Mode.MANUEL, command_state=CS.MANUEL_ON)
    h.obey()
    decide(h, True)
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))  # piloted, on
    h.advance(10 * 3600)
    decide(h, False)
    h.obey()
    off_at = h.now
    h.advance(86400 - 1)
    assert actions(h, "A101")[-1] == "OFF"
    h.advance(1)
    assert h.commands[-1][0] == off_at + 86400


def test_max_off_counts_from_the_arming_that_holds_a_tank_off() -> None:
    h = machine(120, [plug_row()], type_id=TANK, mode=Mode.MANUEL, command_state=CS.MANUEL_ON)
    h.obey()
    decide(h, False)  # recorded while manual
    h.advance(60)
    armed = h.now
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))
    h.obey()
    assert actions(h, "A101") == ["ON", "OFF"] and h.row.consigne is False
    h.advance(86400 - 1)
    assert actions(h, "A101")[-1] == "OFF"
    h.advance(1)
    assert actions(h, "A101")[-1] == "ON" and h.commands[-1][0] == armed + 86400


def test_arming_a_tank_writes_the_plans_set_point() -> None:
    h = machine(120, [plug_row()], type_id=TANK, mode=Mode.MANUEL, command_state=CS.MANUEL_ON)
    h.obey()
    decide(h, True)  # recorded while manual; the row still says consigne False
    h.feed(ModeRequested(1, Mode.PILOTE, "screen", h.now))
    assert (h.row.command_state, h.row.consigne) == (CS.MANUEL_PILOTE_ON, True)
    assert h.writes[-1].reason == "mode 30 requested by screen"


def monday_at(hour: int) -> float:
    return datetime(2026, 11, 30, hour, tzinfo=UTC).timestamp()


def test_comfort_guard_forces_on_when_too_cold_and_gives_back_when_warm() -> None:
    comfort = ComfortSettings(
        eco_dk=2731 + 160, comfort_dk=2731 + 200, delta_dk=10, weekday=((6 * 3600, 22 * 3600),)
    )
    details = EquipmentDetails(comfort=comfort)
    row = equipment_row(type_id=REGULATED, typology=140, details=details)
    spec = make_spec(row, [plug_row(), sensor_row("F101")], min_switch_s=0)
    h = Harness(spec, row, now=monday_at(8)).start()
    h.obey()
    decide(h, False)
    h.obey()
    h.report("F101", temperature_c=18.5)  # 1.5 K under the 20 °C comfort: more than 1 K
    assert actions(h, "A101")[-1] == "ON" and "comfort" in h.events[-1].reason
    decide(h, False)
    assert actions(h, "A101")[-1] == "ON"
    h.report("F101", temperature_c=20.1)
    assert actions(h, "A101")[-1] == "OFF"


def test_comfort_declared_later_is_checked_at_the_next_period_start() -> None:
    comfort = ComfortSettings(
        eco_dk=2731 + 160, comfort_dk=2731 + 200, delta_dk=10, weekday=((6 * 3600, 22 * 3600),)
    )
    row = equipment_row(type_id=REGULATED, typology=140)
    spec = make_spec(row, [plug_row(), sensor_row("F101")], min_switch_s=0)
    h = Harness(spec, row, now=monday_at(5)).start()
    h.obey()
    decide(h, False)
    h.obey()
    h.report("F101", temperature_c=18.5)
    h.advance(600)
    h.report("F101", temperature_c=18.5)
    declared = msgspec.structs.replace(row, details=EquipmentDetails(comfort=comfort))
    h.feed(RowChanged(declared, h.now))  # 16 °C eco now: warm enough
    assert actions(h, "A101")[-1] == "OFF"
    h.advance(monday_at(6) - h.now - 1)
    h.report("F101", temperature_c=18.5)
    assert actions(h, "A101")[-1] == "OFF"
    h.advance(1)  # 6:00, 20 °C requested
    assert actions(h, "A101")[-1] == "ON" and h.commands[-1][0] == monday_at(6)
    assert h.events[-1].reason == (
        "comfort: 18.5 °C, 20.0 °C requested, held on by the comfort guard"
    )


def test_comfort_guard_uses_the_eco_temperature_outside_the_utc_periods() -> None:
    comfort = ComfortSettings(
        eco_dk=2731 + 160, comfort_dk=2731 + 200, delta_dk=10, weekday=((6 * 3600, 22 * 3600),)
    )
    row = equipment_row(type_id=REGULATED, typology=140, details=EquipmentDetails(comfort=comfort))
    spec = make_spec(row, [plug_row(), sensor_row("F101")], min_switch_s=0)
    h = Harness(spec, row, now=monday_at(23)).start()
    h.obey()
    decide(h, False)
    h.obey()
    h.report("F101", temperature_c=18.5)  # above the 16 °C eco temperature
    assert actions(h, "A101")[-1] == "OFF"


# --- local control (Socorel) ---------------------------------------------------------------------


def socorel_row(channel: int = 3) -> DeviceRow:
    """One output channel of a Socorel PLC (type 811)."""
    root = "Socorel/031636408854"
    return device_row(
        f"S{channel}",
        12,
        811,
        "socorel_automate_v0",
        f"{root}/EtatSorties",
        f"{root}/sortie{channel}",
    )


def test_local_control_at_the_plc_releases_then_restores_the_previous_mode() -> None:
    h = machine(110, [socorel_row(3), plug_row("A101", usage=21)], type_id=TANK)
    h.report("S3", relay_on=False)  # holding the tank off for the plan
    h.report("S3", local_control=True)
    assert h.row.mode == Mode.DESACTIVE and actions(h, "S3") == ["OFF", "ON"]
    h.report("S3", relay_on=True)
    h.report("S3", local_control=True)  # the PLC repeats its mode: nothing more happens
    assert actions(h, "S3") == ["OFF", "ON"] and h.row.mode == Mode.DESACTIVE
    h.report("S3", local_control=False)
    assert h.row.mode == Mode.PILOTE
    assert h.events[-1].reason == "mode 30 requested by socorel"
    h.report("S3", local_control=False)  # the PLC repeats automatic: piloted as before
    assert h.row.mode == Mode.PILOTE


def test_local_control_ended_twice_restores_manual_mode_once() -> None:
    devices = [socorel_row(3), plug_row("A101", usage=21)]
    h = machine(110, devices, type_id=TANK, mode=Mode.MANUEL, command_state=CS.MANUEL_ON)
    h.report("S3", relay_on=True)
    h.report("S3", local_control=True)
    assert h.row.mode == Mode.DESACTIVE
    h.feed(RestoreMode(1, "socorel", h.now))
    assert h.row.mode == Mode.MANUEL
    assert h.events[-1].reason == "mode 20 requested by socorel"
    sent = len(h.commands)
    h.report("S3", local_control=False)  # the PLC says automatic again: nothing to restore
    h.feed(RestoreMode(1, "socorel", h.now))
    assert len(h.commands) == sent and h.row.mode == Mode.MANUEL


def test_a_70_set_in_the_database_is_not_lifted_by_the_plc() -> None:
    h = machine(110, [socorel_row(3), plug_row("A101", usage=21)], type_id=TANK)
    h.feed(ModeRequested(1, Mode.DESACTIVE, "database", h.now))
    h.report("S3", local_control=False)
    assert h.state is not None and h.state.mode == Mode.DESACTIVE
    h.feed(RestoreMode(1, "socorel", h.now))
    assert h.state.mode == Mode.DESACTIVE
