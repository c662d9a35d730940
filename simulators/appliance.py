"""Pure load model of the appliance plugged behind a simulated smart plug.

No I/O and no clock reads: every method takes the current time ``now`` (seconds, any
origin, e.g. ``time.time()``) as an argument, so the arithmetic is exactly testable.

Four kinds:

``"triggered"``
    A washing machine or dishwasher. When it is powered *and* ``ready`` (the household loaded
    it and pressed start), it runs one cycle drawing ``cycle_power_w`` for ``cycle_s`` seconds
    of *powered* time, then falls back to ``idle_power_w`` (standby electronics) and is no
    longer ready. If the power is cut mid-cycle the cycle pauses and resumes where it stopped
    when the power comes back, like machines with a program memory. Setting ``ready`` to
    False mid-cycle cancels the cycle.
``"continuous"``
    A hot-water tank or a heater: draws ``rated_power_w`` whenever powered. With
    ``full_after_s`` set, a thermostat opens once the tank has heated for that long (powered
    time, cumulated) and the draw falls to ``idle_power_w`` (0 W by default) until
    :meth:`Appliance.refill` says hot water was used.
``"none"``
    Nothing plugged in: always 0 W.
``"pressable"``
    A machine started with its buttons, by the household or by a robot finger (SwitchBot
    bot, typologies 130/150/160). ``ready`` means loaded (door closed, programme chosen): the
    cycle begins only when the start button is pressed (:meth:`Appliance.press`) while the
    machine is powered, switched on and ready. A press while running pauses the cycle (the
    machine draws ``idle_power_w``), a press while paused resumes it; a completed cycle leaves
    the machine idle and no longer ready. ``buttons`` says how the machine is switched on:

    * ``"start"``: always on (typology 130: one finger presses start);
    * ``"power_and_start"``: a separate power button toggles standby / on, start does nothing
      in standby, power off cancels the cycle (typology 150: one finger presses power, another
      presses start);
    * ``"start_wakes"``: in standby the first start press only switches the machine on, the
      second one starts it (typology 160: one finger pressed twice).

    In standby the machine draws ``standby_power_w``. When the mains is cut mid-cycle the cycle
    pauses and resumes with the power (``resume_after_outage``, the default, like machines
    with a programme memory); otherwise the machine comes back idle (or in standby) and needs a
    new start press.

Time never runs backwards in the model: an earlier ``now`` than the latest one seen is
treated as that latest instant.
"""

from __future__ import annotations

from typing import Literal, get_args

ApplianceKind = Literal["triggered", "continuous", "none", "pressable"]
APPLIANCE_KINDS: tuple[str, ...] = get_args(ApplianceKind)
Buttons = Literal["start", "power_and_start", "start_wakes"]
BUTTONS: tuple[str, ...] = get_args(Buttons)
Button = Literal["start", "power"]
Phase = Literal["off", "standby", "idle", "running", "paused"]

_WS_PER_WH = 3600.0


class Appliance:
    """A piecewise-constant load; see the module docstring for the four kinds."""

    def __init__(
        self,
        kind: ApplianceKind,
        *,
        cycle_power_w: float = 2000.0,
        cycle_s: float = 5400.0,
        idle_power_w: float | None = None,
        rated_power_w: float = 2000.0,
        full_after_s: float | None = None,
        ready: bool = True,
        buttons: Buttons = "start",
        standby_power_w: float = 0.3,
        resume_after_outage: bool = True,
    ) -> None:
        if kind not in APPLIANCE_KINDS:
            raise ValueError(f"unknown appliance kind {kind!r}; expected one of {APPLIANCE_KINDS}")
        if buttons not in BUTTONS:
            raise ValueError(f"unknown buttons {buttons!r}; expected one of {BUTTONS}")
        if idle_power_w is None:
            idle_power_w = 1.5 if kind in ("triggered", "pressable") else 0.0
        for name, value in (
            ("cycle_power_w", cycle_power_w),
            ("idle_power_w", idle_power_w),
            ("rated_power_w", rated_power_w),
            ("standby_power_w", standby_power_w),
        ):
            if not value >= 0.0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        if not cycle_s > 0.0:
            raise ValueError(f"cycle_s must be > 0, got {cycle_s!r}")
        if full_after_s is not None and not full_after_s > 0.0:
            raise ValueError(f"full_after_s must be > 0 or None, got {full_after_s!r}")
        self.kind: ApplianceKind = kind
        self.cycle_power_w = float(cycle_power_w)
        self.cycle_s = float(cycle_s)
        self.idle_power_w = float(idle_power_w)
        self.rated_power_w = float(rated_power_w)
        self.full_after_s = None if full_after_s is None else float(full_after_s)
        self.buttons: Buttons = buttons
        self.standby_power_w = float(standby_power_w)
        self.resume_after_outage = resume_after_outage
        self._ready = ready
        self._switched_on = buttons == "start"  # pressable: on, or in standby
        self._running = False  # pressable: the start button started the cycle ...
        self._paused = False  # ... and a second press paused it
        self._powered = False
        self._t: float | None = None  # latest instant the model was advanced to
        self._energy_ws = 0.0
        self._cycle_progress_s = 0.0  # triggered: powered running time of the current cycle
        self._heated_s = 0.0  # continuous: powered heating time since the last refill
        self.cycles_completed = 0

    # -- inputs ---------------------------------------------------------------------------

    def set_powered(self, on: bool, now: float) -> None:
        """The relay in front of the appliance closes (``on``) or opens at ``now``."""
        self._advance(now)
        if self.kind == "pressable" and self._powered and not on and not self.resume_after_outage:
            self._stop_cycle()
            self._switched_on = self.buttons == "start"
        self._powered = on

    def press(self, now: float, button: Button = "start") -> bool:
        """Pressable kind: someone presses ``button`` at ``now``; True if the press did something.

        Nothing happens without mains power, nor on the other kinds.
        """
        if button not in ("start", "power"):
            raise ValueError(f"unknown button {button!r}; expected 'start' or 'power'")
        self._advance(now)
        if self.kind != "pressable" or not self._powered:
            return False
        if button == "power":
            if self.buttons != "power_and_start":
                return False
            if self._switched_on:
                self._stop_cycle()  # switching off cancels the programme
            self._switched_on = not self._switched_on
            return True
        if not self._switched_on:
            if self.buttons != "start_wakes":
                return False
            self._switched_on = True
            return True
        if self._running:
            self._paused = not self._paused
            return True
        if not self._ready:
            return False  # nothing loaded: the machine beeps
        self._running, self._paused = True, False
        return True

    def phase(self, now: float) -> Phase:
        """Pressable kind: ``off`` (no mains), ``standby``, ``idle``, ``running`` or ``paused``."""
        self._advance(now)
        if not self._powered:
            return "off"
        if not self._switched_on:
            return "standby"
        if not self._running:
            return "idle"
        return "paused" if self._paused else "running"

    @property
    def powered(self) -> bool:
        return self._powered

    @property
    def ready(self) -> bool:
        """Triggered kind: the household prepared the machine and pressed start. Pressable
        kind: the machine is loaded (it still waits for its start button).

        Assigning the property takes effect at the latest instant the model was advanced to;
        use :meth:`set_ready` to give the time explicitly.
        """
        return self._ready

    @ready.setter
    def ready(self, value: bool) -> None:
        if not value:
            self._stop_cycle()  # a cancelled cycle starts over next time
        self._ready = value

    def set_ready(self, ready: bool, now: float) -> None:
        self._advance(now)
        self.ready = ready

    def refill(self, now: float) -> None:
        """Continuous kind: hot water was drawn, the thermostat calls for heat again."""
        self._advance(now)
        self._heated_s = 0.0

    # -- outputs --------------------------------------------------------------------------

    def power_w(self, now: float) -> float:
        """Instantaneous draw at ``now`` (W)."""
        self._advance(now)
        return self._current_power()

    def energy_wh(self, now: float) -> float:
        """Energy drawn since the model was created, integrated up to ``now`` (Wh)."""
        self._advance(now)
        return self._energy_ws / _WS_PER_WH

    def running(self, now: float) -> bool:
        """Triggered and pressable kinds: a cycle is drawing ``cycle_power_w`` right now."""
        self._advance(now)
        if self.kind == "pressable":
            return self._powered and self._cycle_drawing()
        return self.kind == "triggered" and self._powered and self._ready

    def cycle_remaining_s(self, now: float) -> float:
        """Triggered and pressable kinds: running time left in the current cycle (``cycle_s``
        when not begun, 0 when not ready)."""
        self._advance(now)
        return self.cycle_s - self._cycle_progress_s if self._ready else 0.0

    # -- model ----------------------------------------------------------------------------

    def _stop_cycle(self) -> None:
        self._cycle_progress_s = 0.0
        self._running = self._paused = False

    def _cycle_drawing(self) -> bool:
        """Pressable kind, mains aside: switched on, started and not paused."""
        return self._switched_on and self._running and not self._paused

    def _current_power(self) -> float:
        if not self._powered or self.kind == "none":
            return 0.0
        if self.kind == "triggered":
            return self.cycle_power_w if self._ready else self.idle_power_w
        if self.kind == "pressable":
            if not self._switched_on:
                return self.standby_power_w
            return self.cycle_power_w if self._cycle_drawing() else self.idle_power_w
        if self.full_after_s is not None and self._heated_s >= self.full_after_s:
            return self.idle_power_w
        return self.rated_power_w

    def _advance(self, now: float) -> None:
        if self._t is None:
            self._t = now
            return
        dt = now - self._t
        if dt <= 0.0:
            return
        self._t = now
        if not self._powered or self.kind == "none":
            return
        if self.kind == "triggered":
            self._advance_triggered(dt)
        elif self.kind == "pressable":
            self._advance_pressable(dt)
        else:
            self._advance_continuous(dt)

    def _advance_triggered(self, dt: float) -> None:
        if not self._ready:
            self._energy_ws += self.idle_power_w * dt
            return
        remaining = self.cycle_s - self._cycle_progress_s
        if dt < remaining:
            self._cycle_progress_s += dt
            self._energy_ws += self.cycle_power_w * dt
            return
        # The cycle ends inside this interval: exactly `remaining` seconds at full power.
        self._energy_ws += self.cycle_power_w * remaining + self.idle_power_w * (dt - remaining)
        self._cycle_progress_s = 0.0
        self._ready = False
        self.cycles_completed += 1

    def _advance_pressable(self, dt: float) -> None:
        if not self._switched_on:
            self._energy_ws += self.standby_power_w * dt
            return
        if not self._cycle_drawing():
            self._energy_ws += self.idle_power_w * dt
            return
        remaining = self.cycle_s - self._cycle_progress_s
        if dt < remaining:
            self._cycle_progress_s += dt
            self._energy_ws += self.cycle_power_w * dt
            return
        self._energy_ws += self.cycle_power_w * remaining + self.idle_power_w * (dt - remaining)
        self._stop_cycle()
        self._ready = False
        self.cycles_completed += 1

    def _advance_continuous(self, dt: float) -> None:
        if self.full_after_s is None:
            self._energy_ws += self.rated_power_w * dt
            return
        remaining = max(0.0, self.full_after_s - self._heated_s)
        if dt < remaining:
            self._heated_s += dt
            self._energy_ws += self.rated_power_w * dt
            return
        self._heated_s = self.full_after_s  # exactly full, whatever the rounding
        self._energy_ws += self.rated_power_w * remaining + self.idle_power_w * (dt - remaining)

    def __repr__(self) -> str:
        return (
            f"Appliance(kind={self.kind!r}, powered={self._powered}, ready={self._ready}, "
            f"energy_wh={self._energy_ws / _WS_PER_WH:.3f})"
        )
