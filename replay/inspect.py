"""`replay --inspect-at`: what `inspect` shows at a virtual time, and what only a replay can see
inside the actors then (an equipment's pending timers, its next planned decisions, the age of
each device's last report)."""

from __future__ import annotations

from typing import Any

import actors.plan_reader
from actors.clock import Clock
from actors.supervisor import Supervisor
from protocol import ems
from protocol.messages import Introspect
from replay import output

GATEWAYS = ("mqtt", "db", "plans")
NEXT_SLOTS = 8


def view(replay: Any, equipment: int | None) -> dict[str, Any]:
    answer = replay.ask(Introspect(equipment=equipment))
    if equipment is None:
        answer["gateways"] = {name: replay.ask(Introspect(gateway=name)) for name in GATEWAYS}
    elif "error" not in answer:
        answer["replay"] = equipment_extras(replay, equipment, answer)
    return answer


def equipment_extras(replay: Any, equipment: int, answer: dict[str, Any]) -> dict[str, Any]:
    now = replay.clock.wall()
    supervisor = replay.instance(Supervisor)
    clock = replay.instance(Clock)
    reader = replay.instance(actors.plan_reader.PlanReader)
    owner = str(supervisor.devices.get(equipment)) if supervisor is not None else None
    deadlines = getattr(clock, "deadlines", {})
    timers = sorted((at, token) for (who, token), at in deadlines.items() if who == owner)
    plans = getattr(reader, "book", {}).get(equipment, ())
    boundaries = [ems.next_boundary(now) + i * ems.SLOT_SECONDS for i in range(NEXT_SLOTS)]
    devices = (answer.get("state") or {}).get("devices") or {}
    return {
        "now": output.stamp(now),
        "timers": [
            {"token": token, "at": output.stamp(at), "in_s": round(at - now, 3)}
            for at, token in timers
        ],
        "next_decisions": [_decision(t, ems.decision_at(plans, t)) for t in boundaries],
        "report_age_s": {
            device: round(now - facts["last_seen"], 3)
            for device, facts in sorted(devices.items())
            if isinstance(facts, dict) and facts.get("last_seen") is not None
        },
    }


def _decision(slot: float, decision: ems.Decision | None) -> dict[str, Any]:
    return {
        "slot": output.stamp(slot),
        "on": decision.on if decision else None,
        "plan": decision.plan_id if decision else None,
    }
