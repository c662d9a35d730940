"""DisplayActor: one per household screen (openHASP). Carries out what `protocol.screens`
decides: parses what the screen publishes, draws it (full or per page, coalesced), and turns
touches into a mode request for the equipment's actor and declarations written by the DbGateway.
"""

from __future__ import annotations

import time
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from loguru import logger
from thespian.actors import ActorExitRequest, ActorTypeDispatcher

from actors.vitals import Vital
from protocol.ems import next_boundary
from protocol.messages import (
    ClearAllTimers,
    EquipmentShown,
    Introspect,
    IntrospectReply,
    LoadScreenHousehold,
    ModeRequested,
    PlannedStarts,
    PlannedStartsReply,
    Publish,
    RawMessages,
    RefreshScreen,
    RegisterRoutes,
    ReloadHousehold,
    Route,
    ScreenChanged,
    ScreenHousehold,
    ScreenInit,
    ScreenMembers,
    ScreenUpdateWritten,
    SetTimer,
    TimerFired,
    UnregisterRoutes,
    WriteScreenUpdate,
)
from protocol.ratelimit import WarnLimiter
from protocol.screens import household as book
from protocol.screens import render
from protocol.screens.session import Session, on_report
from protocol.screens.state import ScreenEquipment, ScreenUpdate
from protocol.screens.touch import (
    Availability,
    Ignored,
    Rejected,
    Status,
    apply_touch,
    parse_inbound,
    screen_topics,
)

DRAW = "draw"
LOAD = "load"
LOAD_RETRY_S = 5.0
PLANS = "plans"  # re-read the planned starts after every quarter-hour boundary
PLANS_AFTER_BOUNDARY_S = 10.0
WARN_EVERY_S = 60.0
REFRESH_REQUEST = b'{"refresh": true}'


class DisplayActor(Vital, ActorTypeDispatcher):
    def __init__(self) -> None:
        super().__init__()
        self.init: ScreenInit | None = None
        self.tz = ZoneInfo("UTC")
        self.household: dict[int, ScreenEquipment] | None = None  # None: not read yet
        self.session = Session()
        self.full_pending = False
        self.pages_pending: set[int] = set()
        self.draw_armed = False
        self.limiter = WarnLimiter(WARN_EVERY_S)
        self.counters = {"touches": 0, "rejected": 0, "full": 0, "pages": 0, "publishes": 0}

    # --- start and inventory -----------------------------------------------------------------

    def receiveMsg_ScreenInit(self, message: ScreenInit, sender: Any) -> None:
        self.init = message
        self.tz = ZoneInfo(message.layout.timezone)
        screen, gateways = message.screen, message.gateways
        topics = screen_topics(screen.root, message.layout, self._operator_topic())
        routes = tuple(Route(t, None, self.myAddress, raw=True) for t in topics)
        self.send(gateways.mqtt, RegisterRoutes(self._owner(), routes))
        self._load()
        self._arm_plans(message.at)

    def receiveMsg_RoutesRegistered(self, message: Any, sender: Any) -> None:
        pass

    def receiveMsg_ScreenMembers(self, message: ScreenMembers, sender: Any) -> None:
        if self.init is not None:
            self.init = msgspec.structs.replace(self.init, members=message.members)
            self._load()

    def receiveMsg_ReloadHousehold(self, message: ReloadHousehold, sender: Any) -> None:
        self._load()

    def _load(self) -> None:
        init = self._init()
        request = LoadScreenHousehold(init.screen.household, init.members, self.myAddress)
        self.send(init.gateways.db, request)

    def receiveMsg_ScreenHousehold(self, message: ScreenHousehold, sender: Any) -> None:
        if message.error:
            logger.warning("screen {}: household not read: {}", self._node(), message.error)
            at = time.time() + LOAD_RETRY_S  # read again soon (the next full refresh needs it)
            return self.send(self._init().gateways.clock, SetTimer(LOAD, at))
        self._merge(book.loaded(self.household, message.equipment))
        self._ask_plans()

    def _merge(self, change: tuple[book.Book, set[int]]) -> None:
        """Take a new copy of the household; redraw the pages that changed (a full refresh
        decided before the household was first read is drawn now)."""
        self.household, changed = change
        self.pages_pending |= changed
        self._schedule()

    # --- what the screen publishes -------------------------------------------------------------

    def receiveMsg_RawMessages(self, message: RawMessages, sender: Any) -> None:
        init = self._init()
        for raw in message.messages:
            if raw.topic == self._operator_topic():
                self._operator(raw.payload, raw.retained)
                continue
            parsed = parse_inbound(raw.topic, raw.payload, init.screen.root, init.layout)
            if isinstance(parsed, Availability | Status):
                self.session, decision = on_report(self.session, parsed)
                if decision.full_refresh:
                    logger.info("screen {}: full refresh ({})", self._node(), decision.reason)
                    self._schedule(full=True)
                if decision.indicators and init.layout.indicators_topic:
                    self._publish(init.layout.indicators_topic, self._node().encode())
            elif isinstance(parsed, Ignored):
                logger.debug("screen {}: {}", self._node(), parsed.reason)
            elif isinstance(parsed, Rejected):
                self._warn(parsed.reason)
            elif raw.retained:
                logger.debug("screen {}: retained touch ignored on {}", self._node(), raw.topic)
            else:
                self._touch(parsed, raw.at)

    def _touch(self, touch: Any, at: float) -> None:
        init = self._init()
        self.counters["touches"] += 1
        household = tuple(self.household.values()) if self.household is not None else ()
        result = apply_touch(touch, household, init.layout, at, self.tz)
        if isinstance(result, Rejected):
            return self._warn(result.reason)
        displays = init.gateways.displays
        if result.mode is not None and displays is not None:
            self.send(displays, ModeRequested(result.equipment, result.mode, "screen", at))
        declaration = msgspec.structs.replace(result, mode=None)
        if declaration != ScreenUpdate(result.equipment):
            self.send(init.gateways.db, WriteScreenUpdate(declaration, int(at), self.myAddress))

    def _operator(self, payload: bytes, retained: bool) -> None:
        try:
            request = msgspec.json.decode(payload)
        except msgspec.DecodeError:
            request = None
        if retained or not isinstance(request, dict) or request.get("refresh") is not True:
            return self._warn(f"operator request {payload[:60]!r}: expected {REFRESH_REQUEST!r}")
        logger.info("screen {}: full refresh (operator request)", self._node())
        self._schedule(full=True)

    # --- changes made elsewhere ----------------------------------------------------------------

    def receiveMsg_EquipmentShown(self, message: EquipmentShown, sender: Any) -> None:
        if self.household is not None:
            m = message
            change = book.shown(self.household, m.equipment, m.mode, m.command_state, m.reason)
            self._merge(change)
            if change[1]:
                self._ask_plans()

    # --- planned starts (the pages' labels) ----------------------------------------------------

    def _ask_plans(self) -> None:
        init = self._init()
        if any(p.label is not None for p in init.layout.pages) and self.household:
            self.send(init.gateways.plans, PlannedStarts(tuple(self.household), self.myAddress))

    def _arm_plans(self, now: float) -> None:
        at = next_boundary(now) + PLANS_AFTER_BOUNDARY_S
        self.send(self._init().gateways.clock, SetTimer(PLANS, at))

    def receiveMsg_PlannedStartsReply(self, message: PlannedStartsReply, sender: Any) -> None:
        if self.household is not None:
            self._merge(book.planned(self.household, message.starts))

    def receiveMsg_ScreenUpdateWritten(self, message: ScreenUpdateWritten, sender: Any) -> None:
        init = self._init()
        if message.error:
            return self._warn(f"equipment {message.update.equipment}: {message.error}")
        if init.gateways.displays is not None:
            changed = ScreenChanged(init.screen.household, message.update, message.at)
            self.send(init.gateways.displays, changed)

    def receiveMsg_ScreenChanged(self, message: ScreenChanged, sender: Any) -> None:
        if self.household is not None:
            self._merge(book.declared(self.household, message.update))

    def receiveMsg_RefreshScreen(self, message: RefreshScreen, sender: Any) -> None:
        logger.info("screen {}: full refresh ({})", self._node(), message.source)
        self._schedule(full=True)

    # --- drawing -------------------------------------------------------------------------------

    def _schedule(self, full: bool = False) -> None:
        """Draw once the burst is over: one publish per page, whatever the number of changes."""
        self.full_pending = self.full_pending or full
        if self.draw_armed or not (self.full_pending or self.pages_pending):
            return
        init = self._init()
        self.draw_armed = True
        at = time.time() + init.layout.coalesce_seconds
        self.send(init.gateways.clock, SetTimer(DRAW, at))

    def receiveMsg_TimerFired(self, message: TimerFired, sender: Any) -> None:
        if message.token == PLANS:
            self._ask_plans()
            return self._arm_plans(time.time())
        if message.token == LOAD:
            return self._load()
        if message.token != DRAW:
            return
        self.draw_armed = False
        if self.household is None:
            return  # drawn when the household arrives
        init = self._init()
        household, now = tuple(self.household.values()), time.time()
        if self.full_pending:
            payloads = render.full_refresh(household, init.layout, now, self.tz)
            self.counters["full"] += 1
        else:
            payloads = render.pages_refresh(
                household, self.pages_pending, init.layout, now, self.tz
            )
            self.counters["pages"] += 1
        self.full_pending, self.pages_pending = False, set()
        for payload in payloads:
            self._publish(init.screen.command_topic, payload)

    def _publish(self, topic: str, payload: bytes) -> None:
        self.counters["publishes"] += 1
        self.send(self._init().gateways.mqtt, Publish(topic, payload, qos=1, retain=False))

    # --- plumbing ------------------------------------------------------------------------------

    def _warn(self, reason: str) -> None:
        """At most one warning a minute per screen; the others are counted."""
        self.counters["rejected"] += 1
        more = self.limiter.suffix(self._node(), time.time())
        if more is not None:
            logger.warning("screen {}: ignored: {}{}", self._node(), reason, more)

    def receiveMsg_Introspect(self, message: Introspect, sender: Any) -> None:
        self.send(message.reply_to or sender, IntrospectReply(self.snapshot()))

    def snapshot(self) -> dict[str, Any]:
        init = self._init()
        return {
            "screen": msgspec.to_builtins(init.screen),
            "session": msgspec.to_builtins(self.session),
            "equipment": sorted(self.household or ()),
            **self.counters,
        }

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender: Any) -> None:
        if self.init is not None:
            self.send(self.init.gateways.mqtt, UnregisterRoutes(self._owner()))
            self.send(self.init.gateways.clock, ClearAllTimers())

    def _operator_topic(self) -> str:
        return f"{self._init().base_topic}/screen/{self._node()}/set"

    def _owner(self) -> str:
        return f"screen:{self._node()}"

    def _node(self) -> str:
        return self.init.screen.node if self.init is not None else "?"

    def _init(self) -> ScreenInit:
        assert self.init is not None
        return self.init
