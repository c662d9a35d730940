"""The status documents: one per partition, and the combined one on `<base>/status`."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from protocol.partition import Partition
from protocol.status import (
    OFFLINE,
    Status,
    combine,
    encode,
    partition_of_topic,
    running_status,
    status_topic,
)
from tests.harness import equipment_row, make_spec


def online(equipment: int, plans: str = "database") -> bytes:
    return encode(
        Status("online", "1.0", 1000, "simpleSystemBase", equipment, 2 * equipment, 1, plans)
    )


def combined(parts: dict[int, bytes | None], count: int = 2) -> dict[str, object]:
    return msgspec.to_builtins(combine(parts, count, "1.0", 500, "simpleSystemBase"))


def test_topics() -> None:
    assert status_topic("elfe") == "elfe/status"
    assert status_topic("site/elfe", Partition(3, 4)) == "site/elfe/status/3"
    assert partition_of_topic("site/elfe/status/3", "site/elfe") == 3
    for other in ("site/elfe/status", "site/elfe/status/x", "elfe/status/1", "site/elfe/status/"):
        assert partition_of_topic(other, "site/elfe") is None


def test_every_partition_online_is_online_with_the_sums() -> None:
    doc = combined({0: online(3), 1: online(4)})
    assert doc["state"] == "online" and list(doc["down"]) == []
    assert (doc["equipment"], doc["devices"], doc["faulty"]) == (7, 14, 2)
    assert doc["partitions"] == 2 and doc["plans"] == "database" and doc["started_at"] == 500


def test_one_partition_down_is_degraded_and_counts_only_the_live_ones() -> None:
    for gone in (OFFLINE, None, b"not json", b'{"state": 5}'):
        doc = combined({0: online(3), 1: gone})
        assert doc["state"] == "degraded" and list(doc["down"]) == [1]
        assert doc["equipment"] == 3


def test_no_partition_online_is_offline() -> None:
    doc = combined({0: OFFLINE}, count=3)
    assert doc["state"] == "offline" and list(doc["down"]) == [0, 1, 2] and doc["equipment"] == 0


def test_cached_plans_of_one_partition_show() -> None:
    doc = combined({0: online(3), 1: online(1, "cached until 14:30")})
    assert doc["plans"] == "cached until 14:30"


@given(
    st.dictionaries(st.integers(0, 5), st.one_of(st.none(), st.binary(max_size=40))),
    st.integers(1, 4),
)
def test_any_payload_combines_without_raising(parts: dict[int, bytes | None], count: int) -> None:
    doc = combine(parts, count, "1.0", 0, "simpleSystemBase")
    assert set(doc.down) <= set(range(count))
    assert doc.state in ("online", "degraded", "offline")


def test_the_running_status_counts_devices_and_faulty_equipment() -> None:
    good = make_spec(equipment_row(1))
    faulty = msgspec.structs.replace(make_spec(equipment_row(2)), problem="no relay")
    status = running_status([good, faulty], 2, 1_700_000_000, "simpleSystemBase", "database", "1.0")
    assert status == Status(
        state="online",
        version="1.0",
        started_at=1_700_000_000,
        system_base="simpleSystemBase",
        equipment=2,
        devices=len(good.devices) + len(faulty.devices),
        faulty=1,
        plans="database",
    )
    assert status.devices == 2
