"""Raw routes of the routing table (household screens): a retained message heard before the
screen's route existed is handed to it, since the broker sends it to new subscriptions only."""

from __future__ import annotations

from protocol.messages import RawMessage, Route
from protocol.model import DeviceSpec
from protocol.routing import RoutingTable

LWT = "hasp/g001/LWT"
SCREEN = DeviceSpec("G001", 711, 71, "openhasp", "hasp/g001/state", "hasp/g001/command/jsonl",
                    LWT, 300.0)  # fmt: skip


def test_a_raw_route_gets_the_retained_message_of_a_subscribed_topic() -> None:
    table = RoutingTable()
    assert table.register(1, [Route(LWT, SCREEN, "device actor")]) == ([LWT], [])
    table.remember(RawMessage(LWT, b"online", True, 10.0))
    raw = [Route(LWT, None, "display", raw=True), Route("hasp/g001/state/p3b3", None, "display",
                                                        raw=True)]  # fmt: skip
    subscribe, _ = table.register("screen:g001", raw)
    assert subscribe == ["hasp/g001/state/p3b3"]  # the LWT is subscribed already
    assert table.replays("screen:g001", subscribe) == [
        ("display", RawMessage(LWT, b"online", True, 10.0))
    ]
    assert table.devices() == [SCREEN]  # raw routes have no device


def test_the_kept_message_follows_live_ones_and_is_cleared() -> None:
    table = RoutingTable()
    table.register(1, [Route(LWT, SCREEN, "device actor")])
    table.remember(RawMessage("not/routed", b"x", True, 1.0))  # no route: not kept
    table.remember(RawMessage(LWT, b"online", True, 1.0))
    table.remember(RawMessage(LWT, b"offline", False, 2.0))  # the will, delivered live
    table.register("screen:g001", [Route(LWT, None, "display", raw=True)])
    assert table.replays("screen:g001", []) == [("display", RawMessage(LWT, b"offline", True, 2.0))]
    table.remember(RawMessage(LWT, b"", True, 3.0))
    assert table.replays("screen:g001", []) == []
    assert table.replays("screen:g001", [LWT]) == []
    table.unregister(1)
    table.unregister("screen:g001")
    table.register("screen:g001", [Route(LWT, None, "display", raw=True)])
    assert table.replays("screen:g001", []) == []
