"""The simulated openHASP screen's pure core: objects like the firmware keeps them."""

from __future__ import annotations

import json

import pytest

from protocol.config import ScreensConfig
from simulators.core import Publish, Subscribe
from simulators.openhasp import OpenHaspCore, elfe_startup_layout

ROOT = "hasp/g001"


def core(now: float = 1000.0) -> OpenHaspCore:
    return OpenHaspCore(ROOT, now=now, startup=elfe_startup_layout(ScreensConfig()))


def jsonl(*lines: dict[str, object]) -> bytes:
    return "\n".join(json.dumps(line) for line in lines).encode()


def test_startup_layout_has_the_elfe_objects() -> None:
    screen = core()
    assert screen.prop(3, 3, "obj") == "switch"
    assert screen.prop(3, 8, "obj") == "roller" and screen.prop(5, 8, "obj") == "roller"
    assert screen.prop(8, 13, "obj") == "led" and screen.prop(9, 8, "obj") == "label"
    assert screen.current_page == 2


def test_jsonl_updates_objects_integer_or_numeric_string_page() -> None:
    screen = core()
    screen.handle(
        f"{ROOT}/command/jsonl",
        jsonl(
            {"page": 3, "id": 10, "bg_color": "#00FF00"},
            {"page": "3", "id": 8, "val": 18},
            {"page": 3, "id": 77, "val": 1},  # no such object: ignored
            {"page": 3, "id": 9, "val": 9},  # clamped to the last option
        ),
        2000.0,
    )
    assert screen.prop(3, 10, "bg_color") == "#00FF00"
    assert screen.prop(3, 8, "val") == 18 and screen.prop(3, 9, "val") == 3
    assert (3, 77) not in screen.objects
    assert [type(line["page"]) for _, line in screen.lines] == [int, str, int, int]


def test_a_payload_over_2_kb_is_cut() -> None:
    screen = core()
    lines = [{"page": 3, "id": 10, "bg_color": "#00FF00", "pad": "x" * 100}] * 19
    payload = jsonl(*lines, {"page": 3, "id": 3, "val": 1})
    assert len(payload) > 2048
    screen.handle(f"{ROOT}/command/jsonl", payload, 2000.0)
    assert screen.cut_payloads == 1 and screen.prop(3, 3, "val") == 0


def test_reboot_forgets_what_was_set_and_restarts_the_uptime() -> None:
    screen = core(now=1000.0)
    screen.handle(f"{ROOT}/command/jsonl", jsonl({"page": 3, "id": 3, "val": 1}), 1500.0)
    assert screen.uptime(1500.0) == 500
    screen.reboot(1600.0)
    assert screen.prop(3, 3, "val") == 0 and screen.uptime(1610.0) == 10
    sequence = screen.connect_sequence(1610.0, initial=True)
    assert isinstance(sequence[0], Subscribe)
    published = [a for a in sequence if isinstance(a, Publish)]
    assert (published[0].topic, published[0].payload, published[0].retain) == (
        f"{ROOT}/LWT",
        "online",
        True,
    )
    status = json.loads(next(p.payload for p in published if p.topic.endswith("statusupdate")))
    assert status["uptime"] == 10 and status["node"] == "g001"


def test_will_qos_follows_the_version() -> None:
    assert core().will() == Publish(f"{ROOT}/LWT", "offline", retain=True, qos=1)
    old = OpenHaspCore(ROOT, now=0.0, version="0.6.3")
    assert old.will().qos == 0


def test_touches_publish_what_the_firmware_publishes() -> None:
    screen = core()
    down, up = screen.touch_switch(3, 3, 1, 2000.0)
    assert (down.topic, json.loads(down.payload)) == (
        f"{ROOT}/state/p3b3",
        {"event": "down", "val": 0},
    )
    assert json.loads(up.payload) == {"event": "up", "val": 1}
    (changed,) = screen.touch_roller(5, 8, 4, 2000.0)
    assert json.loads(changed.payload) == {"event": "changed", "val": 4, "text": "40%"}
    with pytest.raises(ValueError, match="11 options"):
        screen.touch_roller(5, 8, 11, 2000.0)
    with pytest.raises(ValueError, match="no switch p2b99"):
        screen.touch_switch(2, 99, 1, 2000.0)


def test_statusupdate_on_request_and_every_teleperiod() -> None:
    screen = OpenHaspCore(ROOT, now=0.0, teleperiod_s=300.0)
    screen.connect_sequence(0.0, initial=True)
    assert screen.next_due() == 300.0 and screen.tick(299.0) == []
    assert [p.topic for p in screen.tick(300.0)] == [f"{ROOT}/state/statusupdate"]
    assert [p.topic for p in screen.handle(f"{ROOT}/command/statusupdate", b"", 5.0)] == [
        f"{ROOT}/state/statusupdate"
    ]


def test_text_view_shows_every_page() -> None:
    screen = core()
    screen.handle(
        f"{ROOT}/command/jsonl",
        jsonl({"page": 3, "id": 3, "val": 1}, {"page": 3, "id": 10, "bg_color": "#00FF00"},
              {"page": 3, "id": 8, "val": 18}, {"page": 3, "id": 9, "val": 2}),
        0.0,
    )  # fmt: skip
    view = screen.text_view().splitlines()
    assert view[1] == ("p3 'Lave-linge' | b3 on | b5 - | b6 - | b8 18h | b9 30 | b10 ●#00FF00")
    assert view[0].startswith("p2 'Lave-vaisselle'") and len(view) == 8
