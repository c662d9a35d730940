"""Properties of spec typologies.md §8 for every piloted typology, over arbitrary interleavings of
EMS decisions, mode requests, device reports, acknowledgements and gateway replies, timer
firings and restarts. One hypothesis state machine per family: switch outputs (110, 120, 140,
170, 180, 190) and fingers (130, 150, 160)."""

from __future__ import annotations

from typing import ClassVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from protocol.ids import (
    VALID_COMMAND_STATES,
    VALID_CONTROL_STATES,
    VALID_MODES,
    CommandState,
    Kind,
    Mode,
)
from protocol.messages import (
    CommandReply,
    DeviceReport,
    EmsDecision,
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
from protocol.model import ComfortSettings, DeviceRow, EquipmentDetails
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

DRIVEN_MODES = (Mode.MANUEL, Mode.PILOTE)
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
    190: [plug_row("A101", usage=11)],
}
FINGER_DEVICES: dict[int, list[DeviceRow]] = {
    130: [bot_row("C101", 32), plug_row("A101", usage=21)],
    150: [bot_row("C100", 31), bot_row("C101", 32), plug_row("A101", usage=21)],
    160: [bot_row("C101", 32), plug_row("A101", usage=21)],
}


class CheckedHarness(Harness):
    """Observed state may only follow a report, or the silence measured by a staleness timer;
    a finger is only ever pressed in state 21."""

    def feed(self, event: Message) -> list[Message]:
        effects = super().feed(event)
        if any(isinstance(e, WriteObserved) for e in effects):
            stale = isinstance(event, TimerFired) and event.token.startswith("stale:")
            assert isinstance(event, DeviceReport) or stale, f"etat_controle written on {event}"
        if any(isinstance(e, SendCommand) and e.action == "PRESS" for e in effects):
            assert self.state is not None
            assert self.state.command_state == CommandState.PILOTE_EN_ACTIVATION, event
            assert self.state.mode == Mode.PILOTE
        return effects


class TypologyMachine(RuleBasedStateMachine):
    """One equipment; the test plays the EMS, the household, the devices and the clock."""

    DEVICES: ClassVar[dict[int, list[DeviceRow]]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.h: Harness | None = None
        self.log: list[tuple[str, float, object]] = []  # for the determinism replay
        self.last_change: dict[str, tuple[float, str]] = {}
        self.release_changes = 0
        self.starts_in_arming = 0
        self.presses_in_start = 0

    def _setup(
        self,
        type_id: int,
        typology: int,
        mode: int,
        command_state: int,
        consigne: bool,
        min_switch: float,
        with_details: bool,
    ) -> None:
        row = equipment_row(
            type_id=type_id,
            typology=typology,
            mode=mode,
            command_state=command_state,
            consigne=consigne,
            details=DETAILS if with_details else None,
        )
        self.min_switch = min_switch
        self.first_row = row
        devices = self.DEVICES[typology]
        # Short windows, so that random time steps often cross them.
        spec = make_spec(
            row,
            devices,
            min_switch_s=min_switch,
            max_off_s=3 * 3600,
            verify_s=20,
            finger_ack_timeout_s=5,
            press_gap_s=2,
            boot_delay_s=3,
            cycle_end_s=60,
        )
        self.h = CheckedHarness(spec, row)
        self.device_ids = [d.id for d in devices]
        self._run("start", None)

    # --- rules -------------------------------------------------------------------------------

    @rule(on=st.booleans(), at_boundary=st.booleans())
    def ems_decision(self, on: bool, at_boundary: bool) -> None:
        h = self._h()
        if at_boundary:
            self._run("advance", 900 - h.now % 900)
        self._run("feed", EmsDecision(1, on, int(h.now // 900 * 900), 1, h.now))

    @rule(
        mode=st.sampled_from([1, 10, 20, 30, 70]),
        source=st.sampled_from(["screen", "viriya", "operator", "database", "socorel"]),
    )
    def mode_requested(self, mode: int, source: str) -> None:
        h = self._h()
        if source == "database":
            self._run("feed", RowChanged(equipment_row(mode=mode, details=h.row.details), h.now))
        else:
            self._run("feed", ModeRequested(1, mode, source, h.now))

    @rule()
    def local_control_ends(self) -> None:
        self._run("feed", RestoreMode(1, "socorel", self._h().now))

    @rule(data=st.data())
    def device_report(self, data: st.DataObject) -> None:
        h = self._h()
        device = data.draw(st.sampled_from(self.device_ids))
        fields = data.draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "relay_on": st.booleans(),
                    "power_w": st.sampled_from([0.0, 3.0, 15.0, 800.0, 2000.0, 4000.0]),
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
        self._run("feed", DeviceReport(device, h.now, retained, **fields))

    @rule(power=st.sampled_from([0.0, 1500.0]))
    def devices_obey(self, power: float) -> None:
        """The last command is carried out and answered; the measure shows the result."""
        h = self._h()
        command = h.last_command
        if command is None:
            return
        if command.action == "PRESS":
            reply = CommandReply(None, True, "success", "PRESS")
            self._run("feed", DeviceReport(command.device, h.now, reply=reply))
        else:
            on = command.action == "ON"
            reply = CommandReply(command.request_id, True, "ok")
            self._run("feed", DeviceReport(command.device, h.now, relay_on=on, reply=reply))
        for device in ("A101", "B101"):
            if device in self.device_ids:
                self._run("feed", DeviceReport(device, h.now, power_w=power))

    @rule(
        seconds=st.sampled_from([0.5, 2.5, 4.0, 11.0, 21.0, 31.0, 61.0, 200.0, 900.0, 3 * 3600.0])
    )
    def time_passes(self, seconds: float) -> None:
        self._run("advance", seconds)

    @rule()
    def restart(self) -> None:
        self._run("restart", None)

    @rule()
    def reassert(self) -> None:
        self._run("feed", Reassert("MQTT reconnected", self._h().now))

    @rule()
    def force_start(self) -> None:
        self._run("feed", ForceStart(1, "operator", self._h().now))

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def written_states_are_valid_database_ids(self) -> None:
        if self.h is None:
            return
        for effect in self.h.effects:
            if isinstance(effect, WriteState):
                assert effect.command_state is None or effect.command_state in VALID_COMMAND_STATES
                assert effect.mode is None or effect.mode in VALID_MODES
            elif isinstance(effect, WriteObserved):
                assert effect.control_state in VALID_CONTROL_STATES

    @invariant()
    def continuous_piloted_output_follows_the_decision(self) -> None:
        state = self.h.state if self.h else None
        if state is None or state.spec.problem:
            return
        piloted = state.spec.kind == Kind.CONTINUOUS and state.mode == Mode.PILOTE
        if piloted and state.ems_on is not None and state.guard is None:
            assert state.desired_on == state.ems_on

    @invariant()
    def at_most_one_start_per_arming(self) -> None:
        assert self.starts_in_arming <= 1

    @invariant()
    def a_start_presses_at_most_its_sequence_twice(self) -> None:
        state = self.h.state if self.h else None
        if state is not None:
            assert self.presses_in_start <= 2 * max(1, len(state.roles.presses))

    # --- plumbing ----------------------------------------------------------------------------

    def _h(self) -> Harness:
        assert self.h is not None
        return self.h

    def _run(self, kind: str, argument: object) -> None:
        h = self._h()
        first_effect, first_command = len(h.effects), len(h.commands)
        mode_before = h.state.mode if h.state else None
        state_before = h.state.command_state if h.state else None
        self.log.append((kind, h.now, argument))
        if kind in ("start", "restart"):
            h.start()
            self.last_change.clear()  # a restarted actor knows nothing of the previous one
            self.release_changes = 0
            self.starts_in_arming = 0
        elif kind == "advance":
            h.advance(float(argument))  # type: ignore[arg-type]
        else:
            assert isinstance(argument, Message)
            h.feed(argument)
        self._check(h, first_effect, first_command, mode_before, state_before)

    def _check(
        self,
        h: Harness,
        first_effect: int,
        first_command: int,
        mode_before: int | None,
        state_before: int | None,
    ) -> None:
        state = h.state
        assert state is not None
        if state.mode == Mode.PILOTE and mode_before != Mode.PILOTE:
            self.starts_in_arming = 0  # a new arming
        if state.mode in DRIVEN_MODES:
            self.release_changes = 0  # the next entry into 70 may release once more
        if state_before != CommandState.PILOTE_EN_ACTIVATION and any(
            isinstance(e, WriteState) and e.command_state == CommandState.PILOTE_EN_ACTIVATION
            for e in h.effects[first_effect:]
        ):
            self.presses_in_start = 0  # a new start
        for effect in h.effects[first_effect:]:
            if isinstance(effect, WriteState) and effect.mode == Mode.MANUEL and effect.started_at:
                self.starts_in_arming += 1
        for at, command in h.commands[first_command:]:
            if command.action == "PRESS":
                self.presses_in_start += 1
            elif command.device == state.roles.switch:
                self._check_switch(
                    state.mode, at, command, bool(state.output and state.output.inverted)
                )

    def _check_switch(self, mode: int, at: float, command: SendCommand, inverted: bool) -> None:
        previous = self.last_change.get(command.device)
        if mode not in DRIVEN_MODES:
            powers_on = (command.action == "ON") != inverted
            assert powers_on, f"{command} in mode {mode}: only the release ON is allowed"
            if previous is None or previous[1] != command.action:
                self.release_changes += 1
            assert self.release_changes <= 1
        if previous is not None and previous[1] != command.action and self.min_switch:
            assert at - previous[0] >= self.min_switch - 1e-9, "two changes within min_switch_s"
        if previous is None or previous[1] != command.action:
            self.last_change[command.device] = (at, command.action)

    def teardown(self) -> None:
        """Determinism: replaying the same sequence gives the same effects."""
        if self.h is None:
            return
        replay = Harness(self.h.spec, self.first_row)
        for kind, now, argument in self.log:
            replay.now = now
            if kind in ("start", "restart"):
                replay.start()
            elif kind == "advance":
                replay.advance(float(argument))  # type: ignore[arg-type]
            else:
                replay.feed(argument)  # type: ignore[arg-type]
        assert replay.effects == self.h.effects
        assert replay.state == self.h.state


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
    )
    def start(
        self,
        type_id: int,
        typology: int,
        mode: int,
        command_state: int,
        consigne: bool,
        min_switch: float,
        with_details: bool,
    ) -> None:
        self._setup(type_id, typology, mode, command_state, consigne, min_switch, with_details)


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
        self._setup(type_id, typology, mode, command_state, False, 0.0, with_details)


# The state machines need more examples than the default profile gives plain properties to reach
# their rare corners (a repeat after a failed press, a mode change between two presses).
EXAMPLES = settings(settings.default, max_examples=max(settings.default.max_examples, 300))
TestSwitchOutputs = SwitchOutputs.TestCase
TestSwitchOutputs.settings = EXAMPLES
TestFingers = Fingers.TestCase
TestFingers.settings = EXAMPLES
