"""The pure load model: cycle and energy arithmetic, with hypothesis for the invariants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.appliance import Appliance

# A schedule: (seconds until the next change, relay closed after it).
steps = st.lists(
    st.tuples(st.floats(0.0, 5000.0, allow_nan=False), st.booleans()), min_size=1, max_size=40
)


def run(appliance: Appliance, schedule: list[tuple[float, bool]], t0: float = 1000.0) -> float:
    """Play the schedule; return the total powered time."""
    t, powered, powered_s = t0, False, 0.0
    appliance.set_powered(False, t)
    for dt, on in schedule:
        if powered:
            powered_s += dt
        t += dt
        appliance.set_powered(on, t)
        powered = on
    return powered_s


def test_triggered_cycle_then_idle() -> None:
    a = Appliance("triggered", cycle_power_w=2000.0, cycle_s=3600.0, idle_power_w=1.5)
    a.set_powered(True, 0.0)
    assert a.power_w(0.0) == 2000.0
    assert a.power_w(3599.0) == 2000.0
    assert a.power_w(3600.0) == 1.5
    assert not a.ready
    assert a.cycles_completed == 1
    assert a.energy_wh(7200.0) == pytest.approx(2000.0 + 1.5)


def test_triggered_pauses_when_power_is_cut_and_resumes() -> None:
    a = Appliance("triggered", cycle_power_w=1000.0, cycle_s=100.0, idle_power_w=0.0)
    a.set_powered(True, 0.0)
    a.set_powered(False, 40.0)  # 40 s done
    assert a.power_w(500.0) == 0.0
    assert a.cycle_remaining_s(500.0) == pytest.approx(60.0)
    a.set_powered(True, 1000.0)
    assert a.power_w(1059.0) == 1000.0
    assert a.power_w(1060.0) == 0.0  # finished after exactly 100 s of powered time
    assert a.energy_wh(2000.0) == pytest.approx(1000.0 * 100.0 / 3600.0)


def test_triggered_not_ready_only_idles_and_a_new_start_runs_again() -> None:
    a = Appliance("triggered", cycle_power_w=1000.0, cycle_s=10.0, idle_power_w=2.0, ready=False)
    a.set_powered(True, 0.0)
    assert a.power_w(5.0) == 2.0
    a.set_ready(True, 5.0)
    assert a.running(5.0)
    assert a.power_w(14.9) == 1000.0
    assert a.power_w(15.0) == 2.0
    assert a.cycles_completed == 1


def test_cancelling_a_cycle_restarts_it_from_the_beginning() -> None:
    a = Appliance("triggered", cycle_power_w=100.0, cycle_s=10.0, idle_power_w=0.0)
    a.set_powered(True, 0.0)
    a.set_ready(False, 4.0)
    a.set_ready(True, 4.0)
    assert a.cycle_remaining_s(4.0) == pytest.approx(10.0)


def test_continuous_with_thermostat() -> None:
    a = Appliance("continuous", rated_power_w=2400.0, full_after_s=3600.0)
    a.set_powered(True, 0.0)
    assert a.power_w(1800.0) == 2400.0
    a.set_powered(False, 1800.0)
    a.set_powered(True, 5000.0)
    assert a.power_w(6799.0) == 2400.0
    assert a.power_w(6800.0) == 0.0  # tank full after 3600 s of heating
    assert a.energy_wh(9000.0) == pytest.approx(2400.0)
    a.refill(9000.0)
    assert a.power_w(9000.0) == 2400.0


def test_continuous_without_thermostat_and_none() -> None:
    heater = Appliance("continuous", rated_power_w=1000.0)
    heater.set_powered(True, 0.0)
    assert heater.energy_wh(7200.0) == pytest.approx(2000.0)
    nothing = Appliance("none")
    nothing.set_powered(True, 0.0)
    assert nothing.power_w(10.0) == 0.0
    assert nothing.energy_wh(1e6) == 0.0


def test_time_never_runs_backwards() -> None:
    a = Appliance("continuous", rated_power_w=3600.0)
    a.set_powered(True, 100.0)
    assert a.energy_wh(200.0) == pytest.approx(100.0)
    assert a.energy_wh(150.0) == pytest.approx(100.0)  # an earlier instant changes nothing


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "fridge"},
        {"kind": "triggered", "cycle_s": 0.0},
        {"kind": "triggered", "cycle_power_w": -1.0},
        {"kind": "continuous", "full_after_s": 0.0},
    ],
)
def test_rejects_bad_parameters(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Appliance(**kwargs)  # type: ignore[arg-type]


@given(
    schedule=steps,
    kind=st.sampled_from(["triggered", "continuous", "none"]),
    queries=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=10),
)
def test_energy_never_decreases(
    schedule: list[tuple[float, bool]], kind: str, queries: list[float]
) -> None:
    a = Appliance(kind, cycle_s=1800.0, full_after_s=2000.0)  # type: ignore[arg-type]
    t, last = 0.0, 0.0
    a.set_powered(False, t)
    total = sum(dt for dt, _ in schedule) or 1.0
    marks = sorted(q * total for q in queries)
    for dt, on in schedule:
        for mark in marks:
            if t <= mark < t + dt:
                energy = a.energy_wh(mark)
                assert energy >= last
                last = energy
        t += dt
        a.set_powered(on, t)
        assert a.energy_wh(t) >= last
        last = a.energy_wh(t)
        assert a.power_w(t) in {0.0, a.idle_power_w, a.cycle_power_w, a.rated_power_w}


@given(schedule=steps, cycle_s=st.floats(1.0, 20000.0))
def test_triggered_cycle_draws_for_exactly_cycle_s_of_powered_time(
    schedule: list[tuple[float, bool]], cycle_s: float
) -> None:
    # 3600 W and no idle draw: the energy in Wh is the running time in seconds.
    a = Appliance("triggered", cycle_power_w=3600.0, cycle_s=cycle_s, idle_power_w=0.0)
    powered_s = run(a, schedule)
    t_end = 1000.0 + sum(dt for dt, _ in schedule)
    running_s = a.energy_wh(t_end)
    assert running_s == pytest.approx(min(powered_s, cycle_s), rel=1e-9, abs=1e-6)
    if powered_s > cycle_s + 1e-6:
        assert not a.ready
        assert a.cycles_completed == 1
    if powered_s < cycle_s - 1e-6:
        assert a.ready
        assert a.cycle_remaining_s(t_end) == pytest.approx(cycle_s - powered_s, abs=1e-6)


@given(
    schedule=steps,
    cycle_power=st.floats(0.0, 3000.0),
    idle=st.floats(0.0, 10.0),
    cycle_s=st.floats(1.0, 20000.0),
)
def test_triggered_energy_is_cycle_plus_idle(
    schedule: list[tuple[float, bool]], cycle_power: float, idle: float, cycle_s: float
) -> None:
    a = Appliance("triggered", cycle_power_w=cycle_power, cycle_s=cycle_s, idle_power_w=idle)
    powered_s = run(a, schedule)
    t_end = 1000.0 + sum(dt for dt, _ in schedule)
    running = min(powered_s, cycle_s)
    expected_wh = (cycle_power * running + idle * (powered_s - running)) / 3600.0
    assert a.energy_wh(t_end) == pytest.approx(expected_wh, rel=1e-9, abs=1e-6)


@given(schedule=steps, full_after=st.one_of(st.none(), st.floats(1.0, 20000.0)))
def test_continuous_energy(schedule: list[tuple[float, bool]], full_after: float | None) -> None:
    a = Appliance("continuous", rated_power_w=3600.0, full_after_s=full_after)
    powered_s = run(a, schedule)
    t_end = 1000.0 + sum(dt for dt, _ in schedule)
    heating = powered_s if full_after is None else min(powered_s, full_after)
    assert a.energy_wh(t_end) == pytest.approx(heating, rel=1e-9, abs=1e-6)


# -- pressable machines (typologies 130, 150, 160) -------------------------------------------


def machine(**kwargs: object) -> Appliance:
    params: dict[str, object] = {
        "cycle_power_w": 1000.0,
        "cycle_s": 100.0,
        "idle_power_w": 2.0,
        "standby_power_w": 0.5,
    }
    params.update(kwargs)
    a = Appliance("pressable", **params)  # type: ignore[arg-type]
    a.set_powered(True, 0.0)
    return a


def test_pressable_waits_for_start_then_pauses_and_resumes() -> None:
    a = machine()
    assert a.phase(0.0) == "idle"
    assert a.power_w(10.0) == 2.0  # loaded, mains on, nobody pressed start
    assert a.press(10.0)
    assert a.phase(10.0) == "running"
    assert a.power_w(40.0) == 1000.0
    assert a.press(40.0)  # a second press pauses, like a washing machine
    assert a.phase(40.0) == "paused"
    assert a.power_w(500.0) == 2.0
    assert a.cycle_remaining_s(500.0) == pytest.approx(70.0)
    assert a.press(500.0)  # and a third resumes
    assert a.running(569.0)
    assert a.phase(570.0) == "idle"
    assert not a.ready
    assert a.cycles_completed == 1
    expected = (2.0 * 10 + 1000.0 * 30 + 2.0 * 460 + 1000.0 * 70 + 2.0 * 430) / 3600.0
    assert a.energy_wh(1000.0) == pytest.approx(expected)
    assert not a.press(1000.0)  # not loaded again: the press does nothing


def test_pressable_needs_mains_and_resumes_after_an_outage() -> None:
    a = machine()
    a.set_powered(False, 5.0)
    assert not a.press(6.0)  # no mains, no display
    assert a.phase(6.0) == "off"
    a.set_powered(True, 7.0)
    a.press(7.0)
    a.set_powered(False, 27.0)  # 20 s done, programme memory
    a.set_powered(True, 100.0)
    assert a.running(100.0)
    assert a.cycle_remaining_s(100.0) == pytest.approx(80.0)


def test_pressable_without_programme_memory_needs_a_new_start() -> None:
    a = machine(resume_after_outage=False)
    a.press(0.0)
    a.set_powered(False, 20.0)
    a.set_powered(True, 30.0)
    assert a.phase(30.0) == "idle"
    assert a.cycle_remaining_s(30.0) == pytest.approx(100.0)
    assert a.ready


def test_power_and_start_buttons_typology_150() -> None:
    a = machine(buttons="power_and_start")
    assert a.phase(0.0) == "standby"
    assert a.power_w(1.0) == 0.5
    assert not a.press(1.0)  # start does nothing in standby
    assert a.press(2.0, "power")
    assert a.phase(2.0) == "idle"
    assert a.press(7.0)  # the second finger, 5 s later
    assert a.running(8.0)
    assert a.press(50.0, "power")  # switching off cancels the programme
    assert a.phase(50.0) == "standby"
    assert a.ready
    assert a.cycle_remaining_s(50.0) == pytest.approx(100.0)


def test_start_wakes_typology_160() -> None:
    a = machine(buttons="start_wakes")
    assert a.phase(0.0) == "standby"
    assert a.press(1.0)  # wakes the machine up
    assert a.phase(1.0) == "idle"
    assert a.press(6.0)  # the second press, 5 s later, starts it
    assert a.running(6.0)
    assert not a.press(7.0, "power")  # no power button on this machine


def test_press_on_other_kinds_does_nothing_and_bad_buttons_are_rejected() -> None:
    plain = Appliance("triggered", ready=False)
    plain.set_powered(True, 0.0)
    assert not plain.press(1.0)
    assert not plain.ready
    with pytest.raises(ValueError):
        machine().press(1.0, "stop")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Appliance("pressable", buttons="dial")  # type: ignore[arg-type]


@given(
    events=st.lists(
        st.tuples(
            st.floats(0.0, 300.0, allow_nan=False),
            st.sampled_from(["start", "power", "mains_on", "mains_off"]),
        ),
        max_size=40,
    ),
    buttons=st.sampled_from(["start", "power_and_start", "start_wakes"]),
    resume=st.booleans(),
    cycle=st.floats(0.0, 3000.0),
    idle=st.floats(0.0, 10.0),
    standby=st.floats(0.0, 2.0),
)
def test_pressable_energy_is_cycle_plus_idle_plus_standby(
    events: list[tuple[float, str]],
    buttons: str,
    resume: bool,
    cycle: float,
    idle: float,
    standby: float,
) -> None:
    """Whatever the presses, pauses and outages: the cycle draws for at most ``cycle_s`` of
    running time in all (pauses do not count), and every other powered second is idle or
    standby."""
    a = Appliance(
        "pressable",
        cycle_power_w=cycle,
        cycle_s=120.0,
        idle_power_w=idle,
        standby_power_w=standby,
        buttons=buttons,  # type: ignore[arg-type]
        resume_after_outage=resume,
    )
    t = 0.0
    a.set_powered(True, t)
    run_total = 0.0
    expected_ws = 0.0
    for dt, action in events:
        phase = a.phase(t)
        if phase == "running":
            run = min(dt, 120.0 - run_total)
            run_total += run
            expected_ws += cycle * run + idle * (dt - run)
        elif phase in ("idle", "paused"):
            expected_ws += idle * dt
        elif phase == "standby":
            expected_ws += standby * dt
        t += dt
        before = a.phase(t)
        switched_off = (
            action == "power" and buttons == "power_and_start" and before not in ("standby", "off")
        )
        outage = action == "mains_off" and not resume and before != "off"
        if (switched_off or outage) and a.cycles_completed == 0:
            run_total = 0.0  # a cancelled cycle starts over
        if action in ("start", "power"):
            a.press(t, action)  # type: ignore[arg-type]
        else:
            a.set_powered(action == "mains_on", t)
        assert a.cycles_completed <= 1
    assert a.energy_wh(t) == pytest.approx(expected_ws / 3600.0, rel=1e-9, abs=1e-6)
    assert run_total <= 120.0 + 1e-9
