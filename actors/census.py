"""The Supervisor's part of introspection: where an `Introspect` goes, and the census of the
actor tree (every actor answers `Vitals`; the tree goes to the requester once all answered, or
after `CENSUS_TIMEOUT_S` with those that did not marked). A mixin of `Supervisor`."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from protocol.introspection import GATEWAYS, actor_tree, census_complete
from protocol.messages import Gateways, Introspect, IntrospectReply, Vitals, VitalsReply
from protocol.status import Status, overview

CENSUS_TIMEOUT_S = 2.0


class Census:
    """Needs the Supervisor's `gateways`, `censuses`, `devices`, `specs`, `rows`, `_status`,
    and `Vital`."""

    gateways: Gateways | None
    censuses: dict[int, Any]
    census_number = 0  # the last census taken
    devices: dict[int, Any]
    specs: dict[int, Any]
    rows: dict[int, Any]
    send: Any
    wakeupAfter: Any
    myAddress: Any
    vitals: Any

    def _status(self) -> Status:
        raise NotImplementedError

    def receiveMsg_Introspect(self, message: Introspect, sender: Any) -> None:
        """Overview and actor tree here; one equipment or gateway answers the requester."""
        if message.actors:
            return self._take_census(sender)
        target: Any = None
        about = message.equipment
        if about is not None and message.gateway is not None:  # a gateway, about an equipment
            owner = self.devices.get(about)
            target = getattr(self.gateways, message.gateway, None) if owner is not None else None
            forward = Introspect(about, None, sender, owner=owner)
        elif about is not None:
            target, forward = self.devices.get(about), Introspect(reply_to=sender)
        elif message.gateway is not None and self.gateways is not None:
            target = getattr(self.gateways, message.gateway, None)
            forward = Introspect(None, None, sender, message.screen, message.refresh)
        else:
            self.send(sender, IntrospectReply(overview(self._status(), self.specs, self.rows)))
            return None
        if target is None:
            what = about if about is not None else message.gateway
            self.send(sender, IntrospectReply({"error": f"no such equipment or gateway: {what}"}))
            return None
        self.send(target, forward)
        return None

    # --- the census -------------------------------------------------------------------------

    def _take_census(self, requester: Any) -> None:
        censuses = self.censuses
        number = self.census_number = self.census_number + 1
        members = self._members()
        root = self.vitals(number, "supervisor")
        root = VitalsReply(number, root.name, root.since, root.handled, tuple(members))
        censuses[number] = (requester, root, {})
        for name, address in members.items():
            self.send(address, Vitals(number, name, self.myAddress))
        if not members:
            return self._census_done(number)
        self.wakeupAfter(timedelta(seconds=CENSUS_TIMEOUT_S), payload=("census", number))
        return None

    def _members(self) -> dict[str, Any]:
        gateways = self.gateways
        named = {name: getattr(gateways, name) for name in GATEWAYS} if gateways else {}
        return named | {f"equipment {e}": actor for e, actor in sorted(self.devices.items())}

    def receiveMsg_VitalsReply(self, message: VitalsReply, sender: Any) -> None:
        census = self.censuses.get(message.census)
        if census is not None:
            census[2][message.name] = message
            if census_complete(census[1], census[2]):
                self._census_done(message.census)

    def census_expired(self, payload: Any) -> bool:
        """A census's time is up: answer with what came (True: the payload was a census's)."""
        if isinstance(payload, tuple) and len(payload) == 2 and payload[0] == "census":
            self._census_done(payload[1])
            return True
        return False

    def _census_done(self, number: int) -> None:
        census = self.censuses.pop(number, None)
        if census is not None:
            requester, root, replies = census
            self.send(requester, IntrospectReply(actor_tree(root, replies, time.time())))
