"""The health document of a running supervisor, for monitoring (`elfe-supervisor health`,
the Zabbix template of deploy/zabbix/): flat keys, numbers only, 0/1 for yes/no, so that every
item is one JSONPath. Built from the introspection replies; a missing reply or key gives null.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

Reply = Mapping[str, Any] | None


def health(
    now: float,
    ping: Reply,
    overview: Reply = None,
    mqtt: Reply = None,
    db: Reply = None,
    plans: Reply = None,
) -> dict[str, Any]:
    alive = bool(ping and ping.get("pong"))
    status = (overview or {}).get("status") or {}
    started = status.get("started_at")
    read_at = (plans or {}).get("last_read_at")
    runs_out = (plans or {}).get("runs_out_at")
    return {
        "alive": int(alive),
        "pid": (ping or {}).get("pid"),
        "version": status.get("version"),
        "uptime_s": _age(now, started) if alive else None,
        "equipment": status.get("equipment"),
        "devices": status.get("devices"),
        "faulty": status.get("faulty"),
        "equipment_err": (db or {}).get("in_err"),
        "equipment_errcom": (db or {}).get("in_errcom"),
        "mqtt_connected": _flag((mqtt or {}).get("connected")),
        "db_connected": _flag((db or {}).get("connected")),
        "db_queued": _sum(db, "queued_transitions", "queued_observed"),
        "ems_db_up": _flag(((plans or {}).get("database") == "up") if plans else None),
        "plan_age_s": _age(now, read_at),
        "plans_left_s": round(runs_out - now) if isinstance(runs_out, int | float) else None,
        "partitions": 1,
        "partitions_alive": int(alive),
    }


# How the documents of several partitions combine: the daemon is as healthy as its sickest part.
_SUMS = ("equipment", "devices", "faulty", "equipment_err", "equipment_errcom", "db_queued")
_WORST_FLAGS = ("mqtt_connected", "db_connected", "ems_db_up")


def combine(documents: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One health document for K partitions (`partitions = K` on one host): alive when every
    partition answers; counts summed; a connection up only when it is up in every partition;
    the oldest plan read, the shortest time the plans hold, the youngest uptime."""

    def values(key: str) -> list[Any]:
        return [d.get(key) for d in documents if isinstance(d.get(key), int | float)]

    def reduce(key: str, how: Callable[[list[Any]], Any]) -> Any:
        found = values(key)
        return how(found) if found else None

    alive = sum(1 for d in documents if d.get("alive") == 1)
    combined: dict[str, Any] = {
        "alive": int(bool(documents) and alive == len(documents)),
        "pid": None,  # one per partition: `inspect` lists them
        "version": next((d["version"] for d in documents if d.get("version")), None),
        "uptime_s": reduce("uptime_s", min),
        **{key: reduce(key, sum) for key in _SUMS},
        **{key: reduce(key, min) for key in _WORST_FLAGS},
        "plan_age_s": reduce("plan_age_s", max),
        "plans_left_s": reduce("plans_left_s", min),
    }
    return {**combined, "partitions": len(documents), "partitions_alive": alive}


def _flag(value: Any) -> int | None:
    return None if value is None else int(bool(value))


def _age(now: float, then: Any) -> int | None:
    return round(max(now - then, 0)) if isinstance(then, int | float) and then else None


def _sum(reply: Reply, *keys: str) -> int | None:
    values = [(reply or {}).get(k) for k in keys]
    return sum(v for v in values if isinstance(v, int)) if reply else None


ERR = 30  # etat_commande_id err
ERRCOM = 60  # etat_controle_id errcom


def state_counts(command: Mapping[int, int], control: Mapping[int, int]) -> dict[str, int]:
    """How many driven equipment are in err (30) and in errcom (60), from their last states."""
    return {
        "in_err": sum(1 for state in command.values() if state == ERR),
        "in_errcom": sum(1 for state in control.values() if state == ERRCOM),
    }
