"""The monitoring document: flat numbers from the introspection replies."""

from __future__ import annotations

from protocol.health import combine, health


def test_running_supervisor() -> None:
    doc = health(
        1000.0,
        ping={"pong": True, "pid": 42, "system_base": "simpleSystemBase"},
        overview={
            "status": {
                "version": "0.1.0",
                "started_at": 400,
                "equipment": 12,
                "devices": 20,
                "faulty": 1,
            },
        },
        mqtt={"connected": True},
        db={
            "connected": False,
            "queued_transitions": 3,
            "queued_observed": 2,
            "in_err": 2,
            "in_errcom": 5,
        },
        plans={"database": "up", "last_read_at": 940.5, "runs_out_at": 87400},
    )
    assert doc == {
        "alive": 1,
        "pid": 42,
        "version": "0.1.0",
        "uptime_s": 600,
        "equipment": 12,
        "devices": 20,
        "faulty": 1,
        "equipment_err": 2,
        "equipment_errcom": 5,
        "mqtt_connected": 1,
        "db_connected": 0,
        "db_queued": 5,
        "ems_db_up": 1,
        "plan_age_s": 60,
        "plans_left_s": 86400,
        "partitions": 1,
        "partitions_alive": 1,
    }


def test_not_running() -> None:
    doc = health(1000.0, ping=None)
    assert doc["alive"] == 0
    assert all(v is None for k, v in doc.items() if not k.startswith(("alive", "partitions")))
    assert (doc["partitions"], doc["partitions_alive"]) == (1, 0)


def test_plans_never_read() -> None:
    doc = health(5.0, ping={"pong": True}, plans={"database": "down", "last_read_at": None})
    assert (doc["ems_db_up"], doc["plan_age_s"], doc["plans_left_s"]) == (0, None, None)


def test_state_counts() -> None:
    from protocol.health import state_counts

    assert state_counts({1: 30, 2: 11, 3: 30}, {1: 60, 2: 15}) == {"in_err": 2, "in_errcom": 1}
    assert state_counts({}, {}) == {"in_err": 0, "in_errcom": 0}


def partition(alive: bool, equipment: int, mqtt: bool, plan_read_at: float) -> dict[str, object]:
    if not alive:
        return health(1000.0, ping=None)
    return health(
        1000.0,
        ping={"pong": True, "pid": 7},
        overview={"status": {"version": "1.0", "started_at": 100, "equipment": equipment}},
        mqtt={"connected": mqtt},
        db={"connected": True, "queued_transitions": 1, "in_err": 1, "in_errcom": 0},
        plans={"database": "up", "last_read_at": plan_read_at, "runs_out_at": 2000},
    )


def test_partitions_combine_as_healthy_as_the_sickest() -> None:
    doc = combine([partition(True, 10, True, 990.0), partition(True, 5, False, 900.0)])
    assert (doc["alive"], doc["partitions"], doc["partitions_alive"]) == (1, 2, 2)
    assert (doc["equipment"], doc["equipment_err"], doc["db_queued"]) == (15, 2, 2)
    assert (doc["mqtt_connected"], doc["db_connected"]) == (0, 1)  # down in one: down
    assert (doc["plan_age_s"], doc["plans_left_s"], doc["version"]) == (100, 1000, "1.0")


def test_a_dead_partition_makes_the_whole_not_alive() -> None:
    doc = combine([partition(True, 10, True, 990.0), partition(False, 0, False, 0.0)])
    assert (doc["alive"], doc["partitions_alive"], doc["equipment"]) == (0, 1, 10)
    assert doc["mqtt_connected"] == 1  # the dead one says nothing, its alive says it all
