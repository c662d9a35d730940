"""The pure views of introspection: the actor tree from census replies, the next decisions."""

from __future__ import annotations

from protocol import ems
from protocol.introspection import actor_tree, census_complete, next_decisions
from protocol.messages import VitalsReply


def test_the_tree_nests_children_and_marks_those_that_did_not_answer() -> None:
    root = VitalsReply(1, "supervisor", 100.0, 7, ("displays", "equipment 1"))
    replies = {"displays": VitalsReply(1, "displays", 110.0, 3, ("screen g1", "screen g2"))}
    replies["screen g1"] = VitalsReply(1, "screen g1", 150.0, 9)
    assert not census_complete(root, replies)  # equipment 1 and screen g2 are missing
    assert actor_tree(root, replies, 200.0) == {
        "supervisor": {
            "uptime_s": 100.0,
            "messages": 7,
            "children": {
                "displays": {
                    "uptime_s": 90.0,
                    "messages": 3,
                    "children": {
                        "screen g1": {"uptime_s": 50.0, "messages": 9},
                        "screen g2": {"answered": False},
                    },
                },
                "equipment 1": {"answered": False},
            },
        }
    }
    replies["equipment 1"] = VitalsReply(1, "equipment 1", 100.0, 1)
    replies["screen g2"] = VitalsReply(1, "screen g2", 100.0, 1)
    assert census_complete(root, replies)


def test_the_next_decisions_start_at_the_next_boundary() -> None:
    now = 1796061600 + 10  # 18:00:10
    plan = ems.Plan(7, 2, 1796061600, (1, 1, 0) + (0,) * (ems.SLOTS - 3))
    decisions = next_decisions([plan], now, count=3)
    assert decisions == [
        {"slot": 1796062500, "on": True, "plan": 7},
        {"slot": 1796063400, "on": False, "plan": 7},
        {"slot": 1796064300, "on": False, "plan": 7},
    ]
    assert next_decisions([], now, count=1) == [{"slot": 1796062500, "on": None, "plan": None}]
