"""The MQTT topic routing table: subscribe each topic once, unsubscribe only the last route."""

from __future__ import annotations

from protocol.messages import Route
from protocol.routing import RoutingTable, routes_of
from tests.harness import equipment_row, make_spec, plug_row


def spec_with_plug(equipment: int, device: str = "A101"):  # type: ignore[no-untyped-def]
    return make_spec(equipment_row(equipment), [plug_row(device, equipment=equipment)])


def test_routes_of_an_equipment_cover_every_topic_its_devices_publish_on() -> None:
    spec = spec_with_plug(1)
    routes = routes_of(spec, "actor-1")
    root = "shellies/shellyplug-s-A101"
    assert {r.topic for r in routes} == {
        f"{root}/relay/0",
        f"{root}/relay/0/power",
        f"{root}/relay/0/energy",
        f"{root}/online",
    }
    assert {r.actor for r in routes} == {"actor-1"} and {r.device.id for r in routes} == {"A101"}


def test_a_shared_topic_is_subscribed_once_and_unsubscribed_with_its_last_route() -> None:
    table = RoutingTable()
    first = routes_of(spec_with_plug(1), "a1")
    subscribe, unsubscribe = table.register(1, first)
    assert subscribe == sorted(r.topic for r in first) and unsubscribe == []
    shared = tuple(Route(r.topic, r.device, "a2") for r in first)  # a second owner, same topics
    assert table.register(2, shared) == ([], [])
    assert len(table.routes_for(first[0].topic)) == 2
    assert table.unregister(1) == []  # owner 2 still needs them
    assert [r.actor for r in table.routes_for(first[0].topic)] == ["a2"]
    assert table.unregister(2) == sorted(r.topic for r in first)
    assert len(table) == 0 and table.routes_for(first[0].topic) == []


def test_re_registering_an_owner_replaces_its_routes() -> None:
    table = RoutingTable()
    table.register(1, routes_of(spec_with_plug(1, "A101"), "old"))
    new = routes_of(spec_with_plug(1, "A109"), "new")
    subscribe, unsubscribe = table.register(1, new)
    assert subscribe == sorted(r.topic for r in new)
    assert all("A101" in t for t in unsubscribe) and len(unsubscribe) == 4
    assert {r.actor for t in table.topics() for r in table.routes_for(t)} == {"new"}
    # the same routes again: nothing to unsubscribe (the broker keeps the subscription)
    assert table.register(1, new)[1] == []


def test_devices_are_listed_once_per_owner_or_for_the_whole_table() -> None:
    table = RoutingTable()
    table.register(1, routes_of(spec_with_plug(1, "A101"), "a1"))
    table.register(2, routes_of(spec_with_plug(2, "A102"), "a2"))
    assert [d.id for d in table.devices(1)] == ["A101"]
    assert sorted(d.id for d in table.devices()) == ["A101", "A102"]
    assert table.devices(3) == []
