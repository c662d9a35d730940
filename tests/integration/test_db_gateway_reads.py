"""The DbGateway tells, with every row it reads, which of the actors' transitions the row holds:
a DeviceActor drops a row read before its last transition reached the gateway."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from thespian.actors import ActorSystem, ActorTypeDispatcher

from actors.db_gateway import DbGateway
from protocol import messages as m
from protocol.ids import Mode
from tests.site import Site

pytestmark = pytest.mark.integration


class Keeper(ActorTypeDispatcher):
    """Keeps the rows it is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[m.RowChanged] = []

    def receiveMsg_RowChanged(self, message: m.RowChanged, sender: Any) -> None:
        self.rows.append(message)

    def receiveMsg_str(self, message: str, sender: Any) -> None:
        self.send(sender, list(self.rows))


@pytest.fixture
def system() -> Iterator[ActorSystem]:
    asys = ActorSystem("simpleSystemBase")
    yield asys
    asys.shutdown()


def test_reads_carry_the_serial_of_the_last_transition_received(
    site: Site, system: ActorSystem
) -> None:
    gateway = system.createActor(DbGateway)
    system.tell(gateway, m.Configure(site.config()))
    first = system.ask(gateway, m.LoadInventory(), 10)
    assert isinstance(first, m.Inventory) and first.writes_seen.get(1) == 0

    manual = m.WriteState(1, int(time.time()), "screen", mode=Mode.MANUEL, serial=42)
    system.tell(gateway, m.DbWrites((manual,)))
    inventory = system.ask(gateway, m.LoadInventory(), 10)
    row = next(r for r in inventory.rows if r.id == 1)
    assert row.mode == Mode.MANUEL and inventory.writes_seen[1] == 42
    assert inventory.writes_seen.get(2) == 0  # no transition of its own yet

    keeper = system.createActor(Keeper)
    system.tell(gateway, m.LoadRow(1, "viriya", keeper))
    rows = system.ask(keeper, "rows?", 10)
    assert [(r.row.mode, r.writes_seen) for r in rows] == [(Mode.MANUEL, 42)]
