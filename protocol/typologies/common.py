"""Rules shared by every typology (spec typologies.md §3): observed state, command lifecycle,
transitions that write all their columns at once and say why.

Every function is pure: `(state, ..., now) -> (state, effects)`.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from protocol.ids import ControlState
from protocol.messages import (
    ArmTimer,
    CancelTimer,
    DeviceReport,
    Event,
    Message,
    NotifyDisplays,
    SendCommand,
    WriteObserved,
    WriteState,
)
from protocol.model import DeviceSpec
from protocol.typologies.state import DeviceView, MachineState, Output

Effects = list[Message]
Step = tuple[MachineState, Effects]

ACK = "ack"
RETRY = "retry"
MIN_SWITCH = "min-switch"
STALE = "stale:"

replace = msgspec.structs.replace


# --- transitions ---------------------------------------------------------------------------------


def transition(
    state: MachineState,
    now: float,
    reason: str,
    *,
    command_state: int | None = None,
    mode: int | None = None,
    consigne: bool | None = None,
    started: bool = False,
    write_mode: bool = True,
) -> Step:
    """Change the database-visible state; one WriteState with every changed column, one Event."""
    changes: dict[str, object] = {}
    if command_state is not None and command_state != state.command_state:
        changes["command_state"] = command_state
    if mode is not None and mode != state.mode:
        changes["mode"] = mode
    if consigne is not None and consigne != state.consigne:
        changes["consigne"] = consigne
    if started:
        changes["started_at"] = int(now)
    if not changes:
        return state, []
    new = replace(
        state,
        command_state=changes.get("command_state", state.command_state),
        mode=changes.get("mode", state.mode),
        consigne=changes.get("consigne", state.consigne),
        started_at=int(now) if started else state.started_at,
    )
    columns = dict(changes)
    if "mode" in changes:
        new = replace(new, programmed_at=int(now))
        if write_mode:
            columns["programmed_at"] = int(now)
        else:
            del columns["mode"]  # the database already holds it (someone else changed it)
    effects: Effects = [Event(state.spec.id, now, reason, state.command_state, new.command_state)]
    if columns:
        effects.append(WriteState(equipment=state.spec.id, at=int(now), reason=reason, **columns))  # type: ignore[arg-type]
    effects.append(NotifyDisplays(state.spec.id))
    return new, effects


def note(state: MachineState, now: float, reason: str) -> Effects:
    """An Event without a state change (a decision that changed nothing visible)."""
    return [Event(state.spec.id, now, reason, state.command_state, state.command_state)]


# --- observed state (rule 3.3) -------------------------------------------------------------------


def stale_after(device: DeviceSpec, state: MachineState) -> float:
    return device.report_period_s * state.spec.control.stale_factor


def device_spec(state: MachineState, device_id: str | None) -> DeviceSpec | None:
    return next((d for d in state.spec.devices if d.id == device_id), None)


def primary_device(state: MachineState) -> DeviceSpec | None:
    """The device whose reports say whether the equipment is on: its own power measure, else the
    switch's relay, else (fingers without a measure) the gateway's availability."""
    roles = state.roles
    first_press = roles.presses[0] if roles.presses else None
    return device_spec(state, roles.measure or roles.switch or first_press)


def observed_state(state: MachineState, now: float) -> int:
    """15 / 25 / 60 / 70 from reports only; keeps the current value when reports say nothing."""
    device = primary_device(state)
    if device is None:
        return state.control_state
    view = state.devices.get(device.id, DeviceView())
    limit = stale_after(device, state)
    if view.online is False:
        return ControlState.ERRCOM
    if view.last_seen is None:
        if now - state.booted_at >= limit:
            return ControlState.INCONNU  # nothing heard since start
    elif now - view.last_seen >= limit:
        return ControlState.ERRCOM
    power = power_of(state)
    if power is not None and power >= state.spec.control.on_threshold_w:
        return ControlState.ON  # powered and drawing, whatever the relay says
    relay = equipment_relay_on(state)
    if relay is not None:
        return ControlState.ON if relay else ControlState.OFF  # powered, maybe idle
    if power is not None:
        return ControlState.OFF
    return state.control_state


def refresh_observed(state: MachineState, now: float) -> Step:
    value = observed_state(state, now)
    if value == state.control_state:
        return state, []
    return replace(state, control_state=value), [
        WriteObserved(state.spec.id, value, int(now)),
        NotifyDisplays(state.spec.id),
    ]


def record_report(state: MachineState, report: DeviceReport) -> MachineState:
    """Fold a report into the device views. Retained messages are state, not signs of life."""
    view = state.devices.get(report.device, DeviceView())
    fresh = not report.retained
    # A late report (older than the reading we hold) does not overwrite a newer measurement.
    power = report.power_w if _newer(report, view.power_at) else None
    temperature = report.temperature_c if _newer(report, view.temperature_at) else None
    relay = report.relay_on if _newer(report, view.relay_at) else None
    view = replace(
        view,
        relay_on=relay if relay is not None else view.relay_on,
        relay_at=report.at if fresh and relay is not None else view.relay_at,
        power_w=power if power is not None else view.power_w,
        power_at=report.at if fresh and power is not None else view.power_at,
        energy_wh=report.energy_wh if report.energy_wh is not None else view.energy_wh,
        online=report.online if report.online is not None else view.online,
        temperature_c=temperature if temperature is not None else view.temperature_c,
        temperature_at=report.at if fresh and temperature is not None else view.temperature_at,
        battery=report.battery if report.battery is not None else view.battery,
        last_seen=view.last_seen if report.retained else max(report.at, view.last_seen or 0.0),
    )
    return replace(state, devices={**state.devices, report.device: view})


def _newer(report: DeviceReport, held_at: float | None) -> bool:
    return held_at is None or (not report.retained and report.at >= held_at)


def fresh_view(state: MachineState, device_id: str | None, now: float) -> DeviceView | None:
    """The device's view when it is online and has spoken within its staleness window."""
    device = device_spec(state, device_id)
    if device is None or device_id is None:
        return None
    view = state.devices.get(device_id, DeviceView())
    if view.online is False or view.last_seen is None:
        return None
    return view if now - view.last_seen < stale_after(device, state) else None


def arm_stale_timers(state: MachineState, now: float, devices: Sequence[DeviceSpec]) -> Effects:
    return [stale_timer(state, d, now) for d in devices]


def stale_timer(state: MachineState, device: DeviceSpec, heard_at: float) -> ArmTimer:
    return ArmTimer(STALE + device.id, heard_at + stale_after(device, state))


def power_of(state: MachineState) -> float | None:
    """The equipment's own measured power, None when nothing measures it."""
    if state.roles.measure is None:
        return None
    return state.devices.get(state.roles.measure, DeviceView()).power_w


def meter_power(state: MachineState) -> float | None:
    """The whole house's power (180)."""
    if state.roles.meter is None:
        return None
    return state.devices.get(state.roles.meter, DeviceView()).power_w


# --- command lifecycle (rules 3.1, 3.2, 3.8) -----------------------------------------------------


def drive(
    state: MachineState, desired_on: bool | None, now: float, *, reassert: bool = False
) -> Step:
    """Make the switch output follow `desired_on`; send only what is needed.

    A change within `min_switch_s` of the previous change is deferred, not dropped. `reassert`
    re-sends an acknowledged target (level-triggered: reconnects, slot boundaries, contradictions).
    """
    state = replace(state, desired_on=desired_on)
    output = state.output
    if output is None or desired_on is None:
        return state, []
    target = desired_on != output.inverted
    in_flight = output.attempt > 0 or output.retry_at is not None
    if output.target == target and (in_flight or output.deferred_until is not None):
        return state, []  # already working on it
    # An order the device confirmed needs no repeat; one that went unanswered is sent again
    # (a relay confirmed before the last order was sent may have changed since: not confirmed).
    confirmed = output.sent_at is None or (
        output.relay_at is not None and output.relay_at >= output.sent_at
    )
    done = output.commanded == target and output.relay == target and confirmed
    if output.target == target and done and not reassert:
        return state, []
    was_deferred = output.deferred_until is not None
    output = replace(output, target=target, deferred_until=None)
    if done and not reassert and not in_flight:
        # Back to what the relay is before a deferred change went out: nothing to send.
        return replace(state, output=output), [CancelTimer(MIN_SWITCH)] if was_deferred else []
    until = next_change_at(state)
    if is_change(output, target) and until is not None and now < until:
        output = replace(output, deferred_until=until, attempt=0, ack_deadline=None, retry_at=None)
        effects: Effects = [ArmTimer(MIN_SWITCH, until), CancelTimer(ACK), CancelTimer(RETRY)]
        effects += note(state, now, f"switch {'ON' if target else 'OFF'} deferred by min_switch_s")
        return replace(state, output=output), effects
    return _send(replace(state, output=output), now, attempt=1)


def is_change(output: Output, target: bool) -> bool:
    """The target differs from the relay as confirmed, or from the last command (which may have
    switched it already, its confirmation not yet in)."""
    return any(known is not None and known != target for known in (output.relay, output.commanded))


def next_change_at(state: MachineState) -> float | None:
    """Anti short-cycling (rule 3.8): the relay may change again `min_switch_s` after its last
    confirmed change, and after the last changing command sent (its confirmation may be late)."""
    output = state.output
    if output is None or not state.spec.control.min_switch_s:
        return None
    times = [t for t in (output.changed_at, output.change_sent_at) if t is not None]
    return max(times) + state.spec.control.min_switch_s if times else None


def confirm_relay(state: MachineState, relay: bool, at: float) -> MachineState:
    """The device reports its relay (or answered a command that set it): a change is confirmed
    at the report's time. A report older than the one we hold changes nothing."""
    output = state.output
    if output is None or (output.relay_at is not None and at < output.relay_at):
        return state
    # First word since the start: when it last changed is unknown, so take it as just now.
    changed = output.relay is None or relay != output.relay
    output = replace(
        output, relay=relay, relay_at=at, changed_at=at if changed else output.changed_at
    )
    return replace(state, output=output)


def release(state: MachineState) -> Step:
    """Stop driving the output: no ack awaited, no retry, no deferred change."""
    output = state.output
    if output is None:
        return replace(state, desired_on=None), []
    output = replace(output, attempt=0, ack_deadline=None, retry_at=None, deferred_until=None)
    effects: Effects = [CancelTimer(ACK), CancelTimer(RETRY), CancelTimer(MIN_SWITCH)]
    return replace(state, desired_on=None, output=output), effects


def _send(state: MachineState, now: float, attempt: int) -> Step:
    output = state.output
    assert output is not None and output.target is not None
    sequence = state.sequence + 1
    request_id = f"{state.spec.id}-{sequence}"
    if attempt == 1:
        # The first command after a start may change the relay too when no report since the
        # start says what the relay is (unknown, or kept from before the restart: maybe stale):
        # it counts for anti short-cycling, but it is not a switch-on to report to the EMS.
        changing = is_change(output, output.target)
        heard = output.relay_at is not None and output.relay_at >= state.booted_at
        first = output.commanded is None and not heard
        change_sent_at = now if changing or first else output.change_sent_at
    else:  # a retry repeats the command in flight: no new change
        changing, change_sent_at = output.changing, output.change_sent_at
    deadline = now + state.spec.control.ack_timeout_s
    output = replace(
        output,
        commanded=output.target,
        request_id=request_id,
        attempt=attempt,
        sent_at=now,
        ack_deadline=deadline,
        retry_at=None,
        deferred_until=None,
        change_sent_at=change_sent_at,
        changing=changing,
    )
    action = "ON" if output.target else "OFF"
    return replace(state, output=output, sequence=sequence), [
        SendCommand(output.device, action, request_id),
        ArmTimer(ACK, deadline),
        CancelTimer(MIN_SWITCH),
    ]


def on_ack_timeout(state: MachineState, now: float) -> tuple[MachineState, Effects, bool]:
    """The ack did not come: schedule the next retry, or give up. -> (state, effects, failed)"""
    output = state.output
    assert output is not None
    delays = state.spec.control.retry_delays_s
    if output.attempt <= len(delays):
        retry_at = now + delays[output.attempt - 1]
        output = replace(output, ack_deadline=None, retry_at=retry_at)
        return replace(state, output=output), [ArmTimer(RETRY, retry_at)], False
    output = replace(output, attempt=0, ack_deadline=None, retry_at=None)
    return replace(state, output=output), [], True


def on_retry(state: MachineState, now: float) -> Step:
    output = state.output
    assert output is not None and output.target is not None
    min_switch = state.spec.control.min_switch_s
    moved = output.relay is not None and output.relay != output.target  # changed since it was sent
    if moved and min_switch and output.changed_at is not None:
        until = output.changed_at + min_switch
        if now < until:  # the relay just changed (someone else): the retry waits its turn
            output = replace(output, retry_at=None, attempt=0, deferred_until=until)
            effects: Effects = [ArmTimer(MIN_SWITCH, until)]
            return replace(state, output=output), effects + note(state, now, "retry deferred")
    return _send(replace(state, output=replace(output, retry_at=None)), now, output.attempt + 1)


def on_min_switch(state: MachineState, now: float) -> Step:
    """A deferred change is due, unless the relay changed again meanwhile (a report)."""
    output = state.output
    assert output is not None and output.target is not None
    until = next_change_at(state)
    if is_change(output, output.target) and until is not None and now < until:
        return replace(state, output=replace(output, deferred_until=until)), [
            ArmTimer(MIN_SWITCH, until)
        ]
    output = replace(output, deferred_until=None)
    return _send(replace(state, output=output), now, attempt=1)


def _in_flight_answer(output: Output, report: DeviceReport) -> bool:
    return (
        output.attempt > 0
        and report.device == output.device
        and not report.retained
        and output.sent_at is not None
        and report.at >= output.sent_at
    )


def is_ack(output: Output, report: DeviceReport) -> bool:
    """The command in flight is done: the device reports the commanded relay state after it was
    sent, or answers this very request successfully (Shelly Gen2 RPC)."""
    if not _in_flight_answer(output, report):
        return False
    reply = report.reply
    if reply is not None and reply.ok and reply.request_id == output.request_id:
        return True
    return report.relay_on is not None and report.relay_on == output.commanded


def is_refusal(output: Output, report: DeviceReport) -> bool:
    """The device answered this very request with an error: no need to wait for the timeout."""
    reply = report.reply
    return (
        _in_flight_answer(output, report)
        and reply is not None
        and not reply.ok
        and reply.request_id == output.request_id
    )


def acknowledge(state: MachineState) -> Step:
    output = state.output
    assert output is not None
    output = replace(output, attempt=0, ack_deadline=None, retry_at=None)
    return replace(state, output=output), [CancelTimer(ACK), CancelTimer(RETRY)]


def stop_waiting(state: MachineState) -> Step:
    """The device went offline: stop expecting acks; the target is re-asserted when it returns."""
    output = state.output
    if output is None or (output.attempt == 0 and output.retry_at is None):
        return state, []
    output = replace(output, attempt=0, ack_deadline=None, retry_at=None)
    return replace(state, output=output), [CancelTimer(ACK), CancelTimer(RETRY)]


def output_matches(state: MachineState) -> bool:
    """The switch device reports the relay state we want."""
    output = state.output
    if output is None or output.target is None:
        return False
    view = state.devices.get(output.device, DeviceView())
    return view.relay_on == output.target


def equipment_relay_on(state: MachineState) -> bool | None:
    """Whether the switch output powers the equipment, from the device's last relay report."""
    output = state.output
    if output is None:
        return None
    relay = state.devices.get(output.device, DeviceView()).relay_on
    return None if relay is None else relay != output.inverted
