"""Properties of spec typologies.md §8 for every piloted typology, observed on what goes out —
commands with their times, rows as written, timers, events — never on the machine's fields.

The test plays the EMS, the household, the devices, the database and the clock: decisions (some
expired), mode requests (some written straight into the database), device reports (fresh,
retained, late, duplicated, offline and back), devices obeying or not, time passing, and
restarts that rebuild the machine from the row *as the database holds it* (the model applies
every WriteState to its row). One hypothesis state machine per family: switch outputs (110,
120, 140, 170, 180, 190) and fingers (130, 150, 160)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

import msgspec
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from protocol.ems import HORIZON_SECONDS
from protocol.ids import Kind
from protocol.messages import (
    CommandReply,
    DeviceReport,
    EmsDecision,
    Event,
    ForceStart,
    Message,
    ModeRequested,
    Reassert,
    RestoreMode,
    RowChanged,
    SendCommand,
    TimerFired,
    WriteObserved,
    WriteState,
)
from protocol.model import ComfortSettings, DeviceRow, EquipmentDetails, EquipmentRow
from tests.harness import (
    Harness,
    bot_row,
    equipment_row,
    make_spec,
    plug_row,
    relay_row,
    sensor_row,
    tic_row,
)

# The database's ids, written out (spec §1): the code's enums are not the reference.
DB_MODES = {1, 10, 20, 30, 70, 80}
DB_COMMAND_STATES = {1, 11, 21, 12, 13, 30, 99}
DB_CONTROL_STATES = {15, 25, 60, 70}
MANUAL, PILOTED, DISABLED = 20, 30, 70
STARTING, ON_PILOTED, ERR = 21, 12, 30
GUARD_WORDS = ("comfort", "max-off", "held on", "force start")

DETAILS = EquipmentDetails(
    deadline=1_000_000 + 4 * 3600,
    cycle_s=3600,
    rated_power_w=2000.0,
    comfort=ComfortSettings(
        eco_dk=2891,
        comfort_dk=2931,
        delta_dk=10,
        weekday=((21600, 79200),),
        weekend=((28800, 79200),),
    ),
)
SWITCHABLE_DEVICES: dict[int, list[DeviceRow]] = {
    110: [relay_row("D101", 12), plug_row("A101", usage=21)],
    120: [plug_row("A101", usage=11)],
    140: [plug_row("A101", usage=11), sensor_row("F101")],
    170: [plug_row("A101", usage=11), bot_row("C101", 32)],
    180: [relay_row("D101", 12), tic_row("B101")],
    190: [plug_row("A101", usage=11), plug_row("A102", usage=21)],
}
FINGER_DEVICES: dict[int, list[DeviceRow]] = {
    130: [bot_row("C101", 32), plug_row("A101", usage=21)],
    150: [bot_row("C100", 31), bot_row("C101", 32), plug_row("A101", usage=21)],
    160: [bot_row("C101", 32), plug_row("A101", usage=21)],
}
SWITCH = {110: "D101", 120: "A101", 140: "A101", 170: "A101", 180: "D101", 190: "A101"}
MEASURE = {110: "A101", 120: "A101", 140: "A101", 170: "A101", 190: "A102"}
MEASURE |= dict.fromkeys((130, 150, 160), "A101")

pytestmark = pytest.mark.usefixtures("paris")  # the process runs in Europe/Paris


@dataclass
class Seen:
    """What the test knows of one device from the reports it delivered (as the machine sees it)."""

    online: bool | None = None
    last_seen: float | None = None
    power: float | None = None
    power_at: float | None = None
    relay: bool | None = None  # newest fresh relay report
    relay_at: float | None = None
    changes: list[float] = field(default_factory=list)  # confirmed relay changes

    def fold(self, report: DeviceReport) -> None:
        fresh = not report.retained
        if report.online is not None:
            self.online = report.online
        if fresh:
            self.last_seen = max(report.at, self.last_seen or report.at)
        if report.power_w is not None and (
            self.power_at is None or (fresh and report.at >= self.power_at)
        ):
            self.power = report.power_w
            self.power_at = report.at if fresh else self.power_at
        newer = self.relay_at is None or report.at >= self.relay_at
        if report.relay_on is not None and fresh and newer:
            if self.relay is not None and report.relay_on != self.relay:
                self.changes.append(report.at)
            self.relay, self.relay_at = report.relay_on, report.at


@dataclass
class Checked(Harness):
    """Hands every step's outputs (one event fed, or a restart) to the model's checks, with the
    row as the database held it before the step. Observed state may only follow a report, or
    the silence measured by a staleness timer."""

    observer: Callable[[str, object, int, int, EquipmentRow], None] | None = None

    def start(self) -> Checked:
        self._observed("restart", None, super().start)
        return self

    def feed(self, event: Message) -> list[Message]:
        first = len(self.effects)
        self._observed("feed", event, lambda: super(Checked, self).feed(event))
        effects = self.effects[first:]
        if any(isinstance(e, WriteObserved) for e in effects):
            stale = isinstance(event, TimerFired) and event.token.startswith("stale:")
            assert isinstance(event, DeviceReport) or stale, f"etat_controle written on {event}"
        return effects

    def _observed(self, kind: str, event: object, step: Callable[[], object]) -> None:
        row, first_effect, first_command = self.row, len(self.effects), len(self.commands)
        step()
        if self.observer is not None:
            self.observer(kind, event, first_effect, first_command, row)


def _comfort_needed(t: float, temperature_c: float) -> bool:
    """The comfort guard's rule, computed here from the spec (periods in UTC seconds of day)."""
    comfort = DETAILS.comfort
    assert comfort is not None
    day = datetime.fromtimestamp(t, UTC)
    seconds = day.hour * 3600 + day.minute * 60 + day.second
    periods = comfort.weekday if day.weekday() < 5 else comfort.weekend
    in_comfort = any(start <= seconds < end for start, end in periods)  # none crosses midnight
    requested = comfort.comfort_dk if in_comfort else comfort.eco_dk
    return requested - (temperature_c * 10 + 2731) > comfort.delta_dk


class TypologyMachine(RuleBasedStateMachine):
    DEVICES: ClassVar[dict[int, list[DeviceRow]]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.h: Checked | None = None
        self.log: list[tuple[str, float, object]] = []  # for the determinism replay
        self.seen: dict[str, Seen] = {}
        self.decision: EmsDecision | None = None
        self.decision_event = 0  # index of the events when the decision was delivered
        self.verified_in_arming = 0
        self.verified_at: float | None = None  # a start verified, and not re-armed since
        self.attempt_since_restart = False  # a start attempt (21) was written since the restart
        self.booted_at = 0.0  # when the machine (the process) last started
        self.last_press: float | None = None
        self.forgotten: dict[str, int] = {}  # relay changes confirmed before the last restart
        self.quiet = False  # nothing that could answer has come from the switch since its order
        self.mode_changed_at = 0  # number of commands sent before the last mode change
        self.off_since: float | None = None  # continuous, piloted: first OFF since the last ON
        self.temperature: tuple[float, float] | None = None  # (at, °C) known since the restart
        self.sensor_online: bool | None = None
        self.broken = False  # a step failed half-way: no determinism replay

    def _setup(
        self, type_id: int, typology: int, mode: int, command_state: int, **kw: object
    ) -> None:
        details = DETAILS if kw.pop("with_details") else None
        row = equipment_row(
            type_id=type_id,
            typology=typology,
            mode=mode,
            command_state=command_state,
            consigne=bool(kw.pop("consigne")),
            details=details,
        )
        ago = int(kw.pop("started_ago"))  # type: ignore[call-overload]
        row = msgspec.structs.replace(row, started_at=1_000_000 - ago if ago else 0)
        self.min_switch = float(kw.pop("min_switch"))  # type: ignore[arg-type]
        self.typology, self.first_row = typology, row
        spec = make_spec(
            row,
            self.DEVICES[typology],
            min_switch_s=self.min_switch,
            max_off_s=3 * 3600,
            verify_s=20,
            finger_ack_timeout_s=5,
            press_gap_s=2,
            boot_delay_s=3,
            cycle_end_s=60,
        )
        self.h = Checked(spec, row)
        self.h.observer = self._check
        self.kind = spec.kind
        self.device_ids = [d.id for d in self.DEVICES[typology]]
        self.switch = SWITCH.get(typology)
        self.inverted = typology == 190
        self.measure = MEASURE.get(typology)
        self.stale_s = {d.id: d.report_period_s * spec.control.stale_factor for d in spec.devices}
        rated = details.rated_power_w if details else None
        threshold = spec.control.on_threshold_w
        if typology == 170 and rated:
            threshold = max(threshold, spec.control.start_power_ratio * rated)
        self.start_threshold = threshold
        self._run("start", None)

    # --- rules: the EMS, the household, the database ------------------------------------------

    @rule(on=st.booleans(), at_boundary=st.booleans(), expired=st.booleans())
    def ems_decision(self, on: bool, at_boundary: bool, expired: bool) -> None:
        h = self._h()
        if at_boundary:
            self._run("advance", 900 - h.now % 900)
        slot = int(h.now // 900 * 900) - (5 * 86400 if expired else 0)
        self._run("feed", EmsDecision(1, on, slot, 1, h.now))

    @rule(
        mode=st.sampled_from([1, 10, 20, 30, 70]),
        source=st.sampled_from(["screen", "viriya", "operator", "database", "socorel"]),
    )
    def mode_requested(self, mode: int, source: str) -> None:
        h = self._h()
        if source == "database":  # an operator wrote it: the database holds it from now on
            before, h.row = h.row, msgspec.structs.replace(h.row, mode=mode)
            self._rearmed(before, h.row)
            self._run("feed", RowChanged(h.row, h.now))
        else:
            self._run("feed", ModeRequested(1, mode, source, h.now))

    @rule()
    def local_control_ends(self) -> None:
        self._run("feed", RestoreMode(1, "socorel", self._h().now))

    @rule()
    def force_start(self) -> None:
        self._run("feed", ForceStart(1, "operator", self._h().now))

    @rule()
    def reassert(self) -> None:
        self._run("feed", Reassert("MQTT reconnected", self._h().now))

    @rule()
    def restart(self) -> None:
        self._run("restart", None)

    @rule(
        seconds=st.sampled_from([0.5, 2.5, 4.0, 11.0, 21.0, 31.0, 61.0, 200.0, 900.0, 3 * 3600.0])
    )
    def time_passes(self, seconds: float) -> None:
        self._run("advance", seconds)
        self._check_guards_acted()

    @rule()
    def until_the_deadline_start(self) -> None:
        """Time reaches the deadline guard's start (finished-by − cycle − margin)."""
        h = self._h()
        details = h.row.details
        if self.kind != Kind.TRIGGERED or not details.deadline:
            return
        start_at = details.deadline - (details.cycle_s or 0) - h.spec.control.deadline_margin_s
        if h.now < start_at:
            self._run("advance", start_at - h.now + 1)
            self._check_guards_acted()

    @rule()
    def max_off_elapses(self) -> None:
        max_off = self._h().spec.control.max_off_s
        if self.kind == Kind.CONTINUOUS and max_off:
            self._run("advance", max_off + 100)
            self._check_guards_acted()

    @rule(evening=st.booleans())
    def room_gets_cold(self, evening: bool) -> None:
        """15 °C: too cold during the comfort period (20 °C), not in eco (16 °C). `evening`:
        21:30 UTC, still comfort for the EMS, eco for a clock read in Paris."""
        h = self._h()
        if self.typology != 140:
            return
        self.mode_requested(PILOTED, "screen")
        if evening:
            self._run("advance", (21.5 * 3600 - h.now % 86400) % 86400)
        self._report(DeviceReport("F101", h.now, online=True, temperature_c=15.0))
        self.decide_and_settle(False)

    @rule()
    def restart_during_a_start(self) -> None:
        """The process dies while a start is being verified; the devices answer after it."""
        if self.kind != Kind.TRIGGERED:
            return
        self.mode_requested(PILOTED, "screen")
        self.force_start()
        self.devices_obey(0.0, online=True)
        self.restart()
        self.devices_obey(0.0, online=True)
        self._run("advance", 5.0)

    @rule()
    def start_verified_by_power_alone(self) -> None:
        """The machine starts (its power rises) but the relay's answer is lost."""
        h = self._h()
        if self.kind != Kind.TRIGGERED or self.measure is None or self.switch is None:
            return
        self.mode_requested(PILOTED, "screen")
        self.force_start()
        self._report(DeviceReport(self.measure, h.now, online=True, power_w=1500.0))
        self._run("advance", 200.0)

    @rule()
    def plan_expires(self) -> None:
        """A decision, then manual mode for more than the plan's horizon, then piloted again."""
        if self.kind != Kind.CONTINUOUS:
            return
        self.mode_requested(PILOTED, "screen")
        self.ems_decision(False, at_boundary=False, expired=False)
        self.mode_requested(MANUAL, "screen")
        self._run("advance", HORIZON_SECONDS + 3600.0)
        self.mode_requested(PILOTED, "screen")

    def _awaiting_first_measure(self) -> bool:
        """A finger start waits for the measuring device's first measurement since the restart,
        for three report periods at most (README, "What it does")."""
        h = self._h()
        if self.measure is None or self.seen.get(self.measure, Seen()).power_at is not None:
            return False
        waiting = [e for e in h.events if "waiting for the first measurement" in e.reason]
        return bool(waiting) and h.now < self.booted_at + self.stale_s[self.measure]

    def _check_guards_acted(self) -> None:
        """The deadline and max-off guards did what they are for."""
        h = self._h()
        if h.spec.problem or h.row.mode != PILOTED:
            return
        details = h.row.details
        if self.kind == Kind.TRIGGERED and details.deadline and h.row.command_state == 11:
            start_at = details.deadline - (details.cycle_s or 0) - h.spec.control.deadline_margin_s
            due = start_at <= h.now < details.deadline
            assert not due or self._awaiting_first_measure(), "waiting past its deadline start"
        max_off = h.spec.control.max_off_s
        if self.kind == Kind.CONTINUOUS and max_off and self.off_since is not None:
            assert h.now - self.off_since <= max_off + 200, "held off longer than max_off_s"

    # --- rules: the devices -------------------------------------------------------------------

    @rule(data=st.data())
    def device_report(self, data: st.DataObject) -> None:
        h = self._h()
        device = data.draw(st.sampled_from(self.device_ids))
        fields = data.draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "relay_on": st.booleans(),
                    "power_w": st.sampled_from([0.0, 3.0, 15.0, 80.0, 800.0, 2000.0, 4000.0]),
                    "online": st.booleans(),
                    "temperature_c": st.sampled_from([15.0, 18.5, 21.0]),
                    "reply": st.builds(
                        CommandReply,
                        st.none(),
                        st.booleans(),
                        st.just("x"),
                        st.sampled_from(["PRESS", None]),
                    ),
                },
            )
        )
        retained = data.draw(st.booleans())
        late = data.draw(st.sampled_from([0.0, 0.0, 0.0, 5.0, 40.0]))  # delivered late
        self._report(DeviceReport(device, h.now - late, retained, **fields))

    @rule()
    def duplicate_report(self) -> None:
        """The broker delivers the last report again (QoS 1)."""
        last = next((e for k, _, e in reversed(self.log) if isinstance(e, DeviceReport)), None)
        if last is not None:
            self._report(last)

    @rule(power=st.sampled_from([0.0, 12.0, 1500.0]), online=st.booleans())
    def devices_obey(self, power: float, online: bool) -> None:
        """The last command is carried out and answered; the measure shows the result."""
        h = self._h()
        command = h.last_command
        if command is None:
            return
        if command.action == "PRESS":
            reply = CommandReply(None, True, "success", "PRESS")
            self._report(DeviceReport(command.device, h.now, reply=reply))
        else:
            on = command.action == "ON"
            reply = CommandReply(command.request_id, True, "ok")
            self._report(DeviceReport(command.device, h.now, relay_on=on, reply=reply))
        for device in ("A101", "A102", "B101"):
            if device in self.device_ids:
                fields: dict[str, object] = {"power_w": power}
                if online:
                    fields["online"] = True
                self._report(DeviceReport(device, h.now, **fields))  # type: ignore[arg-type]

    @rule(retained_echo=st.booleans())
    def switch_silent(self, retained_echo: bool) -> None:
        """The switch says nothing for 300 s (a retained echo of the order is no answer): the
        order is tried at 5, 15, 45 s after each 10 s timeout, then 30."""
        h = self._h()
        if self.switch is None:
            return
        last = next((c for _, c in reversed(h.commands) if c.device == self.switch), None)
        if retained_echo and last is not None:
            echo = DeviceReport(self.switch, h.now, retained=True, relay_on=last.action == "ON")
            self._report(echo)
        self._run("advance", 300.0)
        if not self.quiet or h.row.mode not in (MANUAL, PILOTED) or h.spec.problem:
            return
        sent = [(t, c) for t, c in h.commands if c.device == self.switch]
        last = (
            next(
                i for i, (_, c) in reversed(list(enumerate(h.commands))) if c.device == self.switch
            )
            if sent
            else -1
        )
        if not sent or h.now - sent[-1][0] < 110 or last < self.mode_changed_at:
            return
        series = sent[-4:]
        assert all(c.action == sent[-1][1].action for _, c in series), "a retry changed the order"
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(series)]
        assert len(series) == 4 and gaps == [15.0, 25.0, 55.0], f"retries {gaps}"
        powered = (sent[-1][1].action == "ON") != self.inverted
        kept = [e for e in h.events if e.at >= sent[-1][0] and "12 kept" in e.reason]
        if kept:  # a verified start is never undone by it (its cycle may have ended since)
            assert self.kind == Kind.TRIGGERED and powered
            assert all(e.from_state == ON_PILOTED for e in kept), "kept something else than 12"
            return
        assert h.row.command_state == ERR, "an order never answered did not end in 30"

    @rule(on=st.booleans())
    def decide_and_settle(self, on: bool) -> None:
        self.ems_decision(on, at_boundary=True, expired=False)
        self.settle_and_check_the_continuous_output()

    @rule()
    def settle_and_check_the_continuous_output(self) -> None:
        """After things settle (devices online and obeying), a continuous piloted equipment's
        output is the valid EMS decision, unless a guard said otherwise (with its Event)."""
        h = self._h()
        decision = self._valid_decision()
        if self.kind != Kind.CONTINUOUS or self.switch is None or decision is None:
            return
        if h.row.mode != PILOTED or h.spec.problem:
            return
        for _ in range(4):
            self._report(DeviceReport(self.switch, h.now, online=True))
            command = next((c for _, c in reversed(h.commands) if c.device == self.switch), None)
            if command is not None:
                on = command.action == "ON"
                self._report(DeviceReport(self.switch, h.now, relay_on=on))
            self._run("advance", self.min_switch + 16)
        if h.row.mode != PILOTED or self._valid_decision() is None:
            return
        last = next((c for _, c in reversed(h.commands) if c.device == self.switch), None)
        assert last is not None, "a continuous piloted equipment was never commanded"
        powered = (last.action == "ON") != self.inverted
        assert h.row.command_state != ERR, "err did not clear once the device obeyed"
        if self._cold(h.now):
            assert powered, "the room is too cold and the comfort guard did not heat it"
        if powered != decision.on:
            guard = [e for e in h.events[self.decision_event :] if _guard_event(e)]
            assert guard, f"output {powered} against the decision {decision.on} with no guard"

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def at_most_one_verified_start_per_arming(self) -> None:
        assert self.verified_in_arming <= 1

    # --- plumbing -----------------------------------------------------------------------------

    def _h(self) -> Checked:
        assert self.h is not None
        return self.h

    def _cold(self, now: float) -> bool:
        """140 with its sensor: a fresh reading says the comfort guard must heat."""
        h = self._h()
        if self.typology != 140 or h.row.details.comfort is None or self.temperature is None:
            return False
        at, temperature = self.temperature
        fresh = self.sensor_online is not False and now - at < self.stale_s["F101"]
        return fresh and _comfort_needed(now, temperature)

    def _valid_decision(self) -> EmsDecision | None:
        d = self.decision
        return d if d is not None and self._h().now < d.slot_start + HORIZON_SECONDS else None

    def _report(self, report: DeviceReport) -> None:
        self._run("feed", report)

    def _run(self, kind: str, argument: object) -> None:
        h = self._h()
        self.log.append((kind, h.now, argument))
        if kind in ("start", "restart"):
            self.attempt_since_restart, self.booted_at = False, h.now
            self.decision = None  # the new process has no decision until the plans are read
            self.forgotten = {d: len(v.changes) for d, v in self.seen.items()}
            # A new process knows the devices from what the broker delivers next (a retained
            # LWT or state is a drawn report); the confirmed relay changes stay, as `forgotten`.
            self.seen = {d: Seen(changes=v.changes) for d, v in self.seen.items()}
            self.temperature, self.sensor_online = None, None
            h.start()
        elif kind == "advance":
            h.advance(float(argument))  # type: ignore[arg-type]
        else:
            assert isinstance(argument, Message)
            if isinstance(argument, DeviceReport):
                self._fold(argument)
            if isinstance(argument, EmsDecision) and h.now < argument.slot_start + HORIZON_SECONDS:
                self.decision, self.decision_event = argument, len(h.events)
            h.feed(argument)

    def _fold(self, report: DeviceReport) -> None:
        self.seen.setdefault(report.device, Seen()).fold(report)
        answering = not report.retained or report.online is not None or report.reply is not None
        if report.device == self.switch and answering:
            self.quiet = False
        if report.device == "F101":
            if report.online is not None:
                self.sensor_online = report.online
            t = report.temperature_c
            newest = self.temperature is None or report.at >= self.temperature[0]
            if t is not None and not report.retained and newest:
                self.temperature = (report.at, t)

    def _rearmed(self, before: EquipmentRow, after: EquipmentRow) -> None:
        """Arming: the row (as the database holds it) enters mode 30. It survives restarts."""
        if after.mode == PILOTED and before.mode != PILOTED:
            self.verified_in_arming, self.verified_at = 0, None

    def _check(
        self, kind: str, event: object, first_effect: int, first_command: int, row: EquipmentRow
    ) -> None:
        """The outputs of one step: `kind` "restart" or "feed" (event), `row` before it."""
        self.broken = True
        self._check_step(kind, event, first_effect, first_command, row)
        self.broken = False

    def _check_step(
        self, kind: str, event: object, first_effect: int, first_command: int, row: EquipmentRow
    ) -> None:
        h = self._h()
        effects = h.effects[first_effect:]
        commands = h.commands[first_command:]
        writes = [e for e in effects if isinstance(e, WriteState)]
        events = [e for e in effects if isinstance(e, Event)]
        for effect in effects:  # every state written is a database id, times are integers
            if isinstance(effect, WriteState):
                assert effect.command_state is None or effect.command_state in DB_COMMAND_STATES
                assert effect.mode is None or effect.mode in DB_MODES
                assert isinstance(effect.at, int)
            elif isinstance(effect, WriteObserved):
                assert effect.control_state in DB_CONTROL_STATES
        self._rearmed(row, h.row)
        if row.mode != h.row.mode:  # orders sent before a mode change may be abandoned
            self.mode_changed_at = len(h.commands)
        for w in writes:
            if w.command_state == STARTING:
                self.attempt_since_restart = True
                self.last_press = None
                assert self.verified_at is None, "a second start in one arming"
            if w.mode == MANUAL and w.started_at is not None:
                self.quiet = False  # the power answered the order
                self.verified_in_arming += 1
                self.verified_at = h.now
            if w.command_state == ERR and self.verified_at is not None:
                # The start's own order is never reported failed once the power verified it.
                sent = [t for t, c in h.commands if c.device == self.switch][-4:]
                lost = any("did not acknowledge" in e.reason for e in events)
                assert not (lost and sent and sent[0] < self.verified_at), "verified, then failed"
        if h.row.mode != PILOTED:
            self.off_since = None
        for at, command in commands:
            if command.action == "PRESS":
                self._check_press(at)
            elif command.device == self.switch:
                self._check_switch(kind, at, command)
                self.quiet = True
                powered = (command.action == "ON") != self.inverted
                if powered or h.row.mode != PILOTED:
                    self.off_since = None
                elif self.off_since is None:
                    self.off_since = at
        self._check_guards(kind, event, commands, writes, events)
        self._check_decisions(event, row, commands, writes, events)

    def _check_decisions(
        self,
        event: object,
        row: EquipmentRow,
        commands: list[tuple[float, SendCommand]],
        writes: list[WriteState],
        events: list[Event],
    ) -> None:
        """Expired decisions do nothing; arming without a valid decision keeps the output; a
        valid "on" reaches a triggered equipment waiting (11) or in err (30)."""
        h = self._h()
        if h.spec.problem:
            return
        if isinstance(event, EmsDecision) and h.now >= event.slot_start + HORIZON_SECONDS:
            assert not commands and not writes, "an expired decision was applied"
        armed = h.row.mode == PILOTED and row.mode != PILOTED
        if armed and self.kind == Kind.CONTINUOUS and self._valid_decision() is None:
            offs = [c for _, c in commands if (c.action == "ON") == self.inverted]
            assert not offs, "switched off on entering mode 30 with no valid decision"
        waiting = row.mode == PILOTED and row.command_state in (11, ERR)
        valid_on = isinstance(event, EmsDecision) and event.on and self._valid_decision()
        if valid_on and waiting and self.kind == Kind.TRIGGERED:
            started = any(w.command_state == STARTING for w in writes)
            assert started or events, "a valid decision to start did nothing, silently"

    def _fresh(self, at: float, running: bool) -> bool:
        """The measure is online, not stale, and its power shows the machine running / idle."""
        assert self.measure is not None
        seen = self.seen.get(self.measure, Seen())
        if seen.online is False or seen.last_seen is None or seen.power_at is None:
            return False
        if at - seen.last_seen >= self.stale_s[self.measure] or seen.power is None:
            return False
        return (seen.power >= self.start_threshold) == running

    def _check_press(self, at: float) -> None:
        h = self._h()
        assert h.row.mode == PILOTED and h.row.command_state == STARTING, "press outside 21"
        assert self.attempt_since_restart, "pressed again after a restart in 21"
        if self.measure is not None:
            assert self._fresh(at, running=False), "pressed while the power is running or unknown"
            power_at = self.seen[self.measure].power_at
            if self.typology in (130, 170) and self.last_press is not None:
                assert power_at is not None and power_at >= self.last_press, "repeated blindly"
        self.last_press = at

    def _check_switch(self, kind: str, at: float, command: SendCommand) -> None:
        h = self._h()
        relay_on = command.action == "ON"
        if h.row.mode not in (MANUAL, PILOTED):
            assert h.row.mode == DISABLED, f"{command} in mode {h.row.mode}"
            assert relay_on != self.inverted, f"{command} in mode 70: only the release ON"
        seen = self.seen.get(command.device, Seen())
        changes = seen.relay is not None and seen.relay != relay_on and self.min_switch
        # The model's restarts come from the row alone, without the own schema's last relay
        # change (written within a second, so a crash may lose it; README "Decisions written
        # down"): changes confirmed before a restart are not held against it.
        if changes and len(seen.changes) > self.forgotten.get(command.device, 0):
            gap = at - seen.changes[-1]
            assert gap >= self.min_switch - 1e-9, f"relay changed {gap:.1f} s after the last"

    def _check_guards(
        self,
        kind: str,
        event: object,
        commands: list[tuple[float, SendCommand]],
        writes: list[WriteState],
        events: list[Event],
    ) -> None:
        """Every guard action comes with its Event: a continuous output held on against the
        plan, a triggered start that no decision or operator asked for."""
        h = self._h()
        decision = self._valid_decision()
        powers_on = any(
            c.device == self.switch and (c.action == "ON") != self.inverted for _, c in commands
        )
        continuous = self.kind == Kind.CONTINUOUS and h.row.mode == PILOTED
        if continuous and powers_on and decision is not None and not decision.on:
            guard = [e for e in h.events[self.decision_event :] if _guard_event(e)]
            assert guard, "an output held on against the plan without its Event"
        timer = isinstance(event, TimerFired)
        if timer and any(w.command_state == STARTING for w in writes):
            assert any("deadline" in e.reason for e in events), "a start no one asked for"

    def teardown(self) -> None:
        """Determinism: replaying the same sequence gives the same effects."""
        if self.h is None or self.broken:
            return
        replay = Harness(self.h.spec, self.first_row)
        for kind, now, argument in self.log:
            replay.now = now
            if kind in ("start", "restart"):
                replay.start()
            elif kind == "advance":
                replay.advance(float(argument))  # type: ignore[arg-type]
            else:
                if isinstance(argument, RowChanged):
                    replay.row = argument.row
                replay.feed(argument)  # type: ignore[arg-type]
        assert replay.effects == self.h.effects


def _guard_event(event: Event) -> bool:
    return any(word in event.reason for word in GUARD_WORDS)


class SwitchOutputs(TypologyMachine):
    DEVICES = SWITCHABLE_DEVICES

    @initialize(
        type_id=st.sampled_from([112, 131, 155, 221]),
        typology=st.sampled_from(sorted(SWITCHABLE_DEVICES)),
        mode=st.sampled_from([1, 10, 20, 30, 70]),
        command_state=st.sampled_from([1, 11, 12, 13, 21, 30, 99]),
        consigne=st.booleans(),
        min_switch=st.sampled_from([0.0, 60.0]),
        with_details=st.booleans(),
        started_ago=st.sampled_from([0, 30, 7200]),
    )
    def start(
        self, type_id: int, typology: int, mode: int, command_state: int, **kw: object
    ) -> None:
        self._setup(type_id, typology, mode, command_state, **kw)


class Fingers(TypologyMachine):
    DEVICES = FINGER_DEVICES

    @initialize(
        type_id=st.sampled_from([112, 111, 131]),
        typology=st.sampled_from(sorted(FINGER_DEVICES)),
        mode=st.sampled_from([1, 20, 30, 70]),
        command_state=st.sampled_from([11, 12, 13, 21, 30]),
        with_details=st.booleans(),
    )
    def start(
        self, type_id: int, typology: int, mode: int, command_state: int, with_details: bool
    ) -> None:
        self._setup(
            type_id,
            typology,
            mode,
            command_state,
            consigne=False,
            min_switch=0.0,
            with_details=with_details,
            started_ago=0,
        )


# The state machines need more examples than the default profile gives plain properties to reach
# their rare corners (a repeat after a failed press, a mode change between two presses).
MUTATION = os.environ.get("HYPOTHESIS_PROFILE") == "mutation"  # per mutant: a quick look
EXAMPLES = settings(
    settings.default,
    max_examples=settings.default.max_examples
    if MUTATION
    else max(settings.default.max_examples, 300),
)
TestSwitchOutputs = SwitchOutputs.TestCase
TestSwitchOutputs.settings = EXAMPLES
TestFingers = Fingers.TestCase
TestFingers.settings = EXAMPLES
