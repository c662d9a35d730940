"""Properties of spec typologies.md §8 for typologies 120 and 190, over arbitrary interleavings of
EMS decisions, mode requests, device reports, acknowledgements, timer firings and restarts."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from protocol import typologies
from protocol.ids import (
    VALID_COMMAND_STATES,
    VALID_CONTROL_STATES,
    VALID_MODES,
    Kind,
    Mode,
)
from protocol.messages import (
    DeviceReport,
    EmsDecision,
    ForceStart,
    Message,
    ModeRequested,
    Reassert,
    RowChanged,
    SendCommand,
    TimerFired,
    WriteObserved,
    WriteState,
)
from tests.harness import Harness, equipment_row, make_spec

DRIVEN_MODES = (Mode.MANUEL, Mode.PILOTE)


class CheckedHarness(Harness):
    """Observed state may only follow a report, or the silence measured by a staleness timer."""

    def feed(self, event: Message) -> list[Message]:
        effects = super().feed(event)
        if any(isinstance(e, WriteObserved) for e in effects):
            stale = isinstance(event, TimerFired) and event.token.startswith("stale:")
            assert isinstance(event, DeviceReport) or stale, f"etat_controle written on {event}"
        return effects


class SwitchableMachine(RuleBasedStateMachine):
    """One equipment on a plug; the test plays the EMS, the household, the device and the clock."""

    def __init__(self) -> None:
        super().__init__()
        self.h: Harness | None = None
        self.log: list[tuple[str, float, object]] = []  # for the determinism replay
        self.last_change: float | None = None
        self.last_action: str | None = None
        self.release_changes = 0
        self.starts_in_arming = 0
        self.forced = False  # an operator force start overrides the plan until the next decision

    # --- set-up ------------------------------------------------------------------------------

    @initialize(
        type_id=st.sampled_from([112, 131]),
        typology=st.sampled_from([120, 190]),
        mode=st.sampled_from([1, 10, 20, 30, 70]),
        command_state=st.sampled_from([1, 11, 12, 13, 21, 30, 99]),
        consigne=st.booleans(),
        min_switch=st.sampled_from([0.0, 60.0]),
    )
    def start(
        self,
        type_id: int,
        typology: int,
        mode: int,
        command_state: int,
        consigne: bool,
        min_switch: float,
    ) -> None:
        row = equipment_row(
            type_id=type_id,
            typology=typology,
            mode=mode,
            command_state=command_state,
            consigne=consigne,
        )
        self.min_switch = min_switch
        self.first_row = row
        self.h = CheckedHarness(make_spec(row, min_switch_s=min_switch), row)
        self._run("start", None)

    # --- rules -------------------------------------------------------------------------------

    @rule(on=st.booleans(), at_boundary=st.booleans())
    def ems_decision(self, on: bool, at_boundary: bool) -> None:
        h = self._h()
        if at_boundary:
            self._run("advance", 900 - h.now % 900)
        self.forced = False
        self._run("feed", EmsDecision(1, on, int(h.now // 900 * 900), 1, h.now))

    @rule(
        mode=st.sampled_from([1, 10, 20, 30, 70]),
        source=st.sampled_from(["screen", "viriya", "operator", "database"]),
    )
    def mode_requested(self, mode: int, source: str) -> None:
        h = self._h()
        if source == "database":
            self._run("feed", RowChanged(equipment_row(mode=mode), h.now))
        else:
            self._run("feed", ModeRequested(1, mode, source, h.now))

    @rule(
        relay=st.none() | st.booleans(),
        power=st.none() | st.sampled_from([0.0, 3.0, 15.0, 2000.0]),
        online=st.none() | st.booleans(),
        retained=st.booleans(),
    )
    def device_report(
        self, relay: bool | None, power: float | None, online: bool | None, retained: bool
    ) -> None:
        h = self._h()
        self._run(
            "feed",
            DeviceReport("A101", h.now, retained, relay_on=relay, power_w=power, online=online),
        )

    @rule(power=st.sampled_from([0.0, 1500.0]))
    def device_obeys(self, power: float) -> None:
        h = self._h()
        command = h.last_command
        if command is not None:
            self._run("feed", DeviceReport("A101", h.now, relay_on=command.action == "ON"))
            self._run("feed", DeviceReport("A101", h.now, power_w=power))

    @rule(seconds=st.sampled_from([0.5, 4.0, 11.0, 30.0, 61.0, 200.0, 900.0]))
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
        self.forced = True
        self._run("feed", ForceStart(1, "operator", self._h().now))

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def written_states_are_valid_database_ids(self) -> None:
        for effect in self._h().effects:
            if isinstance(effect, WriteState):
                assert effect.command_state is None or effect.command_state in VALID_COMMAND_STATES
                assert effect.mode is None or effect.mode in VALID_MODES
            elif isinstance(effect, WriteObserved):
                assert effect.control_state in VALID_CONTROL_STATES

    @precondition(lambda self: self.h is not None and self.h.state is not None)
    @invariant()
    def continuous_piloted_output_follows_the_decision(self) -> None:
        state = self._h().state
        assert state is not None
        piloted = state.spec.kind == Kind.CONTINUOUS and state.mode == Mode.PILOTE
        if piloted and state.ems_on is not None and not self.forced:
            assert state.desired_on == state.ems_on

    @invariant()
    def at_most_one_start_per_arming(self) -> None:
        assert self.starts_in_arming <= 1

    # --- plumbing ----------------------------------------------------------------------------

    def _h(self) -> Harness:
        assert self.h is not None
        return self.h

    def _run(self, kind: str, argument: object) -> None:
        h = self._h()
        before_effects = len(h.effects)
        before_commands = len(h.commands)
        mode_before = h.state.mode if h.state else None
        self.log.append((kind, h.now, argument))
        if kind == "start":
            h.start()
            self._new_lifetime()
        elif kind == "restart":
            h.restart()
            self._new_lifetime()
        elif kind == "advance":
            h.advance(float(argument))  # type: ignore[arg-type]
        else:
            assert isinstance(argument, Message)
            h.feed(argument)
        self._check_new_effects(h, before_effects, before_commands, argument, mode_before)

    def _new_lifetime(self) -> None:
        """A restarted actor knows nothing of the previous one's switch times."""
        self.last_change = None
        self.last_action = None
        self.release_changes = 0
        self.starts_in_arming = 0

    def _check_new_effects(
        self,
        h: Harness,
        first_effect: int,
        first_command: int,
        cause: object,
        mode_before: int | None,
    ) -> None:
        state = h.state
        assert state is not None
        new_effects = h.effects[first_effect:]
        if state.mode == Mode.PILOTE and mode_before != Mode.PILOTE:
            self.starts_in_arming = 0  # a new arming
        if state.mode in DRIVEN_MODES:
            self.release_changes = 0  # the next entry into 70 may release once more
        for effect in new_effects:
            if isinstance(effect, WriteState) and effect.mode == Mode.MANUEL and effect.started_at:
                self.starts_in_arming += 1
        for at, command in h.commands[first_command:]:
            self._check_command(
                state.mode, at, command, state.output.inverted if state.output else False
            )

    def _check_command(self, mode: int, at: float, command: SendCommand, inverted: bool) -> None:
        if mode not in DRIVEN_MODES:
            powers_on = (command.action == "ON") != inverted
            assert powers_on, f"{command} in mode {mode}: only the release ON is allowed"
            if command.action != self.last_action:
                self.release_changes += 1
            assert self.release_changes <= 1
        if self.last_action is not None and command.action != self.last_action and self.min_switch:
            assert self.last_change is not None
            assert at - self.last_change >= self.min_switch - 1e-9, (
                "two changes within min_switch_s"
            )
        if command.action != self.last_action:
            self.last_change = at
            self.last_action = command.action

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


TestSwitchable = SwitchableMachine.TestCase


def test_machine_dispatch_is_total() -> None:
    """Every event type reaches the machine without error, whatever the state."""
    h = Harness(make_spec(equipment_row()), equipment_row()).start()
    for event in (
        EmsDecision(1, True, 0, 1, h.now),
        Reassert("x", h.now),
        TimerFired("unknown", h.now),
    ):
        state, _ = typologies.step(h.state, event, h.now)  # type: ignore[arg-type]
        assert state is not None
