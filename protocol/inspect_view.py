"""The human view of `elfe-supervisor inspect`: the control socket's JSON replies as text that
fits a terminal of `width` columns (100 by default). Pure: a reply in, lines out.

- the overview: the status on two lines, then one row per equipment, then the actor tree (one
  row per actor, indented under its parent) when the reply has it;
- one equipment: its state machine and devices as `key: value` lines, then its last events,
  then what is inside it (pending timers, next decisions, age of the last reports);
- a gateway: its counters as `key: value` lines.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

WIDTH = 100


def render(reply: Mapping[str, Any], width: int = WIDTH) -> str:
    if "status" in reply and "equipment" in reply:
        lines = _overview(reply, width)
    elif "events" in reply:
        lines = _equipment(reply, width)
    else:
        lines = _pairs(_flatten(reply))
    return "\n".join(_fit(line, width) for line in lines)


def _overview(reply: Mapping[str, Any], width: int) -> list[str]:
    status = reply.get("status") or {}
    started = status.get("started_at")
    lines = [
        f"{status.get('state', '?')} · version {status.get('version', '?')} · "
        f"{status.get('system_base', '?')} · started {_utc(started)}",
        f"{status.get('equipment', 0)} equipment, {status.get('devices', 0)} devices, "
        f"{status.get('faulty', 0)} that cannot be driven · plans: {status.get('plans', '?')}",
        "",
    ]
    rows = [
        [
            str(eid),
            str(e.get("name", "")),
            str(e.get("typology", "")),
            str(e.get("type", "")),
            str(e.get("mode", "")),
            " ".join(e.get("devices") or []),
            str(e.get("problem") or ""),
        ]
        for eid, e in sorted((reply.get("equipment") or {}).items(), key=_by_id)
    ]
    header = ["id", "name", "typology", "type", "mode", "devices", "problem"]
    lines += _table(header, rows, width, flexible=(1, 5, 6))
    actors = reply.get("actors")
    if isinstance(actors, Mapping) and actors:
        tree = _tree(actors)
        lines += ["", "actors", *_table(["actor", "uptime (s)", "messages"], tree, width, (0,))]
    return lines


def _tree(nodes: Mapping[str, Any], depth: int = 0) -> list[list[str]]:
    rows = []
    for name, node in nodes.items():
        node = node if isinstance(node, Mapping) else {}
        answered = node.get("answered", True)
        rows.append(
            [
                "  " * depth + str(name),
                _blank(node.get("uptime_s")) if answered else "no answer",
                _blank(node.get("messages")) if answered else "",
            ]
        )
        rows += _tree(node.get("children") or {}, depth + 1)
    return rows


def _equipment(reply: Mapping[str, Any], width: int) -> list[str]:
    state = dict(reply.get("state") or {})
    spec = state.pop("spec", {}) or {}
    title = f"equipment {spec.get('id', '?')} {spec.get('name', '')!r}"
    lines = [f"{title} · typology {spec.get('typology', '?')} · pid {reply.get('pid', '?')}"]
    lines += _pairs(_flatten({k: v for k, v in spec.items() if k not in ("id", "name")}))
    lines += _pairs(_flatten(state))
    events = reply.get("events") or []
    lines += ["", f"last {len(events)} events"]
    rows = [
        [
            _utc(e.get("at")),
            f"{_blank(e.get('from_state'))} -> {_blank(e.get('to_state'))}",
            str(e.get("reason", "")),
        ]
        for e in events
    ]
    lines += _table(["at (UTC)", "states", "reason"], rows, width, flexible=(2,))
    inside = reply.get("inside")
    if isinstance(inside, Mapping):
        lines += _inside(inside, width)
    return lines


def _inside(inside: Mapping[str, Any], width: int) -> list[str]:
    timers = [
        [str(t.get("token", "")), str(t.get("at", "")), _blank(t.get("in_s"))]
        for t in inside.get("timers") or []
    ]
    decisions = [
        [str(d.get("slot", "")), {True: "on", False: "off"}.get(d.get("on"), "-"),
         _blank(d.get("plan"))]
        for d in inside.get("next_decisions") or []
    ]  # fmt: skip
    lines = ["", f"inside, at {inside.get('now', '?')}: pending timers"]
    lines += _table(["timer", "at", "in (s)"], timers, width, flexible=(0,))
    lines += ["", "next decisions", *_table(["slot", "on", "plan"], decisions, width, ())]
    ages = inside.get("report_age_s") or {}
    return [*lines, "", "last report (s ago)", *_pairs((k, _blank(v)) for k, v in ages.items())]


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, item in value.items():
            pairs += _flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return pairs
    if isinstance(value, list | tuple) and any(isinstance(v, Mapping | list) for v in value):
        pairs = []
        for index, item in enumerate(value):
            pairs += _flatten(item, f"{prefix}[{index}]")
        return pairs
    if isinstance(value, list | tuple):
        return [(prefix, ", ".join(_blank(v) for v in value))]
    return [(prefix, _blank(value))]


def _pairs(pairs: Iterable[tuple[str, str]]) -> list[str]:
    return [f"{key}: {value}" for key, value in pairs]


def _table(
    header: Sequence[str], rows: list[list[str]], width: int, flexible: Sequence[int]
) -> list[str]:
    """Columns as wide as their content; the `flexible` ones are cut, in that order and down
    to 16 characters, so that a row fits."""
    widths = [max([len(header[i])] + [len(r[i]) for r in rows]) for i in range(len(header))]
    excess = sum(widths) + 2 * (len(widths) - 1) - width
    for floor in (16, 0):  # first down to 16 characters, then down to the header's width
        for i in flexible:
            if excess <= 0:
                break
            cut = min(excess, max(widths[i] - max(len(header[i]), floor), 0))
            widths[i] -= cut
            excess -= cut
    return [
        "  ".join(_cell(cell, widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in [list(header), *rows]
    ]


def _cell(text: str, size: int) -> str:
    return (text if len(text) <= size else text[: max(size - 1, 0)] + "…").ljust(size)


def _fit(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


def _utc(epoch: Any) -> str:
    if not isinstance(epoch, int | float) or isinstance(epoch, bool):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


def _blank(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _by_id(item: tuple[Any, Any]) -> tuple[int, str]:
    key = str(item[0])
    return (int(key), key) if key.isdigit() else (1 << 62, key)
