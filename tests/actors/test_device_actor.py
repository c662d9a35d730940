"""The DeviceActor on simpleSystemBase: it routes effects to the gateways and decides nothing."""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from thespian.actors import ActorSystem, ActorTypeDispatcher

from actors.device import DeviceActor
from protocol import messages as m
from protocol.ems import stagger_offset
from protocol.ids import CommandState, ControlState, Mode
from tests.harness import equipment_row, make_spec


class Recorder(ActorTypeDispatcher):
    """Stands for every gateway: keeps what it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Any] = []

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if message == "received?":
            self.send(sender, list(self.received))
        elif isinstance(message, m.Message):
            self.received.append(message)


@pytest.fixture
def system() -> Iterator[ActorSystem]:
    asys = ActorSystem("simpleSystemBase")
    yield asys
    asys.shutdown()


def start_device(asys: ActorSystem, early: list[m.Message] | None = None) -> tuple[Any, Any]:
    gateway = asys.createActor(Recorder)
    device = asys.createActor(DeviceActor)
    for message in early or []:
        asys.tell(device, message)
    row = equipment_row(type_id=131)  # a hot-water tank on a Shelly plug, piloted, waiting
    gateways = m.Gateways(
        supervisor=gateway, mqtt=gateway, db=gateway, clock=gateway, plans=gateway
    )
    ready = asys.ask(
        device, m.DeviceInit(make_spec(row, min_switch_s=0), row, gateways, time.time()), 2
    )
    assert ready == m.DeviceReady(1)
    return device, gateway


def received(asys: ActorSystem, gateway: Any) -> list[Any]:
    """What the gateways got, the writes of each step (`DbWrites`) one by one."""
    got = []
    for message in asys.ask(gateway, "received?", 2):
        got += message.writes if isinstance(message, m.DbWrites) else [message]
    return got


def test_startup_reasserts_through_the_codec_and_arms_timers(system: ActorSystem) -> None:
    _, gateway = start_device(system)
    got = received(system, gateway)
    publishes = [x for x in got if isinstance(x, m.Publish)]
    assert publishes == [m.Publish("shellies/shellyplug-s-A101/relay/0/command", b"off", 1, False)]
    # a tank held off: the max-off guard counts from the row's last switch-on or mode change
    assert {x.token for x in got if isinstance(x, m.SetTimer)} == {"ack", "stale:A101", "max-off"}


def test_events_that_arrive_before_init_are_applied_after_it(system: ActorSystem) -> None:
    now = time.time()
    early = [m.EmsDecision(1, True, int(now // 900 * 900), 5, now)]
    _, gateway = start_device(system, early)
    got = received(system, gateway)
    payloads = [x.payload for x in got if isinstance(x, m.Publish)]
    assert payloads == [b"off", b"on"]
    writes = [x for x in got if isinstance(x, m.WriteState)]
    assert writes[-1].command_state == CommandState.MANUEL_PILOTE_ON and writes[-1].consigne


def test_reports_become_observed_state_writes_and_introspection_shows_why(
    system: ActorSystem,
) -> None:
    device, gateway = start_device(system)
    now = time.time()
    system.tell(device, m.DeviceReports((m.DeviceReport("A101", now, relay_on=False),)))
    system.tell(device, m.EmsDecision(1, True, int(now // 900 * 900), 5, now))
    got = received(system, gateway)
    assert m.WriteObserved(1, ControlState.OFF, int(now)) in got
    reply = system.ask(device, m.Introspect(), 2)
    assert isinstance(reply, m.IntrospectReply)
    assert reply.data["state"]["command_state"] == CommandState.MANUEL_PILOTE_ON
    assert "EMS plan 5" in reply.data["events"][-1]["reason"]


def test_a_row_read_before_the_gateway_had_our_transition_does_not_undo_it(
    system: ActorSystem,
) -> None:
    """Seen on multiprocTCPBase: a reload read before the DbGateway received the actor's
    "manual" transition came back with the old mode, taken for a request from the database."""
    device, gateway = start_device(system)
    now = time.time()
    system.tell(device, m.ModeRequested(1, Mode.MANUEL, "screen", now))
    manual = [x for x in received(system, gateway) if isinstance(x, m.WriteState)][-1]
    assert manual.mode == Mode.MANUEL and manual.serial > 0
    piloted = equipment_row(type_id=131)  # the row as read before that write reached the database

    system.tell(device, m.RowChanged(piloted, now + 1, writes_seen=manual.serial - 1))
    got = received(system, gateway)
    assert "mode 30 requested by database" not in [x.reason for x in got if isinstance(x, m.Event)]
    assert [x.equipment for x in got if isinstance(x, m.LoadRow)] == [1]  # read again, after it
    system.tell(device, m.RowChanged(piloted, now + 1, writes_seen=None))  # tools: no serial
    reasons = [x.reason for x in received(system, gateway) if isinstance(x, m.Event)]
    assert reasons.count("mode 30 requested by database") == 1

    system.tell(device, m.ModeRequested(1, Mode.MANUEL, "screen", now + 2))
    last = [x for x in received(system, gateway) if isinstance(x, m.WriteState)][-1]
    system.tell(device, m.RowChanged(piloted, now + 3, writes_seen=last.serial))  # read after it
    reasons = [x.reason for x in received(system, gateway) if isinstance(x, m.Event)]
    assert reasons.count("mode 30 requested by database") == 2


def test_a_transition_the_gateway_never_received_stops_masking_rows_after_the_grace(
    system: ActorSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database is the truth once the transition is known lost (gateway restarted)."""
    monkeypatch.setattr("actors.device.STALE_ROW_GRACE_S", -1.0)
    device, gateway = start_device(system)
    now = time.time()
    system.tell(device, m.ModeRequested(1, Mode.MANUEL, "screen", now))
    system.tell(device, m.RowChanged(equipment_row(type_id=131), now + 1, writes_seen=0))
    reasons = [x.reason for x in received(system, gateway) if isinstance(x, m.Event)]
    assert reasons[-1] == "mode 30 requested by database"


def test_every_message_survives_pickling() -> None:
    """The multiproc bases pickle messages: a class that cannot travel fails only there."""
    row = equipment_row()
    spec = make_spec(row)
    samples: list[m.Message] = [
        m.DeviceInit(spec, row, m.Gateways(None, None, None, None, None), 1.0),
        m.DeviceReports(
            (
                m.DeviceReport(
                    "A101", 1.0, relay_on=True, power_w=3.5, reply=m.CommandReply("r1", True)
                ),
            )
        ),
        m.WriteState(1, 2, "why", command_state=12, consigne=True),
        m.Inventory((row,), (spec,)),
        m.RegisterRoutes(1, (m.Route("a/b", spec.devices[0], None),)),
        m.Start(msgspec.convert({"coordination": {"dsn": "x"}}, m.Config)),
    ]
    for sample in samples:
        assert pickle.loads(pickle.dumps(sample)) == sample


def test_a_staggered_tank_applies_the_ems_decision_at_its_offset(system: ActorSystem) -> None:
    """`stagger_s`: the decision waits on the clock for the equipment's offset; a newer decision
    replaces the held one; nothing goes out before the timer fires."""
    gateway = system.createActor(Recorder)
    device = system.createActor(DeviceActor)
    row = equipment_row(type_id=131)
    gateways = m.Gateways(gateway, gateway, gateway, gateway, gateway)
    now = time.time()
    spec = make_spec(row, min_switch_s=0, stagger_s=60.0)
    assert system.ask(device, m.DeviceInit(spec, row, gateways, now), 2) == m.DeviceReady(1)
    slot = int(now // 900 * 900)  # a decision of the current slot (an old one has expired)
    system.tell(device, m.EmsDecision(1, False, slot, 4, now + 1))
    system.tell(device, m.EmsDecision(1, True, slot, 5, now + 2))
    got = received(system, gateway)
    offset = stagger_offset(1, 60.0)
    armed = [x for x in got if isinstance(x, m.SetTimer) and x.token == "ems-stagger"]
    assert [x.at for x in armed] == [now + 1 + offset, now + 2 + offset]
    assert [x.payload for x in got if isinstance(x, m.Publish)] == [b"off"]  # the start-up one
    system.tell(device, m.TimerFired("ems-stagger", now + 2 + offset))
    got = received(system, gateway)
    assert [x.payload for x in got if isinstance(x, m.Publish)] == [b"off", b"on"]
    writes = [x for x in got if isinstance(x, m.WriteState)]
    assert writes[-1].at == int(now + 2 + offset) and "EMS plan 5" in writes[-1].reason


def test_without_stagger_the_decision_applies_at_once(system: ActorSystem) -> None:
    device, gateway = start_device(system)
    now = time.time()
    system.tell(device, m.EmsDecision(1, True, int(now // 900 * 900), 5, now))
    got = received(system, gateway)
    assert [x.payload for x in got if isinstance(x, m.Publish)] == [b"off", b"on"]
    assert not [x for x in got if isinstance(x, m.SetTimer) and x.token == "ems-stagger"]
