"""Displays: the directory of the household screens. Spawns one DisplayActor per screen of the
inventory (and stops those that left it), and routes between the screens and the equipment:
what an equipment's actor shows goes to every screen of its household, a screen's mode request
goes to the equipment's actor, a declaration written from one screen goes to all of them.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from loguru import logger
from thespian.actors import ActorExitRequest, ActorTypeDispatcher, ChildActorExited, WakeupMessage

from actors.display import DisplayActor
from actors.vitals import Vital
from protocol.config import Config
from protocol.messages import (
    Configure,
    EquipmentShown,
    Gateways,
    Introspect,
    IntrospectReply,
    LoadRow,
    ModeRequested,
    RefreshScreen,
    ReloadHousehold,
    ScreenChanged,
    ScreenInit,
    ScreenInventory,
    ScreenMembers,
)
from protocol.model import EquipmentSpec
from protocol.screens.inventory import households, screens_of
from protocol.screens.state import ScreenSpec


class Displays(Vital, ActorTypeDispatcher):
    def __init__(self) -> None:
        super().__init__()
        self.config: Config | None = None
        self.gateways: Gateways | None = None
        self.screens: dict[str, tuple[ScreenSpec, Any]] = {}  # node -> (spec, DisplayActor)
        self.members: dict[str, tuple[int, ...]] = {}  # household -> equipment ids
        self.households: dict[int, str | None] = {}  # equipment id -> household
        self.actors: dict[int, Any] = {}  # equipment id -> DeviceActor
        self.problems: tuple[str, ...] = ()
        self.stopping = False
        self.turn = 0  # the next screen to re-read its household

    def receiveMsg_Configure(self, message: Configure, sender: Any) -> None:
        self.config = message.config

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender: Any) -> None:
        """Each screen re-reads its household every `screens.reread_seconds` (whoever changed it
        in the database: an operator, Viriya without its ping), one screen at a time, spread
        over the period so that the database work of the devices never waits behind them."""
        if self.stopping or self.config is None:
            return
        nodes = sorted(self.screens)
        if nodes:
            screen, actor = self.screens[nodes[self.turn % len(nodes)]]
            self.send(actor, ScreenMembers(self.members.get(screen.household, ())))
            self.turn += 1
        period = self.config.screens.reread_seconds / max(1, len(nodes))
        self.wakeupAfter(timedelta(seconds=period))

    # --- the inventory -------------------------------------------------------------------------

    def receiveMsg_ScreenInventory(self, message: ScreenInventory, sender: Any) -> None:
        specs: list[EquipmentSpec] = list(message.specs)
        if self.gateways is None and self.config is not None:  # the first inventory
            self.wakeupAfter(timedelta(seconds=self.config.screens.reread_seconds))
        self.gateways = message.gateways
        self.actors = dict(message.actors)
        self.households = {s.id: s.household for s in specs}
        screens, problems = screens_of(specs)
        for problem in sorted(set(problems) - set(self.problems)):
            logger.warning("{}", problem)
        self.problems = problems
        wanted = {s.node: s for s in screens}
        for node in [n for n in self.screens if n not in wanted or wanted[n] != self.screens[n][0]]:
            self._stop(node, "no longer in the inventory, or changed")
        every = households(specs)
        members = {s.household: every.get(s.household, ()) for s in screens}
        for node, screen in wanted.items():
            if node not in self.screens:
                self._start(screen, members[screen.household])
            elif members[screen.household] != self.members.get(screen.household):
                self.send(self.screens[node][1], ScreenMembers(members[screen.household]))
        self.members = members

    def _start(self, screen: ScreenSpec, members: tuple[int, ...]) -> None:
        config, gateways = self.config, self.gateways
        assert config is not None and gateways is not None, "Configure and Gateways come first"
        actor = self.createActor(DisplayActor)
        self.screens[screen.node] = (screen, actor)
        init = ScreenInit(
            screen, members, config.screens, config.mqtt.base_topic, gateways, time.time()
        )
        self.send(actor, init)
        logger.info("screen {}: shows household {!r}", screen.node, screen.household)

    def _stop(self, node: str, reason: str) -> None:
        _, actor = self.screens.pop(node)
        logger.info("screen {}: actor stopped, {}", node, reason)
        self.send(actor, ActorExitRequest())

    # --- routing -------------------------------------------------------------------------------

    def _screens_of(self, household: str | None) -> list[Any]:
        return [a for s, a in self.screens.values() if household and s.household == household]

    def receiveMsg_EquipmentShown(self, message: EquipmentShown, sender: Any) -> None:
        for actor in self._screens_of(message.household):
            self.send(actor, message)

    def receiveMsg_ScreenChanged(self, message: ScreenChanged, sender: Any) -> None:
        for actor in self._screens_of(message.household):
            self.send(actor, message)
        equipment = message.update.equipment
        device = self.actors.get(equipment)
        if device is not None and self.gateways is not None:  # the deadline guard reads it
            self.send(self.gateways.db, LoadRow(equipment, "screen", device))

    def receiveMsg_ModeRequested(self, message: ModeRequested, sender: Any) -> None:
        device = self.actors.get(message.equipment)
        if device is None:
            logger.warning("screen request for equipment {}: no actor", message.equipment)
            return
        self.send(device, message)

    def receiveMsg_ReloadHousehold(self, message: ReloadHousehold, sender: Any) -> None:
        household = message.household or self.households.get(message.equipment)
        for actor in self._screens_of(household):
            self.send(actor, message)

    def receiveMsg_RefreshScreen(self, message: RefreshScreen, sender: Any) -> None:
        for node, (_, actor) in self.screens.items():
            if message.node is None or message.node.lower() == node:
                self.send(actor, message)

    # --- supervision and introspection -----------------------------------------------------------

    def receiveMsg_ChildActorExited(self, message: ChildActorExited, sender: Any) -> None:
        if self.stopping:
            return
        for node, (screen, actor) in list(self.screens.items()):
            if actor == message.childAddress:
                logger.error("screen {}: actor died, restarting it", node)
                del self.screens[node]
                self._start(screen, self.members.get(screen.household, ()))

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender: Any) -> None:
        self.stopping = True

    def vital_children(self) -> list[tuple[str, Any]]:
        return [(f"screen {node}", actor) for node, (_, actor) in sorted(self.screens.items())]

    def receiveMsg_Introspect(self, message: Introspect, sender: Any) -> None:
        reply_to = message.reply_to or sender
        if message.screen is not None:
            found = self.screens.get(message.screen.lower())
            if found is None:
                error = {"error": f"no such screen: {message.screen}"}
                return self.send(reply_to, IntrospectReply(error))
            if message.refresh:
                self.send(found[1], RefreshScreen(found[0].node, "introspection request"))
            return self.send(found[1], Introspect(reply_to=reply_to))
        overview = {
            node: {"household": s.household, "device": s.device, "root": s.root}
            for node, (s, _) in sorted(self.screens.items())
        }
        reply = {"screens": overview, "problems": list(self.problems)}
        self.send(reply_to, IntrospectReply(reply))
