"""The Shelly Plus 1PM (Gen2) logic without a broker: JSON-RPC, notifications, timers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.appliance import Appliance
from simulators.core import Publish, Subscribe
from simulators.shelly_gen2 import ShellyGen2Core

PREFIX = "t5f3/D003"
RPC = f"{PREFIX}/rpc"
STATUS = f"{PREFIX}/status/switch:0"
EVENTS = f"{PREFIX}/events/rpc"
T0 = 1_700_000_010.0


def core(appliance: Appliance | None = None, **kwargs: object) -> ShellyGen2Core:
    return ShellyGen2Core(PREFIX, appliance, now=T0, **kwargs)  # type: ignore[arg-type]


def heater(w: float = 1500.0) -> Appliance:
    return Appliance("continuous", rated_power_w=w)


def rpc(c: ShellyGen2Core, method: str, params: object = None, **frame: Any) -> list[Publish]:
    body: dict[str, Any] = {"id": frame.pop("id", "r1"), "src": "elfe/D003", "method": method}
    if params is not None:
        body["params"] = params
    body.update(frame)
    return c.handle(RPC, json.dumps(body).encode(), frame.get("now", T0 + 1))


def reply(pubs: list[Publish], src: str = "elfe/D003") -> dict[str, Any]:
    answers = [json.loads(p.payload) for p in pubs if p.topic == f"{src}/rpc"]
    assert len(answers) == 1, pubs
    return answers[0]


def on_topic(pubs: list[Publish], topic: str) -> list[dict[str, Any]]:
    return [json.loads(p.payload) for p in pubs if p.topic == topic]


def test_connect_sequence_online_status_full_status() -> None:
    c = core(heater(), relay_on=True)
    sub, online, status, full = c.connect_sequence(T0, initial=True)
    assert sub == Subscribe((RPC, f"{PREFIX}/command/switch:0", f"{PREFIX}/command"), qos=1)
    assert online == Publish(f"{PREFIX}/online", "true", retain=True, qos=1)
    assert c.will() == Publish(f"{PREFIX}/online", "false", retain=True, qos=1)
    assert isinstance(status, Publish) and isinstance(full, Publish)
    assert (status.topic, status.retain, status.qos) == (STATUS, False, 1)
    body = json.loads(status.payload)
    assert body == {
        "id": 0,
        "source": "init",
        "output": True,
        "apower": 1500.0,
        "voltage": 230.0,
        "current": 6.522,
        "aenergy": {"total": 0.0, "by_minute": [0.0, 0.0, 0.0], "minute_ts": 1_699_999_980},
        "temperature": {"tC": 41.0, "tF": 105.8},
    }
    notify = json.loads(full.payload)
    assert (full.topic, notify["method"], notify["dst"]) == (
        EVENTS,
        "NotifyFullStatus",
        f"{PREFIX}/events",
    )
    assert notify["params"]["switch:0"]["output"] is True
    assert notify["src"] == c.device_id and c.device_id.startswith("shellyplus1pm-")


def test_switch_set_replies_on_src_rpc_with_the_same_id() -> None:
    c = core(heater())
    out = rpc(c, "Switch.Set", {"id": 0, "on": True}, id="on-7f3a")
    assert out[0].topic == "elfe/D003/rpc"
    assert out[0].payload == json.dumps(
        {"id": "on-7f3a", "src": c.device_id, "dst": "elfe/D003", "result": {"was_on": False}},
        separators=(",", ":"),
    )
    assert (out[0].qos, out[0].retain) == (1, False)
    assert c.relay_on
    status = on_topic(out, STATUS)[0]
    assert (status["output"], status["source"], status["apower"]) == (True, "MQTT", 1500.0)
    notify = on_topic(out, EVENTS)[0]
    assert notify["method"] == "NotifyStatus"
    assert notify["params"]["switch:0"] == {"id": 0, "output": True, "source": "MQTT"}
    # Unchanged: the reply says so and no status goes out.
    again = rpc(c, "Switch.Set", {"id": 0, "on": True}, id=42)
    assert reply(again) == {
        "id": 42,
        "src": c.device_id,
        "dst": "elfe/D003",
        "result": {"was_on": True},
    }
    assert on_topic(again, STATUS) == []


@pytest.mark.parametrize(
    ("method", "params", "code", "message"),
    [
        ("Switch.Set", {"id": 0}, -103, "Missing required argument 'on'!"),
        ("Switch.Set", {"id": 0, "on": "true"}, -103, "Missing required argument 'on'!"),
        ("Switch.Set", {"on": True}, -103, "Missing required argument 'id'!"),
        ("Switch.Set", {"id": 1, "on": True}, -105, "Argument 'id', value 1 not found!"),
        (
            "Switch.Set",
            {"id": 0, "on": True, "toggle_after": -5},
            -103,
            "Invalid argument 'toggle_after'!",
        ),
        ("Switch.Set", [0, True], -103, "Invalid argument 'params'!"),
        ("Switch.Explode", {"id": 0}, 404, "No handler for Switch.Explode"),
        (
            "Switch.SetConfig",
            {"id": 0, "config": {"auto_on": 1}},
            -103,
            "Invalid argument 'auto_on'!",
        ),
    ],
)
def test_bad_requests_get_error_replies(
    method: str, params: object, code: int, message: str
) -> None:
    c = core()
    answer = reply(rpc(c, method, params, id=7))
    assert answer == {
        "id": 7,
        "src": c.device_id,
        "dst": "elfe/D003",
        "error": {"code": code, "message": message},
    }
    assert not c.relay_on


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1,2]",
        b'{"id":1,"method":"Switch.Set","params":{"id":0,"on":true}}',
        b'{"src":"x","method":"Switch.Set","params":{"id":0,"on":true}}',
        b'{"id":1,"src":"x/#","method":"Switch.Set","params":{"id":0,"on":true}}',
    ],
)
def test_frames_that_cannot_be_answered_are_dropped(payload: bytes) -> None:
    c = core()
    assert c.handle(RPC, payload, T0) == []
    assert not c.relay_on


def test_get_status_methods_and_device_info() -> None:
    c = core(heater(), relay_on=True)
    status = reply(rpc(c, "Switch.GetStatus", {"id": 0}))["result"]
    assert status["output"] is True and status["apower"] == 1500.0
    full = reply(rpc(c, "Shelly.GetStatus"))["result"]
    assert full["switch:0"] == status
    assert full["sys"]["mac"] == c.mac
    info = reply(rpc(c, "Shelly.GetDeviceInfo"))["result"]
    assert (info["id"], info["gen"], info["app"]) == (c.device_id, 2, "Plus1PM")
    toggled = rpc(c, "Switch.Toggle", {"id": 0})
    assert reply(toggled)["result"] == {"was_on": True}
    assert not c.relay_on


def test_toggle_after_flips_back_with_source_timer() -> None:
    c = core(heater())
    out = rpc(c, "Switch.Set", {"id": 0, "on": True, "toggle_after": 600})
    status = on_topic(out, STATUS)[0]
    assert (status["timer_started_at"], status["timer_duration"]) == (T0 + 1, 600.0)
    assert c.next_due() == T0 + 601
    assert on_topic(c.tick(T0 + 600), STATUS) == []
    back = on_topic(c.tick(T0 + 601), STATUS)[0]
    assert (back["output"], back["source"]) == (False, "timer")
    assert "timer_duration" not in back


def test_auto_on_undoes_an_off_order_after_the_delay() -> None:
    c = core(heater(), relay_on=True, auto_on=True, auto_on_delay_s=1800.0, report_period_s=0)
    off = rpc(c, "Switch.Set", {"id": 0, "on": False})
    assert on_topic(off, STATUS)[0]["timer_duration"] == 1800.0
    assert not c.relay_on
    # An OFF re-asserted while off changes nothing and does not restart the delay.
    rpc(c, "Switch.Set", {"id": 0, "on": False}, now=T0 + 1000)
    assert c.tick(T0 + 1800) == []
    on = on_topic(c.tick(T0 + 1801), STATUS)
    assert [(s["output"], s["source"]) for s in on] == [(True, "timer")]
    assert c.relay_on
    assert c.next_due() == float("inf")


def test_set_config_turns_auto_on_on() -> None:
    c = core(heater())
    answer = reply(
        rpc(c, "Switch.SetConfig", {"id": 0, "config": {"auto_on": True, "auto_on_delay": 5}})
    )
    assert answer["result"] == {"restart_required": False}
    assert reply(rpc(c, "Switch.GetConfig", {"id": 0}))["result"]["auto_on_delay"] == 5.0
    assert [s["output"] for s in on_topic(c.tick(T0 + 6), STATUS)] == [True]


def test_simple_control_topic() -> None:
    c = core(heater())
    out = c.handle(f"{PREFIX}/command/switch:0", b"on", T0)
    assert on_topic(out, STATUS)[0]["output"] is True
    out = c.handle(f"{PREFIX}/command/switch:0", b"off,30", T0 + 1)
    assert on_topic(out, STATUS)[0]["timer_duration"] == 30.0
    assert c.handle(f"{PREFIX}/command/switch:0", b"bogus", T0 + 2) == []
    update = c.handle(f"{PREFIX}/command", b"status_update", T0 + 3)
    assert [p.topic for p in update] == [STATUS]


def test_notifications_can_be_turned_off() -> None:
    c = core(heater(), status_ntf=False, rpc_ntf=False)
    out = rpc(c, "Switch.Set", {"id": 0, "on": True})
    assert [p.topic for p in out] == ["elfe/D003/rpc"]


def test_periodic_report_and_power_changes() -> None:
    machine = Appliance("triggered", cycle_power_w=2000.0, cycle_s=120.0, idle_power_w=1.0)
    c = core(machine, relay_on=True, report_period_s=100.0, power_delta_w=10.0)
    c.connect_sequence(T0, initial=True)
    assert c.tick(T0 + 30) == []
    periodic = c.tick(T0 + 100)
    delta = on_topic(periodic, EVENTS)[0]["params"]["switch:0"]
    assert set(delta) == {"id", "apower", "voltage", "current", "aenergy"}
    ended = c.tick(T0 + 121)  # the cycle ended: 2000 W -> 1 W
    assert on_topic(ended, STATUS)[0]["apower"] == 1.0
    assert on_topic(ended, EVENTS)[0]["params"]["switch:0"] == {
        "id": 0,
        "apower": 1.0,
        "current": 0.004,
    }


def test_aenergy_counts_watt_hours_and_minutes() -> None:
    c = core(Appliance("continuous", rated_power_w=3600.0), relay_on=True)
    t = T0
    while t < T0 + 300:
        c.tick(t)
        t += 0.5
    energy = c.switch_status(t)["aenergy"]
    assert energy["total"] == pytest.approx(300.0, abs=0.01)  # 3600 W for 300 s
    assert energy["by_minute"] == [pytest.approx(60_000.0, rel=0.02)] * 3  # mWh per minute
    assert energy["minute_ts"] == int(t // 60) * 60


def test_button_drops_and_reboot_initial_state() -> None:
    c = core(heater(), initial_state="on")
    assert on_topic(c.press_button(T0), STATUS)[0]["source"] == "button"
    c.drop_next_commands(1)
    assert rpc(c, "Switch.Set", {"id": 0, "on": False}) == []
    c.respond_to_commands = False
    assert rpc(c, "Switch.Set", {"id": 0, "on": False}) == []
    assert c.relay_on
    c.press_button(T0 + 5)
    c.reboot(T0 + 10)
    assert c.relay_on and c.source == "init"
    assert c.switch_status(T0 + 10)["aenergy"]["total"] == 0.0


@given(
    ops=st.lists(
        st.tuples(
            st.floats(0.0, 100.0),
            st.sampled_from(["on", "off", "toggle", "after"]),
        ),
        max_size=20,
    )
)
def test_every_request_gets_one_reply_with_its_id_and_was_on(ops: list[tuple[float, str]]) -> None:
    c = core(heater(), report_period_s=0)
    t = T0
    for i, (dt, op) in enumerate(ops):
        t += dt
        c.tick(t)
        before = c.relay_on
        if op == "toggle":
            out = rpc(c, "Switch.Toggle", {"id": 0}, id=i, now=t)
        else:
            params: dict[str, Any] = {"id": 0, "on": op != "off"}
            if op == "after":
                params["toggle_after"] = 10
            out = rpc(c, "Switch.Set", params, id=i, now=t)
        answer = reply(out)
        assert answer["id"] == i
        assert answer["result"] == {"was_on": before}
        statuses = on_topic(out, STATUS)
        if statuses:
            assert statuses[-1]["output"] is c.relay_on
        else:
            assert c.relay_on is before
