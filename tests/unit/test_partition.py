"""Partitions: the stable household hash, "k/n" shares, and the inventory each partition owns."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import partition
from protocol.model import DeviceRow, EquipmentRow
from protocol.partition import Partition, PartitionError
from tests.harness import plug_row

# --- the hash ------------------------------------------------------------------------------------

# Known values: changing the hash would move households between partitions on a running site.
# `123456789` is CRC-32's published check value (0xCBF43926).
KNOWN = [
    ("123456789", 0xCBF43926, {2: 0, 3: 2, 4: 2, 7: 5}),
    ("R001", 0xEAB3CB6C, {2: 0, 3: 1, 4: 0, 7: 0}),
    ("R004", 0x9AD93FE3, {2: 1, 3: 1, 4: 3, 7: 3}),
    ("foyer_002", 0xC2F47B3E, {2: 0, 3: 2, 4: 2, 7: 4}),
    ("Élodie Martin", 0x428E5F54, {2: 0, 3: 0, 4: 0, 7: 2}),
]


@pytest.mark.parametrize(("household", "crc", "expected"), KNOWN)
def test_the_hash_is_crc32_of_the_utf8_name(
    household: str, crc: int, expected: dict[int, int]
) -> None:
    assert zlib.crc32(household.encode("utf-8")) == crc
    for count, index in expected.items():
        assert partition.household_partition(household, count) == index


@pytest.mark.parametrize("household", [None, "", "   ", "\t"])
def test_no_household_is_partition_0(household: str | None) -> None:
    assert all(partition.household_partition(household, n) == 0 for n in (1, 2, 5))


def test_surrounding_blanks_do_not_move_a_household() -> None:
    assert partition.household_partition(" R004 ", 2) == partition.household_partition("R004", 2)


@given(st.text(), st.integers(1, partition.MAX_PARTITIONS))
def test_a_household_has_one_partition_in_range(household: str, count: int) -> None:
    index = partition.household_partition(household, count)
    assert 0 <= index < count
    same = "".join(list(household))  # another string object, same text
    assert partition.household_partition(same, count) == index


# --- "k/n" ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "index", "count"), [("0/1", 0, 1), ("3/4", 3, 4), (" 1 / 2", 1, 2)]
)
def test_parse(text: str, index: int, count: int) -> None:
    share = partition.parse(text)
    assert share == Partition(index, count)
    assert partition.parse(str(share)) == share


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2/2", "does not exist"),
        ("0/0", "must be 1 to"),
        ("0/999", "must be 1 to"),
        ("-1/2", 'expected "k/n"'),
        ("1", 'expected "k/n"'),
        ("a/b", 'expected "k/n"'),
        ("1/2/3", 'expected "k/n"'),
        ("", 'expected "k/n"'),
        ("1/2\n", 'expected "k/n"'),
    ],
)
def test_parse_errors_are_one_line(text: str, reason: str) -> None:
    with pytest.raises(PartitionError) as info:
        partition.parse(text)
    message = str(info.value)
    assert reason in message and "\n" not in message


@given(st.text(max_size=12))
def test_parse_never_raises_anything_else(text: str) -> None:
    try:
        share = partition.parse(text)
    except PartitionError:
        return
    assert 0 <= share.index < share.count


def test_state_files_and_client_id_of_a_partition() -> None:
    share = Partition(1, 3)
    assert partition.state_file("plans.json", share) == "plans-1.json"
    assert partition.state_file("control.sock", share) == "control-1.sock"
    assert partition.state_file("plans.json", None) == "plans.json"
    assert partition.client_id("elfe-supervisor", share) == "elfe-supervisor-p1"
    assert partition.client_id("elfe-supervisor", None) == "elfe-supervisor"


# --- the share of the inventory ------------------------------------------------------------------


def row(equipment: int, household: str | None) -> EquipmentRow:
    return EquipmentRow(
        id=equipment,
        type_id=112,
        typology_id=120,
        mode=30,
        control_state=70,
        command_state=11,
        consigne=False,
        started_at=0,
        programmed_at=0,
        household=household,
        name=f"equipment {equipment}",
    )


def device(
    device_id: str, equipment: int, household: str | None, type_id: int = 111, usage: int = 11
) -> DeviceRow:
    return plug_row(device_id, equipment, type_id, usage, household)


def screen(device_id: str, equipment: int, household: str | None) -> DeviceRow:
    return device(device_id, equipment, household, type_id=711, usage=71)


HOUSEHOLDS = st.one_of(st.none(), st.sampled_from(["R001", "R002", "R003", "R004", " "]), st.text())


@st.composite
def inventories(draw: st.DrawFn) -> tuple[list[EquipmentRow], list[DeviceRow]]:
    ids = draw(st.lists(st.integers(1, 10_000), unique=True, max_size=30))
    rows = [row(e, draw(HOUSEHOLDS)) for e in ids]
    devices = []
    for n, r in enumerate(rows):
        for m in range(draw(st.integers(0, 3))):
            # a device's own `utilisateur` may even disagree with its equipment's
            household = r.household if draw(st.booleans()) else draw(HOUSEHOLDS)
            make = screen if draw(st.booleans()) else device
            devices.append(make(f"d{n}-{m}", r.id, household))
    orphan = draw(st.booleans())
    if orphan:
        devices.append(screen("orphan", 99_999, draw(HOUSEHOLDS)))
    return rows, devices


def shares(rows: list[EquipmentRow], devices: list[DeviceRow], count: int) -> list[partition.Share]:
    return [partition.share(rows, devices, Partition(k, count)) for k in range(count)]


@given(inventories(), st.integers(1, 6))
def test_every_row_and_device_is_owned_by_exactly_one_partition(
    inventory: tuple[list[EquipmentRow], list[DeviceRow]], count: int
) -> None:
    rows, devices = inventory
    parts = shares(rows, devices, count)
    assert sorted(r.id for p in parts for r in p.rows) == sorted(r.id for r in rows)
    assert sorted(d.id for p in parts for d in p.devices) == sorted(d.id for d in devices)


@given(inventories(), st.integers(1, 6))
def test_a_household_lives_in_one_partition(
    inventory: tuple[list[EquipmentRow], list[DeviceRow]], count: int
) -> None:
    """Equipment and screens of one household together; other devices with their equipment."""
    rows, devices = inventory
    where: dict[str, set[int]] = {}
    for k, part in enumerate(shares(rows, devices, count)):
        owned = {r.id for r in part.rows}
        for r in part.rows:
            assert partition.household_partition(r.household, count) == k
            if partition.household_key(r.household):
                where.setdefault(partition.household_key(r.household) or "", set()).add(k)
        for d in part.devices:
            if partition.is_screen(d) and partition.household_key(d.household):
                where.setdefault(partition.household_key(d.household) or "", set()).add(k)
            known = any(r.id == d.equipment_id for r in rows)
            if known and not partition.is_screen(d):
                assert d.equipment_id in owned
            elif known and d.equipment_id not in owned:
                # a screen left on another partition's equipment: no equipment of its household
                # here could carry it
                key = partition.household_key(d.household)
                assert not any(partition.household_key(r.household) == key for r in part.rows)
    assert all(len(found) == 1 for found in where.values()), where


@given(inventories(), st.integers(1, 6), st.integers(0, 100_000))
def test_exactly_one_partition_answers_a_stimulus(
    inventory: tuple[list[EquipmentRow], list[DeviceRow]], count: int, equipment: int
) -> None:
    """The owner answers about its equipment; partition 0 about an id that no row has."""
    rows, devices = inventory
    parts = shares(rows, devices, count)
    answering = [k for k, p in enumerate(parts) if p.scope.answers(equipment)]
    assert len(answering) == 1
    owner = [k for k, p in enumerate(parts) if any(r.id == equipment for r in p.rows)]
    assert answering == (owner or [0])


def test_one_partition_is_everything() -> None:
    rows = [row(1, "R001"), row(2, None)]
    devices = [device("a", 1, "R001"), screen("s", 2, "R004")]
    for share in (None, Partition(0, 1)):
        part = partition.share(rows, devices, share)
        assert part.rows == rows and part.devices == devices
        assert part.scope.answers(1) and part.scope.answers(12345)


def test_example_split_of_two_households() -> None:
    """R001 hashes to partition 0 of 2, R004 to partition 1 (see KNOWN)."""
    rows = [row(1, "R001"), row(2, "R004"), row(3, None)]
    devices = [
        device("plug-1", 1, "R001"),
        device("plug-2", 2, "R001"),  # a device row naming the wrong household: with its equipment
        screen("screen-4", 2, "R004"),
        screen("screen-1", 2, "R001"),  # a screen goes by its own household
    ]
    first, second = shares(rows, devices, 2)
    assert [r.id for r in first.rows] == [1, 3]
    assert [d.id for d in first.devices] == ["plug-1", "screen-1"]
    assert [r.id for r in second.rows] == [2]
    assert [d.id for d in second.devices] == ["plug-2", "screen-4"]
    # screen-1 hangs on equipment 2 (partition 1): equipment 1 of its household carries it here
    assert {d.id: d.equipment_id for d in first.devices} == {"plug-1": 1, "screen-1": 1}
    assert {d.id: d.equipment_id for d in second.devices} == {"plug-2": 2, "screen-4": 2}
    assert not second.scope.answers(1) and not second.scope.answers(777)
    assert first.scope.answers(777) and not first.scope.answers(2)


# --- restarts ------------------------------------------------------------------------------------


def test_a_dead_partition_is_restarted_with_a_growing_delay() -> None:
    policy = partition.RestartPolicy()
    assert policy.delay([100.0], 100.0) == 1.0
    assert policy.delay([100.0, 101.0], 101.0) == 2.0
    assert policy.delay([100.0, 101.0, 103.0, 108.0], 108.0) == 10.0


def test_five_deaths_in_five_minutes_give_up() -> None:
    policy = partition.RestartPolicy()
    deaths = [0.0, 10.0, 20.0, 30.0, 40.0]
    assert policy.delay(deaths, 40.0) is None
    # the same deaths spread over more than five minutes keep being restarted
    assert policy.delay([0.0, 100.0, 200.0, 300.0, 400.0], 400.0) == 10.0
    assert policy.delay([0.0, 400.0], 400.0) == 1.0


# --- introspection of every partition ------------------------------------------------------------


def overview(status: str, *equipment: int) -> dict[str, object]:
    entries = {str(e): {"name": f"e{e}", "devices": [f"d{e}"]} for e in equipment}
    return {"status": {"state": status}, "equipment": entries}


def test_the_overview_counts_per_partition_and_lists_every_equipment_with_its_partition() -> None:
    replies = {1: overview("online", 10), 0: overview("online", 2, 1), 2: {"error": "no answer"}}
    combined = partition.combine_introspection(replies, {})
    assert combined["partitions"] == {
        "0": {"status": {"state": "online"}, "equipment": 2},
        "1": {"status": {"state": "online"}, "equipment": 1},
        "2": {"error": "no answer"},
    }
    assert list(combined["equipment"]) == ["1", "2", "10"]  # by id, not as text
    assert combined["equipment"]["10"] == {"name": "e10", "devices": ["d10"], "partition": 1}


def test_one_equipment_comes_from_the_partition_that_has_it() -> None:
    query = {"equipment": 10}
    replies = {0: {"error": "no such equipment or gateway: 10"}, 1: {"state": {"mode": 30}}}
    assert partition.combine_introspection(replies, query) == {
        "partition": 1,
        "state": {"mode": 30},
    }
    nobody = {0: {"error": "no such equipment: 10"}, 1: {"error": "no such equipment: 10"}}
    assert partition.combine_introspection(nobody, query) == {"error": "no such equipment: 10"}


def test_a_gateway_is_shown_per_partition() -> None:
    replies = {0: {"received": 3}, 1: {"received": 5}}
    combined = partition.combine_introspection(replies, {"gateway": "mqtt"})
    assert combined == {"partitions": {"0": {"received": 3}, "1": {"received": 5}}}


def test_the_actor_tree_and_the_gateways_of_each_partition_are_kept() -> None:
    tree = {"supervisor": {"uptime_s": 5.0, "messages": 9}}
    replies = {0: {**overview("online", 1), "actors": tree, "gateways": {"db": {"up": True}}}}
    combined = partition.combine_introspection(replies, {"actors": True})
    assert combined["partitions"]["0"]["actors"] == tree
    assert combined["partitions"]["0"]["gateways"] == {"db": {"up": True}}
