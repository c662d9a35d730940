"""The MQTT topic routing table, pure: inbound topic -> the routes (device, owning actor).

Each owner (an equipment id, or `screen:<node>`) registers all its routes at once, replacing
its previous ones. The table says which topics to subscribe to (the first route on a topic) and
which to unsubscribe from (the last route gone), so that the gateway subscribes each topic once
however many devices share it, and never drops a topic another owner still needs.

A raw route (a household screen's) gets the messages as they came. Since the broker sends a
retained message only to a new subscription, the table keeps the last message of every topic
heard retained, and gives it to a raw route registered on a topic already subscribed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from protocol.devices import codec_named
from protocol.messages import RawMessage, Route
from protocol.model import EquipmentSpec


class RoutingTable:
    def __init__(self) -> None:
        self._routes: dict[str, list[Route]] = {}
        self._owned: dict[int | str, tuple[Route, ...]] = {}
        self._retained: dict[str, RawMessage] = {}

    def register(self, owner: int | str, routes: Iterable[Route]) -> tuple[list[str], list[str]]:
        """Replace `owner`'s routes; returns (topics to subscribe, topics to unsubscribe)."""
        routes = tuple(routes)
        gone: list[str] = []
        for old in self._owned.pop(owner, ()):
            remaining = [r for r in self._routes.get(old.topic, []) if r is not old]
            if remaining:
                self._routes[old.topic] = remaining
            else:
                self._routes.pop(old.topic, None)
                gone.append(old.topic)
        new: list[str] = []
        for route in routes:
            if route.topic not in self._routes:
                new.append(route.topic)
            self._routes.setdefault(route.topic, []).append(route)
        if routes:
            self._owned[owner] = routes
        for topic in gone:
            if topic not in self._routes:
                self._retained.pop(topic, None)
        return sorted(set(new)), sorted({t for t in gone if t not in self._routes})

    def unregister(self, owner: int | str) -> list[str]:
        """Drop `owner`'s routes; returns the topics nobody needs any more."""
        return self.register(owner, ())[1]

    def routes_for(self, topic: str) -> list[Route]:
        return self._routes.get(topic, [])

    def remember(self, message: RawMessage) -> None:
        """Keep the last message of a topic heard retained (a live one on it replaces it; an
        empty retained one clears it)."""
        if message.topic not in self._routes:
            return
        if message.retained and not message.payload:
            self._retained.pop(message.topic, None)
        elif message.retained or message.topic in self._retained:
            self._retained[message.topic] = msgspec.structs.replace(message, retained=True)

    def replays(self, owner: int | str, subscribed: Iterable[str]) -> list[tuple[Any, RawMessage]]:
        """The kept retained messages for `owner`'s raw routes on topics already subscribed
        (those in `subscribed` get theirs from the broker)."""
        fresh = set(subscribed)
        return [
            (route.actor, self._retained[route.topic])
            for route in self._owned.get(owner, ())
            if route.raw and route.topic not in fresh and route.topic in self._retained
        ]

    def topics(self) -> list[str]:
        return list(self._routes)

    def devices(self, owner: int | str | None = None) -> list[Any]:
        """The devices behind the routes (of one owner, or of all), each once, in order."""
        routes: Iterable[Route] = (
            self._owned.get(owner, ())
            if owner is not None
            else (r for rs in self._routes.values() for r in rs)
        )
        seen: dict[str, Any] = {}
        for route in routes:
            if route.device is not None:  # raw routes have none
                seen.setdefault(route.device.id, route.device)
        return list(seen.values())

    def __len__(self) -> int:
        return len(self._routes)


def routes_of(spec: EquipmentSpec, actor: Any) -> tuple[Route, ...]:
    """Every topic the devices of `spec` publish on, routed to `actor`."""
    return tuple(
        Route(topic, device, actor)
        for device in spec.devices
        for topic in codec_named(device.codec).subscriptions(device)
    )
