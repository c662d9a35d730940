"""The type-specific rows of the equipment, decoded for the household guards."""

from __future__ import annotations

from protocol.details import active_periods, equipment_details
from protocol.model import ComfortSettings, EquipmentDetails


def test_each_kind_gives_its_fields() -> None:
    rows = [
        ("machine", (1, 1_700_000_000, 5400)),
        ("vehicle", (2, 1_700_003_600, 7200, 7400)),
        ("tank", (3, 2400)),
        ("heating", (4, 0)),
        (
            "regulated_heating",
            (5, 1500, 2880, 2930, 5, True, 21600, 28800, 0, 0, 0, 1, 0, 0, 1, 0, 0),
        ),
    ]
    assert equipment_details(rows) == {
        1: EquipmentDetails(deadline=1_700_000_000, cycle_s=5400),
        2: EquipmentDetails(deadline=1_700_003_600, cycle_s=7200, rated_power_w=7400.0),
        3: EquipmentDetails(rated_power_w=2400.0),
        4: EquipmentDetails(rated_power_w=None),
        5: EquipmentDetails(
            rated_power_w=1500.0,
            comfort=ComfortSettings(
                eco_dk=2880, comfort_dk=2930, delta_dk=5, weekday=((21600, 28800),), weekend=()
            ),
        ),
    }


def test_zero_deadline_and_cycle_mean_unknown() -> None:
    assert equipment_details([("machine", (1, 0, None))]) == {1: EquipmentDetails()}


def test_the_first_row_of_an_equipment_wins() -> None:
    rows = [("tank", (3, 2400)), ("tank", (3, 3000)), ("machine", (3, 10, 20))]
    assert equipment_details(rows) == {3: EquipmentDetails(rated_power_w=2400.0)}


def test_only_active_well_ordered_periods_count() -> None:
    assert active_periods([True, 100, 200, False, 300, 400]) == ((100, 200),)
    assert active_periods([True, 200, 100, True, None, 400]) == ()
    assert active_periods([1, 0, 86400, 1, 3600, 7200]) == ((0, 86400), (3600, 7200))
