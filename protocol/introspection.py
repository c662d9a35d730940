"""What `inspect` shows of a running supervisor, and `replay --inspect-at` of a replayed one: the
same questions to the Supervisor, the same views (pure; `ask` sends one `Introspect` and returns
the answer, `now` is the caller's clock).

- the overview, with every gateway's counters and the actor tree (each actor's uptime and the
  messages it handled);
- one equipment: its state machine, devices, last events, and inside it its pending timers (the
  Clock's), its decisions for the next slots (the plans the PlanReader holds) and the age of each
  device's last report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from protocol import ems
from protocol.messages import Introspect, VitalsReply

Ask = Callable[[Introspect], dict[str, Any]]
GATEWAYS = ("mqtt", "db", "plans", "clock", "displays")
NEXT_SLOTS = 8


def stamp(t: float) -> str:
    """Epoch seconds as UTC ISO 8601 with milliseconds (rounded)."""
    ms = round(t * 1000)
    seconds, millis = divmod(ms, 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


def view(ask: Ask, request: Mapping[str, Any], now: float) -> dict[str, Any]:
    """The answer to a control request: `{"equipment": N}` with what is inside it, `{"actors":
    true}` the overview with the gateways and the actor tree, anything else as asked."""
    equipment = request.get("equipment")
    if equipment is not None:
        return equipment_view(ask, equipment, now)
    if request.get("actors") and request.get("gateway") is None and not request.get("screen"):
        return overview_view(ask)
    return ask(introspect_message(request))


def introspect_message(request: Mapping[str, Any]) -> Introspect:
    """The actor message asking what `request` asks (not for pings)."""
    screen = request.get("screen")
    return Introspect(
        equipment=request.get("equipment"),
        gateway="displays" if screen is not None else request.get("gateway"),
        screen=screen,
        refresh=bool(request.get("refresh", False)),
    )


def overview_view(ask: Ask) -> dict[str, Any]:
    answer = ask(Introspect())
    if "error" in answer:
        return answer
    answer["gateways"] = {name: ask(Introspect(gateway=name)) for name in GATEWAYS}
    answer["actors"] = ask(Introspect(actors=True))
    return answer


def equipment_view(ask: Ask, equipment: int, now: float) -> dict[str, Any]:
    answer = ask(Introspect(equipment=equipment))
    if "error" in answer:
        return answer
    timers = ask(Introspect(equipment=equipment, gateway="clock")).get("timers") or []
    decisions = ask(Introspect(equipment=equipment, gateway="plans")).get("decisions") or []
    devices = (answer.get("state") or {}).get("devices") or {}
    answer["inside"] = inside(now, timers, decisions, devices)
    return answer


def inside(
    now: float,
    timers: Iterable[Mapping[str, Any]],
    decisions: Iterable[Mapping[str, Any]],
    devices: Mapping[str, Any],
) -> dict[str, Any]:
    """An equipment's pending timers, next decisions and report ages, as of `now`."""
    return {
        "now": stamp(now),
        "timers": [
            {"token": t["token"], "at": stamp(t["at"]), "in_s": round(t["at"] - now, 3)}
            for t in sorted(timers, key=lambda t: (t["at"], t["token"]))
        ],
        "next_decisions": [{**d, "slot": stamp(d["slot"])} for d in decisions],
        "report_age_s": {
            device: round(now - facts["last_seen"], 3)
            for device, facts in sorted(devices.items())
            if isinstance(facts, dict) and facts.get("last_seen") is not None
        },
    }


def next_decisions(plans: Iterable[ems.Plan], now: float, count: int = NEXT_SLOTS) -> list[dict]:
    """The decisions of the next `count` slots (from the next boundary): slot start, on (None:
    no plan covers it), plan id."""
    plans = tuple(plans)
    first = ems.next_boundary(now)
    out = []
    for i in range(count):
        slot = first + i * ems.SLOT_SECONDS
        decision = ems.decision_at(plans, slot)
        out.append(
            {
                "slot": slot,
                "on": decision.on if decision else None,
                "plan": decision.plan_id if decision else None,
            }
        )
    return out


def timers_of(deadlines: Mapping[tuple[str, str], float], owner: str) -> list[dict[str, Any]]:
    """The Clock's live timers of one owner: token and deadline."""
    return [
        {"token": token, "at": at}
        for (who, token), at in sorted(deadlines.items(), key=lambda item: (item[1], item[0]))
        if who == owner
    ]


def actor_tree(root: VitalsReply, replies: Mapping[str, VitalsReply], now: float) -> dict:
    """`{name: {"uptime_s", "messages", "children": {...}}}` from the census replies; an actor
    that did not answer is `{"answered": false}`."""

    def node(reply: VitalsReply) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "uptime_s": round(now - reply.since, 3),
            "messages": reply.handled,
        }
        if reply.children:
            entry["children"] = {
                name: node(replies[name]) if name in replies else {"answered": False}
                for name in reply.children
            }
        return entry

    return {root.name: node(root)}


def census_complete(root: VitalsReply, replies: Mapping[str, VitalsReply]) -> bool:
    """Every actor named in the tree answered."""
    wanted = set(root.children)
    for reply in replies.values():
        wanted |= set(reply.children)
    return wanted <= set(replies)
