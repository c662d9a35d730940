"""Simulated devices on a replay's virtual clock: the pure device cores, without a broker.

A `VirtualHousehold` answers a replayed supervisor: what the supervisor publishes reaches the
cores subscribed to it, their answers come back `latency_s` later, their periodic reports come
when due, and scripted moments (a device offline for an hour, a PLC taken in local control) run
at their times. The replay writes every message the household sent as a capture: a day of a
household is built in seconds, and replaying that capture gives the same output again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from protocol.faults import matches
from simulators.core import Action, DeviceCore, Publish, Subscribe

Message = tuple[str, bytes, int, bool]  # topic, payload, qos, retain
Script = Callable[[float], list[Publish]]


@dataclass
class Member:
    core: DeviceCore
    filters: list[str] = field(default_factory=list)
    online: bool = True


class VirtualHousehold:
    def __init__(self, cores: list[DeviceCore], latency_s: float = 0.2) -> None:
        self.members = [Member(core) for core in cores]
        self.latency_s = latency_s
        self.scripts: list[tuple[float, Script]] = []

    # --- the replay's side ----------------------------------------------------------------------

    def start(self, now: float) -> list[Message]:
        out: list[Message] = []
        for member in self.members:
            out += self._perform(member, member.core.connect_sequence(now, initial=True))
        return out

    def next_due(self) -> float:
        due = [m.core.next_due() for m in self.members]
        return min(due) if due else float("inf")

    def tick(self, now: float) -> list[Message]:
        out: list[Message] = []
        for member in self.members:
            if member.core.next_due() <= now:
                publishes = member.core.tick(now)
                if member.online:
                    out += self._perform(member, publishes)
        return out

    def heard(self, topic: str, payload: bytes, now: float) -> list[Message]:
        """The supervisor published: the answers of the cores that hear it."""
        out: list[Message] = []
        for member in self.members:
            if member.online and any(matches(f, topic) for f in member.filters):
                out += self._perform(member, member.core.handle(topic, payload, now))
        return out

    # --- scripted moments -----------------------------------------------------------------------

    def at(self, moment: float, script: Script) -> None:
        self.scripts.append((moment, script))

    def offline(self, index: int, start: float, end: float) -> None:
        """Device `index` loses its link from `start` to `end`: will, silence, reconnection."""
        member = self.members[index]

        def down(now: float) -> list[Publish]:
            member.online = False
            member.core.link_down(now)
            will = member.core.will()
            return [will] if will is not None else []

        def up(now: float) -> list[Publish]:
            member.online = True
            member.core.link_up(now)
            actions = member.core.connect_sequence(now, initial=False)
            return [a for a in self._subscribe(member, actions) if isinstance(a, Publish)]

        self.at(start, down)
        self.at(end, up)

    def reboot(self, index: int, moment: float) -> None:
        """Device `index` reboots at `moment` within the broker's keepalive (a persistent
        session): no will, its state forgotten, then its connection sequence again."""
        member = self.members[index]

        def restart(now: float) -> list[Publish]:
            member.core.reboot(now)
            actions = member.core.connect_sequence(now, initial=True)
            return [a for a in self._subscribe(member, actions) if isinstance(a, Publish)]

        self.at(moment, restart)

    def run_script(self, script: Script, now: float) -> list[Message]:
        return [_message(p) for p in script(now)]

    # --- helpers --------------------------------------------------------------------------------

    def _subscribe(self, member: Member, actions: list[Action]) -> list[Action]:
        for action in actions:
            if isinstance(action, Subscribe):
                member.filters += [t for t in action.topics if t not in member.filters]
        return actions

    def _perform(self, member: Member, actions: list[Action] | list[Publish]) -> list[Message]:
        self._subscribe(member, list(actions))
        return [_message(a) for a in actions if isinstance(a, Publish)]


def _message(publish: Publish) -> Message:
    return publish.topic, publish.payload.encode(), publish.qos, publish.retain
