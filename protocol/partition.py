"""Partitions: which share of the households a supervisor process owns. Pure.

The households are split between `n` partitions by a stable hash of the household name (the
`utilisateur` column): partition `k` of `n` owns every equipment row and every screen whose
household hashes to `k`, so that the equipment and the screens of one household always live in
the same actor system. The hash is

    zlib.crc32(utilisateur.strip().encode("utf-8")) % n

(CRC-32 of IEEE 802.3, the one of zlib, gzip and PNG), the same on every host, every Python
version and every run — never Python's `hash()`, which is salted per process. What has no
household (a NULL or blank `utilisateur`) belongs to partition 0, and so does a stimulus about an
equipment id that no partition knows: partition 0 answers it with the "unknown equipment" error,
the others stay silent, so that exactly one answer is published.

Devices other than screens follow their equipment (a typology needs all its devices in one actor
system); a screen (device type 711, or usage 71) goes by its own household, or with its equipment
when it has none. A screen whose row hangs on an equipment of another household (hence maybe of
another partition) is carried by the first driven equipment of its own household in its
partition: a screen plays no role in a typology, and the screens are found through the equipment.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from protocol.ids import Usage

if TYPE_CHECKING:  # protocol.model imports the configuration, which parses partitions
    from protocol.model import DeviceRow, EquipmentRow

SCREEN_DEVICE_TYPE = 711  # openHASP screens (equipement_domotique_type)
_SHARE = re.compile(r" *(?P<k>[0-9]{1,4}) */ *(?P<n>[0-9]{1,4}) *")
MAX_PARTITIONS = 256


class PartitionError(ValueError):
    """A bad partition setting, worded as the one line the operator sees (without the key)."""


class Partition(msgspec.Struct, frozen=True):
    """Partition `index` of `count` (0 <= index < count)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse(text: str) -> Partition:
    """`"k/n"` -> Partition(k, n); raises PartitionError with the reason."""
    match = _SHARE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise PartitionError(f'expected "k/n" (for example "0/2"), got {text!r}')
    index, count = int(match["k"]), int(match["n"])
    if not 1 <= count <= MAX_PARTITIONS:
        raise PartitionError(f"the number of partitions must be 1 to {MAX_PARTITIONS}, got {count}")
    if index >= count:
        raise PartitionError(f"partition {index} does not exist in {count} (0 to {count - 1})")
    return Partition(index, count)


def household_key(household: str | None) -> str | None:
    """The household name as hashed: surrounding blanks removed; None when there is none."""
    if household is None:
        return None
    key = household.strip()
    return key or None


def household_partition(household: str | None, count: int) -> int:
    """The partition that owns a household; 0 when there is no household."""
    key = household_key(household)
    if key is None or count <= 1:
        return 0
    return zlib.crc32(key.encode("utf-8")) % count


def is_screen(device: DeviceRow) -> bool:
    return device.type_id == SCREEN_DEVICE_TYPE or device.usage == Usage.SCREEN


def equipment_owners(rows: Iterable[EquipmentRow], count: int) -> dict[int, int]:
    """Every equipment row's id -> the partition that owns it."""
    return {row.id: household_partition(row.household, count) for row in rows}


def device_partition(device: DeviceRow, owners: Mapping[int, int], count: int) -> int:
    """A screen goes by its own household; any other device with its equipment."""
    if is_screen(device) and household_key(device.household) is not None:
        return household_partition(device.household, count)
    if device.equipment_id in owners:
        return owners[device.equipment_id]
    return household_partition(device.household, count)


class StimulusScope(msgspec.Struct, frozen=True):
    """Which stimuli (Viriya, operator) this partition handles or answers.

    The owner of an equipment row handles its stimuli; an id in no row is answered by partition 0
    alone ("unknown equipment"). The default answers everything: a supervisor without partitions.
    """

    partition: int = 0
    own: frozenset[int] = frozenset()  # equipment rows of this partition
    foreign: frozenset[int] = frozenset()  # equipment rows of another partition

    def answers(self, equipment: int | None) -> bool:
        """True for the one partition that handles (or rejects) a stimulus about `equipment`;
        None is a stimulus whose equipment id is unreadable."""
        if equipment is None:
            return self.partition == 0
        return equipment in self.own or (self.partition == 0 and equipment not in self.foreign)


class Share(NamedTuple):
    """What one partition loads: its rows and devices, and who owns every equipment id."""

    rows: list[EquipmentRow]
    devices: list[DeviceRow]
    scope: StimulusScope


def share(rows: list[EquipmentRow], devices: list[DeviceRow], partition: Partition | None) -> Share:
    """The rows and devices partition `partition` owns (everything when it is None)."""
    if partition is None or partition.count == 1:
        return Share(rows=rows, devices=devices, scope=StimulusScope())
    owners = equipment_owners(rows, partition.count)
    mine = partition.index
    own_rows = [row for row in rows if owners[row.id] == mine]
    own_devices = [d for d in devices if device_partition(d, owners, partition.count) == mine]
    return Share(
        rows=own_rows,
        devices=[_carried(d, owners, own_rows, mine) for d in own_devices],
        scope=StimulusScope(
            partition=mine,
            own=frozenset(e for e, owner in owners.items() if owner == mine),
            foreign=frozenset(e for e, owner in owners.items() if owner != mine),
        ),
    )


def _carried(
    device: DeviceRow, owners: Mapping[int, int], rows: list[EquipmentRow], mine: int
) -> DeviceRow:
    """A screen attached to an equipment of another partition (its `utilisateur` differs from
    the equipment's) is carried here by the first driven equipment of its own household, so that
    it is still shown; it plays no role in that equipment's typology."""
    if not is_screen(device) or owners.get(device.equipment_id, mine) == mine:
        return device
    from protocol.inventory import wants_actor  # it imports the configuration, which imports us

    key = household_key(device.household)
    hosts = [r.id for r in rows if household_key(r.household) == key and wants_actor(r)]
    return msgspec.structs.replace(device, equipment_id=min(hosts)) if hosts else device


def client_id(base: str, partition: Partition | None) -> str:
    """Every partition has its own MQTT session: `<client_id>-p<k>`."""
    return base if partition is None else f"{base}-p{partition.index}"


def state_file(name: str, partition: Partition | None) -> str:
    """`plans.json` -> `plans-1.json`, `control.sock` -> `control-1.sock` for partition 1."""
    if partition is None:
        return name
    stem, dot, ext = name.partition(".")
    return f"{stem}-{partition.index}{dot}{ext}"


class RestartPolicy(NamedTuple):
    """When the daemon restarts a dead partition process, and when it gives up."""

    delays_s: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0)  # after the 1st, 2nd, ... recent death
    max_deaths: int = 5  # this many deaths within `window_s`: exit non-zero, systemd restarts all
    window_s: float = 300.0
    ping_every_s: float = 10.0  # liveness ping on the partition's control socket
    ping_misses: int = 3  # missed in a row (after a first answer): the partition is killed

    def delay(self, deaths: Iterable[float], now: float) -> float | None:
        """Seconds to wait before restarting after `deaths` (monotonic times); None: give up."""
        recent = sum(1 for t in deaths if now - t <= self.window_s)
        if recent >= self.max_deaths:
            return None
        return self.delays_s[min(max(recent - 1, 0), len(self.delays_s) - 1)]


def combine_introspection(
    replies: Mapping[int, dict[str, Any]], query: dict[str, Any]
) -> dict[str, Any]:
    """One answer from the control sockets of every partition (`inspect`).

    The overview lists each partition's status and equipment count, then every equipment with
    the partition that runs it; an equipment is the answer of the partition that has it; a
    gateway is shown per partition.
    """
    if query.get("equipment") is not None:
        found = [(k, r) for k, r in sorted(replies.items()) if "error" not in r]
        if not found:
            first = min(replies) if replies else None
            return replies[first] if first is not None else {"error": "no partition answers"}
        index, reply = found[0]
        return {"partition": index, **reply}
    if query.get("gateway") is not None:
        return {"partitions": {str(k): r for k, r in sorted(replies.items())}}
    partitions: dict[str, Any] = {}
    equipment: dict[str, Any] = {}
    for k, reply in sorted(replies.items()):
        if "error" in reply:
            partitions[str(k)] = {"error": reply["error"]}
            continue
        owned = reply.get("equipment") or {}
        partitions[str(k)] = {"status": reply.get("status"), "equipment": len(owned)}
        for extra in ("gateways", "actors"):  # the overview asked with the actor tree
            if extra in reply:
                partitions[str(k)][extra] = reply[extra]
        for key, entry in owned.items():
            equipment[str(key)] = {**entry, "partition": k} if isinstance(entry, dict) else entry
    ordered = dict(sorted(equipment.items(), key=lambda item: _id_order(item[0])))
    return {"partitions": partitions, "equipment": ordered}


def _id_order(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (1 << 62, key)
