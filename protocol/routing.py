"""The MQTT topic routing table, pure: inbound topic -> the routes (device, owning actor).

Each owner (an equipment id) registers all its routes at once, replacing its previous ones. The
table says which topics to subscribe to (the first route on a topic) and which to unsubscribe
from (the last route gone), so that the gateway subscribes each topic once however many devices
share it, and never drops a topic another owner still needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from protocol.devices import codec_named
from protocol.messages import Route
from protocol.model import EquipmentSpec


class RoutingTable:
    def __init__(self) -> None:
        self._routes: dict[str, list[Route]] = {}
        self._owned: dict[int, tuple[Route, ...]] = {}

    def register(self, owner: int, routes: Iterable[Route]) -> tuple[list[str], list[str]]:
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
        return sorted(set(new)), sorted({t for t in gone if t not in self._routes})

    def unregister(self, owner: int) -> list[str]:
        """Drop `owner`'s routes; returns the topics nobody needs any more."""
        return self.register(owner, ())[1]

    def routes_for(self, topic: str) -> list[Route]:
        return self._routes.get(topic, [])

    def topics(self) -> list[str]:
        return list(self._routes)

    def devices(self, owner: int | None = None) -> list[Any]:
        """The devices behind the routes (of one owner, or of all), each once, in order."""
        routes: Iterable[Route] = (
            self._owned.get(owner, ())
            if owner is not None
            else (r for rs in self._routes.values() for r in rs)
        )
        seen: dict[str, Any] = {}
        for route in routes:
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
