"""Switchable typologies: 120 prise_commande and 190 relai_inverse (spec typologies.md §4).

The machine works in terms of "the equipment is powered"; the inverted relay (190) is handled
where relay states are read and written (`Output.inverted`). Triggered equipment (machines,
vehicles) waits unpowered in 11 and is started once per arming; continuous equipment (hot water,
heaters) follows every EMS slot.
"""

from __future__ import annotations

from protocol.ids import CommandState as CS
from protocol.ids import Kind, Mode, Typology, Usage
from protocol.messages import (
    ArmTimer,
    CancelTimer,
    DeviceReport,
    EmsDecision,
    ForceStart,
    Message,
    ModeRequested,
    Reassert,
    RowChanged,
    StopActor,
    TimerFired,
)
from protocol.model import EquipmentRow, EquipmentSpec
from protocol.typologies import common as c
from protocol.typologies.common import Effects, Step, replace
from protocol.typologies.state import MachineState, Output, from_row

VERIFY = "verify"
CYCLE_END = "cycle-end"
BACK_ONLINE = "back-online"

SWITCH_USAGE_BY_TYPOLOGY = {
    Typology.PRISE_COMMANDE: Usage.MEASURE_SWITCH,
    Typology.RELAI_INVERSE: Usage.MEASURE_SWITCH,
}


def initial(spec: EquipmentSpec, row: EquipmentRow, now: float) -> Step:
    """Resume from the database row: re-assert what it says, nothing more (no plan yet)."""
    switch = spec.device(SWITCH_USAGE_BY_TYPOLOGY[Typology(spec.typology)])
    assert switch is not None  # checked by the inventory
    output = Output(device=switch.id, inverted=spec.typology == Typology.RELAI_INVERSE)
    state = from_row(spec, row, now, "switchable", output=output)
    command_state, desired = _resume(spec, row)
    effects = c.arm_stale_timers(state, now, spec.devices)
    state, more = c.transition(state, now, "resumed from the database", command_state=command_state)
    effects += more
    if command_state == CS.PILOTE_EN_ACTIVATION:
        # Restart reconciliation: the reports decide whether the machine started; no second start.
        state = replace(state, verify_deadline=now + spec.control.verify_s)
        effects.append(ArmTimer(VERIFY, now + spec.control.verify_s))
    state, more = c.drive(state, desired, now, reassert=True)
    return state, effects + more


def _resume(spec: EquipmentSpec, row: EquipmentRow) -> tuple[int, bool | None]:
    """(command state, desired power) implied by a database row."""
    if row.mode == Mode.MANUEL:
        return (
            row.command_state
            if row.command_state in (CS.MANUEL_PILOTE_ON, CS.MANUEL_ON)
            else CS.MANUEL_ON
        ), True
    if row.mode != Mode.PILOTE:
        return CS.NON_COMMANDE, None
    if spec.kind == Kind.CONTINUOUS:
        return (CS.MANUEL_PILOTE_ON if row.consigne else CS.PILOTE_STAND_BY), row.consigne
    if row.command_state in (CS.PILOTE_EN_ACTIVATION, CS.MANUEL_PILOTE_ON, CS.MANUEL_ON):
        return row.command_state, True
    if row.command_state == CS.ERR:
        return CS.ERR, row.consigne
    return CS.PILOTE_STAND_BY, False


def step(state: MachineState, event: Message, now: float) -> Step:
    if isinstance(event, DeviceReport):
        return _on_report(state, event, now)
    if isinstance(event, EmsDecision):
        return _on_decision(state, event, now)
    if isinstance(event, TimerFired):
        return _on_timer(state, event, now)
    if isinstance(event, ModeRequested):
        return _on_mode(state, event.mode, event.source, now)
    if isinstance(event, RowChanged):
        if event.row.mode != state.mode:
            return _on_mode(state, event.row.mode, "database", now)
        return state, []
    if isinstance(event, ForceStart):
        return _on_force_start(state, event, now)
    if isinstance(event, Reassert):
        return c.drive(state, state.desired_on, now, reassert=True)
    return state, []


# --- modes ---------------------------------------------------------------------------------------


def _on_mode(state: MachineState, mode: int, source: str, now: float) -> Step:
    write_mode = source != "database"
    reason = f"mode {mode} requested by {source}"
    if mode == state.mode and mode in (Mode.MANUEL, Mode.PILOTE):
        return c.drive(state, state.desired_on, now, reassert=True)
    if mode == Mode.MANUEL:
        running = state.command_state == CS.MANUEL_PILOTE_ON
        state, effects = c.transition(
            state,
            now,
            reason,
            mode=mode,
            write_mode=write_mode,
            command_state=CS.MANUEL_PILOTE_ON if running else CS.MANUEL_ON,
        )
        state = replace(state, error=None, error_kind=None, verify_deadline=None)
        state, more = c.drive(state, True, now)
        return state, [*effects, CancelTimer(VERIFY), *more]
    if mode == Mode.PILOTE:
        return _arm(state, now, reason, write_mode)
    # 1 non_pilote, 10 installation, 70 desactive, 80 suppr: not ours to drive (rule 3.5).
    left_off = _left_off_by_us(state)
    state, effects = c.release(state)
    if mode == Mode.DESACTIVE and left_off:
        # The single release ON: never leave a household unpowered. Once sent, the last command
        # is ON, so a second entry into 70 sends nothing more.
        state, more = c.drive(state, True, now)
        effects += more
    state, more = c.transition(
        state, now, reason, mode=mode, write_mode=write_mode, command_state=CS.NON_COMMANDE
    )
    state = replace(
        state,
        desired_on=None,
        error=None,
        error_kind=None,
        verify_deadline=None,
        low_power_since=None,
    )
    effects += [*more, CancelTimer(VERIFY), CancelTimer(CYCLE_END)]
    if mode == Mode.SUPPR:
        effects.append(StopActor(reason))
    return state, effects


def _left_off_by_us(state: MachineState) -> bool:
    return (
        state.output is not None
        and state.output.commanded is not None
        and (
            state.output.commanded == state.output.inverted  # relay state that leaves it unpowered
        )
    )


def _arm(state: MachineState, now: float, reason: str, write_mode: bool) -> Step:
    """Enter piloted mode: triggered waits unpowered for its slot, continuous follows the plan."""
    if state.spec.kind == Kind.CONTINUOUS:
        desired = state.ems_on if state.ems_on is not None else (state.desired_on is not False)
        command_state = CS.MANUEL_PILOTE_ON if desired else CS.PILOTE_STAND_BY
        consigne = desired
    else:
        desired, command_state, consigne = False, CS.PILOTE_STAND_BY, False
    state, effects = c.transition(
        state,
        now,
        reason,
        mode=Mode.PILOTE,
        write_mode=write_mode,
        command_state=command_state,
        consigne=consigne,
    )
    state = replace(state, error=None, error_kind=None, verify_deadline=None, low_power_since=None)
    state, more = c.drive(state, desired, now)
    return state, [*effects, CancelTimer(VERIFY), CancelTimer(CYCLE_END), *more]


# --- EMS decisions -------------------------------------------------------------------------------


def _on_decision(state: MachineState, event: EmsDecision, now: float) -> Step:
    state = replace(state, ems_on=event.on, ems_slot=event.slot_start, ems_plan=event.plan_id)
    if state.mode != Mode.PILOTE:
        return state, []
    reason = f"EMS plan {event.plan_id}: {'on' if event.on else 'off'} for slot {event.slot_start}"
    if state.spec.kind == Kind.CONTINUOUS:
        return _follow(state, event.on, now, reason)
    if event.on and _may_start(state):
        return _start(state, now, reason)
    return state, []


def _follow(state: MachineState, on: bool, now: float, reason: str) -> Step:
    """Continuous equipment: the output follows the slot, re-asserted at every boundary."""
    state, effects = c.transition(
        state,
        now,
        reason,
        consigne=on,
        command_state=CS.MANUEL_PILOTE_ON if on else CS.PILOTE_STAND_BY,
    )
    state = replace(state, error=None, error_kind=None) if effects else state
    state, more = c.drive(state, on, now, reassert=True)
    return state, effects + more


def _may_start(state: MachineState) -> bool:
    # At most one start per arming: a verified start moves the equipment to mode 20.
    return state.command_state in (CS.PILOTE_STAND_BY, CS.ERR)


def _start(state: MachineState, now: float, reason: str) -> Step:
    state, effects = c.transition(
        state, now, reason, command_state=CS.PILOTE_EN_ACTIVATION, consigne=True
    )
    state = replace(state, error=None, error_kind=None, verify_deadline=None)
    state, more = c.drive(state, True, now)
    effects += more
    if c.output_matches(state) and state.output and state.output.attempt == 0:
        state, more = _acknowledged_start(state, now)  # it was already on: nothing to acknowledge
        effects += more
    return state, effects


def _on_force_start(state: MachineState, event: ForceStart, now: float) -> Step:
    if state.mode != Mode.PILOTE:
        return state, c.note(
            state, now, f"force start by {event.source} ignored: mode {state.mode}"
        )
    reason = f"force start by {event.source}"
    if state.spec.kind == Kind.CONTINUOUS:
        return _follow(state, True, now, reason)
    if not _may_start(state):
        return state, c.note(state, now, f"{reason} ignored: state {state.command_state}")
    return _start(state, now, reason)


# --- reports -------------------------------------------------------------------------------------


def _on_report(state: MachineState, report: DeviceReport, now: float) -> Step:
    was_online = state.devices.get(report.device)
    was_online_flag = was_online.online if was_online else None
    state = c.record_report(state, report)
    effects: Effects = []
    if not report.retained:
        device = next((d for d in state.spec.devices if d.id == report.device), None)
        if device is not None:
            effects.append(c.stale_timer(state, device, report.at))
    output = state.output
    is_switch = output is not None and report.device == output.device
    if is_switch and report.online is False:
        state, more = c.stop_waiting(state)
        effects += more
    elif (
        is_switch and report.online is True and not report.retained and was_online_flag is not True
    ):
        # Back online: re-assert once the device has had time to subscribe again (rule 3.1).
        effects.append(ArmTimer(BACK_ONLINE, now + state.spec.control.online_reassert_s))
    if output is not None and c.is_ack(output, report):
        state, more = _on_ack(state, now)
        effects += more
    elif is_switch and report.relay_on is not None and not report.retained:
        state, more = _on_relay_report(state, now)
        effects += more
    if not report.retained and report.power_w is not None:
        state, more = _on_power(state, now)
        effects += more
    state, more = c.refresh_observed(state, now)
    return state, effects + more


def _on_ack(state: MachineState, now: float) -> Step:
    state, effects = c.acknowledge(state)
    if state.command_state == CS.ERR and state.error_kind == "ack":
        state, more = _recover(state, now, "the device now reports the desired output")
        effects += more
    if state.command_state == CS.PILOTE_EN_ACTIVATION and state.desired_on:
        state, more = _acknowledged_start(state, now)
        effects += more
    elif _switched_on_continuous(state):
        # rule 3.7: the EMS needs the time of the last confirmed switch-on (12-hour rule)
        state, more = c.transition(state, now, "switch-on confirmed", started=True)
        effects += more
    return state, effects


def _switched_on_continuous(state: MachineState) -> bool:
    """The acknowledged command switched a piloted continuous equipment on."""
    piloted = state.spec.kind == Kind.CONTINUOUS and state.mode == Mode.PILOTE
    return piloted and bool(state.desired_on) and state.output is not None and state.output.changing


def _on_relay_report(state: MachineState, now: float) -> Step:
    """A fresh relay report outside any command: clear err, or re-assert on a contradiction."""
    output = state.output
    assert output is not None
    if state.desired_on is None or output.target is None:
        return state, []
    if output.attempt > 0 or output.retry_at is not None or output.deferred_until is not None:
        return state, []
    if c.output_matches(state):
        if state.command_state == CS.ERR and state.error_kind == "ack":
            return _recover(state, now, "the device now reports the desired output")
        return state, []
    state = replace(state, conflicts=state.conflicts + 1)
    effects = c.note(state, now, "device reports a different output: re-asserting")
    state, more = c.drive(state, state.desired_on, now, reassert=True)
    return state, effects + more


def _acknowledged_start(state: MachineState, now: float) -> Step:
    """The plug is on: wait for the power rise, or call it started where nothing measures."""
    if not c.has_power_measure(state):
        return _started(state, now, "start acknowledged (no power measurement)")
    deadline = now + state.spec.control.verify_s
    return replace(state, verify_deadline=deadline), [ArmTimer(VERIFY, deadline)]


def _started(state: MachineState, now: float, reason: str) -> Step:
    """Start verified: the EMS must see mode 20 and the start time (rules 3.6, 3.7)."""
    state, effects = c.transition(
        state, now, reason, command_state=CS.MANUEL_PILOTE_ON, mode=Mode.MANUEL, started=True
    )
    state = replace(state, verify_deadline=None, error=None, error_kind=None, low_power_since=None)
    return state, [*effects, CancelTimer(VERIFY)]


def _on_power(state: MachineState, now: float) -> Step:
    power = c.power_of(state)
    if power is None or not c.has_power_measure(state):
        return state, []
    running = power >= state.spec.control.on_threshold_w
    starting = state.command_state == CS.PILOTE_EN_ACTIVATION or (
        state.command_state == CS.ERR and state.error_kind == "start"
    )
    if starting and running and state.mode == Mode.PILOTE:
        return _started(state, now, f"start verified: {power:.0f} W")
    if state.spec.kind != Kind.TRIGGERED or state.command_state != CS.MANUEL_PILOTE_ON:
        return state, []
    if running and state.low_power_since is not None:
        return replace(state, low_power_since=None), [CancelTimer(CYCLE_END)]
    if not running and state.low_power_since is None:
        until = now + state.spec.control.cycle_end_s
        return replace(state, low_power_since=now), [ArmTimer(CYCLE_END, until)]
    return state, []


# --- timers --------------------------------------------------------------------------------------


def _on_timer(state: MachineState, event: TimerFired, now: float) -> Step:
    token, output = event.token, state.output
    if token.startswith(c.STALE):
        return c.refresh_observed(state, now)
    if output is None:
        return state, []
    if token == BACK_ONLINE:
        return c.drive(state, state.desired_on, now, reassert=True)
    if token == c.ACK and output.ack_deadline == event.at and output.attempt > 0:
        state, effects, failed = c.on_ack_timeout(state, now)
        if failed:
            reason = (
                f"device {output.device} did not acknowledge "
                f"{'ON' if output.target else 'OFF'} after {output.attempt} attempts"
            )
            if state.mode in (Mode.MANUEL, Mode.PILOTE):
                state, more = _fail(state, now, "ack", reason)
            else:
                more = c.note(
                    state, now, reason
                )  # the release ON of mode 70: nothing to put in err
            effects += more
        return state, effects
    if token == c.RETRY and output.retry_at == event.at:
        return c.on_retry(state, now)
    if token == c.MIN_SWITCH and output.deferred_until == event.at:
        return c.on_min_switch(state, now)
    if token == VERIFY and state.verify_deadline == event.at:
        if state.command_state != CS.PILOTE_EN_ACTIVATION:
            return replace(state, verify_deadline=None), []
        verify_s = state.spec.control.verify_s
        return _fail(state, now, "start", f"no power rise within {verify_s:.0f} s of the start")
    low_since = state.low_power_since
    cycle_over = low_since is not None and now - low_since >= state.spec.control.cycle_end_s
    if token == CYCLE_END and cycle_over and state.command_state == CS.MANUEL_PILOTE_ON:
        state = replace(state, low_power_since=None)
        return c.transition(state, now, "cycle ended", command_state=CS.MANUEL_ON)
    return state, []


def _fail(state: MachineState, now: float, kind: str, reason: str) -> Step:
    """State 30 with its reason; the mode stays (30 lets the EMS plan again)."""
    state, effects = c.transition(state, now, reason, command_state=CS.ERR)
    return replace(state, error=reason, error_kind=kind, verify_deadline=None), effects


def _recover(state: MachineState, now: float, reason: str) -> Step:
    """err clears by itself once the device does what we want (rule 3.2)."""
    state = replace(state, error=None, error_kind=None)
    if state.mode == Mode.MANUEL:
        return c.transition(state, now, reason, command_state=CS.MANUEL_ON)
    if state.mode != Mode.PILOTE:
        return c.transition(state, now, reason, command_state=CS.NON_COMMANDE)
    if state.spec.kind == Kind.CONTINUOUS:
        on = bool(state.desired_on)
        return c.transition(
            state, now, reason, command_state=CS.MANUEL_PILOTE_ON if on else CS.PILOTE_STAND_BY
        )
    if state.desired_on:
        state, effects = c.transition(state, now, reason, command_state=CS.PILOTE_EN_ACTIVATION)
        state, more = _acknowledged_start(state, now)
        return state, effects + more
    return c.transition(state, now, reason, command_state=CS.PILOTE_STAND_BY)
