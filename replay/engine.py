"""The replay: the real actors on `simpleSystemBase`, on a virtual clock, fed a capture.

The supervisor starts at the capture's start with the recorded configuration and the snapshot's
rows. Then, in time order: each recorded line is fed at its time (MQTT messages through the
replay's broker to the MqttGateway, EMS rows and row changes into the database stand-in), each
Thespian wakeup fires at its virtual time, and the faults happen at theirs. Between two instants
nothing runs, so a day replays in seconds; the order of everything is fixed, so two runs write
the same bytes.
"""

from __future__ import annotations

import heapq
import importlib
import itertools
import tempfile
from collections.abc import Callable
from typing import Any

import msgspec
from thespian.actors import ActorSystem, WatchMessage

import actors.db_session
import actors.mqtt_gateway
import actors.mqtt_link
import actors.plan_reader
import actors.plan_session
from actors.supervisor import Supervisor
from protocol import capture, faults
from protocol.config import Config, config_from_mapping
from protocol.messages import Introspect, IntrospectReply, Start
from protocol.snapshot import Snapshot
from replay import output
from replay.broker import Broker, PahoModule
from replay.clock import VirtualClock, patched, time_replacements
from replay.standin import REPLACED, SnapshotDatabase
from simulators.virtual import VirtualHousehold as World

QUIET_POLL_S = 86400.0  # the gateway's socket polling on the bare simple base: reads are told


class ReplayError(Exception):
    """A replay that cannot run; the message says why."""


class PsycopgModule:
    """`psycopg` as the gateways see it: `connect` opens the stand-in."""

    def __init__(self, database: SnapshotDatabase) -> None:
        import psycopg

        self._psycopg = psycopg
        self.connect = database.connect

    def __getattr__(self, name: str) -> Any:
        return getattr(self._psycopg, name)


def replay_config(header: capture.Header, state_dir: str, override: Config | None) -> Config:
    """The recorded configuration, on the replay's state directory and simple base."""
    raw = msgspec.to_builtins(override, str_keys=True) if override else dict(header.config)
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    raw.setdefault("coordination", {})["dsn"] = "replay"
    raw.setdefault("mqtt", {}).setdefault("base_topic", header.base_topic)
    raw["supervisor"] = {
        **raw.get("supervisor", {}),
        "system_base": "simpleSystemBase",
        "state_dir": state_dir,
    }
    return config_from_mapping(raw, source="capture header", environ={})


def fast_wakeups(base: Any) -> None:
    """Thespian keeps its wakeups in a list it partitions through timer views on every message;
    on the virtual clock the deadlines are plain numbers: compare them directly (the same
    wakeups fire, in the same order, several times faster)."""

    def pop_expired(now: float) -> list[Any]:
        wakeups = base._wakeUps
        if not any(w[1]._time_to_quit <= now for w in wakeups):
            return []
        base._wakeUps = [w for w in wakeups if w[1]._time_to_quit > now]
        return [w for w in wakeups if w[1]._time_to_quit <= now]

    base._pop_expired_wakeups = pop_expired


class Replay:
    def __init__(
        self,
        recorded: capture.Capture,
        snapshot: Snapshot,
        fault_list: list[faults.Fault] | None = None,
        config: Config | None = None,
        world: World | None = None,
    ) -> None:
        if recorded.header is None:
            raise ReplayError("the capture has no valid header")
        self.header = recorded.header
        self.faults = fault_list or []
        self.lines = faults.apply(recorded.lines, self.faults)
        ends = [line.time for line in recorded.lines if isinstance(line, capture.End)]
        self.end = max(ends or [line.time for line in recorded.lines] or [self.header.started_at])
        self.clock = VirtualClock(self.header.started_at)
        self.out = output.Output(self.clock)
        self.database = SnapshotDatabase(snapshot, self.out.write)
        self.broker = Broker(self._published)
        self.world = world  # simulated devices answering (building a capture), or None
        self.fed: list[capture.Line] = []  # every line fed, in order (the capture of a world)
        self.agenda: list[tuple[float, int, Callable[[], None]]] = []
        self.sequence = itertools.count()
        self.override = config
        self.asys: Any = None
        self.supervisor: Any = None
        self.addresses: dict[type, Any] = {}
        self.replies: list[Any] = []
        self.problems: list[str] = []
        self.pace: Callable[[float], None] | None = None  # --speed N: waits for the wall clock

    # --- the run ----------------------------------------------------------------------------------

    def run(self, until: float | None = None, at_end: Callable[[Replay], Any] | None = None) -> Any:
        """Replay up to `until` (default: the capture's end); return `at_end(self)` if given."""
        with tempfile.TemporaryDirectory(prefix="elfe-replay-") as state_dir:
            config = replay_config(self.header, state_dir, self.override)
            with patched(self._replacements()):
                self.asys = ActorSystem("simpleSystemBase", logDefs=False, transientUnique=True)
                fast_wakeups(self._base())
                try:
                    self.supervisor = self.asys.createActor(Supervisor)
                    self._tell(self.supervisor, Start(config))
                    self._feed(self.end if until is None else until)
                    return at_end(self) if at_end is not None else None
                finally:
                    self.asys.shutdown()

    def _replacements(self) -> list[tuple[Any, str, Any]]:
        replacements = time_replacements(self.clock)
        for module, names in REPLACED.items():
            target = importlib.import_module(f"actors.{module}")
            replacements += [(target, name, getattr(self.database, name)) for name in names]
        psycopg = PsycopgModule(self.database)
        paho = PahoModule(self.broker)
        replacements += [
            (actors.db_session, "psycopg", psycopg),
            (actors.plan_session, "psycopg", psycopg),
            (actors.mqtt_link, "mqtt", paho),
            (actors.mqtt_link, "BufferedClient", paho.Client),  # the client the link creates
            (actors.mqtt_gateway, "POLL_S", QUIET_POLL_S),
        ]
        return replacements

    def schedule(self, at: float, action: Callable[[], None]) -> None:
        heapq.heappush(self.agenda, (at, next(self.sequence), action))

    def _feed(self, until: float) -> None:
        for line in self.lines:
            self.schedule(line.time, self._action(line))
        for fault in self.faults:
            for at, action in self._fault_actions(fault):
                self.schedule(at, action)
        if self.world is not None:
            self._start_world(self.world)
        while self.agenda and self.agenda[0][0] <= until:
            at = self.agenda[0][0]
            timer = self._next_timer()
            if timer is not None and timer <= at:  # a timer first: it may add to the agenda
                self._fire_timers(timer)
                continue
            _, _, action = heapq.heappop(self.agenda)
            self._advance(at)
            action()
            self._settle()
        while (timer := self._next_timer()) is not None and timer <= until:
            self._fire_timers(timer)
        self._advance(until)
        self._settle()

    def _inbound(self, message: tuple[str, bytes, int, bool]) -> None:
        line = capture.mqtt_line(self.clock.now, *message)
        self.fed.append(line)
        self.broker.inbound(line.topic, message[1], line.qos, line.retain)

    def _answer(self, messages: list[tuple[str, bytes, int, bool]], delay: float) -> None:
        for message in messages:
            self.schedule(self.clock.now + delay, lambda m=message: self._inbound(m))  # type: ignore[misc]

    def _published(
        self, topic: str, payload: bytes, qos: int, retain: bool, reason: str | None
    ) -> None:
        self.out.publish(topic, payload, qos, retain, reason)
        if self.world is not None and reason is None:
            heard = self.world.heard(topic, payload, self.clock.now)
            self._answer(heard, self.world.latency_s)

    def _start_world(self, world: World) -> None:
        self._answer(world.start(self.clock.now), world.latency_s)
        for moment, script in world.scripts:
            self.schedule(
                moment,
                lambda s=script: self._answer(world.run_script(s, self.clock.now), 0.0),  # type: ignore[misc]
            )

        def tick() -> None:
            self._answer(world.tick(self.clock.now), 0.0)
            self.schedule(max(world.next_due(), self.clock.now + 0.001), tick)

        self.schedule(world.next_due(), tick)

    def _advance(self, to: float) -> None:
        if self.pace is not None:
            self.pace(to)
        self.clock.advance(to)

    def _action(self, line: capture.Line) -> Callable[[], None]:
        if isinstance(line, capture.Mqtt):
            data = line.data()
            return lambda: self.broker.inbound(line.topic, data, line.qos, line.retain)
        if isinstance(line, capture.PlanRow):
            return lambda: self.database.add_plan(line)
        if isinstance(line, capture.RowChange):
            return lambda: self.database.apply(line)
        return lambda: None

    def _fault_actions(self, fault: faults.Fault) -> list[tuple[float, Callable[[], None]]]:
        if isinstance(fault, faults.Outage) and fault.target == "broker":
            return [(fault.start, self.broker.go_down), (fault.end, self.broker.come_back)]
        if isinstance(fault, faults.Outage):
            return [
                (fault.start, lambda: setattr(self.database, "down", True)),
                (fault.end, lambda: setattr(self.database, "down", False)),
            ]
        if isinstance(fault, faults.ClockJump):
            jump = fault.seconds
            return [(fault.at, lambda: setattr(self.clock, "offset", self.clock.offset + jump))]
        return []

    # --- driving the actor system -------------------------------------------------------------

    def _base(self) -> Any:
        return self.asys._systemBase

    def _next_timer(self) -> float | None:
        timer = self._base()._next_wakeup()
        return None if timer is None else float(timer._time_to_quit)

    def _fire_timers(self, at: float) -> None:
        """Fire the Thespian wakeups due at `at` (the earliest), at that virtual time."""
        self._advance(at)
        self._base()._realizeWakeups()
        self._settle()

    def _settle(self) -> None:
        """Run everything pending now: messages, then the gateway's reads, until quiet."""
        base = self._base()
        for _ in range(100000):
            base._realizeWakeups()
            base._runSends()
            client = self.broker.client
            if client is not None and client.pending():
                self._tell(self._actor(actors.mqtt_gateway.MqttGateway), WatchMessage([]))
            elif self.header.ems_notify and self.database.notifying():
                self._tell(self._actor(actors.plan_reader.PlanReader), WatchMessage([]))
            else:
                break
        self._collect_replies()

    def _tell(self, address: Any, message: Any) -> None:
        self.asys.tell(address, message)
        self._collect_replies()

    def _collect_replies(self) -> None:
        requester = self._base().actorRegistry["System:ExternalRequester"].instance
        responses = getattr(requester, "responses", None)
        while responses:
            reply = responses.pop(0)
            if isinstance(reply, str) and reply.startswith("fatal"):
                self.problems.append(reply)
            self.replies.append(reply)

    def _actor(self, kind: type) -> Any:
        """The address of the (single) actor of that class."""
        if kind not in self.addresses:
            for ref in list(self._base().actorRegistry.values()):
                if ref is not None and isinstance(ref.instance, kind):
                    self.addresses[kind] = ref.address
        return self.addresses.get(kind)

    # --- introspection at a virtual time (replay/inspect.py) ------------------------------------

    def introspect(self, equipment: int | None = None) -> dict[str, Any]:
        from replay.inspect import view

        return view(self, equipment)

    def ask(self, question: Introspect) -> dict[str, Any]:
        """The supervisor's answer to an introspection question, now."""
        self.replies.clear()
        self._tell(self.supervisor, question)
        self._settle()
        for reply in self.replies:
            if isinstance(reply, IntrospectReply):
                return dict(reply.data)
        return {"error": "no answer"}
