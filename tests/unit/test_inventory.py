"""Inventory: coordination-database rows -> equipment and device specs, problems naming culprits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.config import Config, config_from_mapping
from protocol.ids import Kind
from protocol.inventory import attach_details, build_equipment, build_inventory, detail_table
from protocol.model import DetailRow, DeviceRow, EquipmentRow, EquipmentSpec

SHELLY_TABLE = "shellyplugs_shellycloud_v1"
TASMOTA_TABLE = "nous_a1t_tasmota_v12"
SCREEN_TABLE = "m5stackcore2_openhasp_v0"

WASHER, DISHWASHER, TANK, HEATER, METER = 112, 111, 131, 151, 901


def config(**extra: object) -> Config:
    return config_from_mapping({"coordination": {"dsn": "postgresql://test"}, **extra}, environ={})


def equipment(
    equipment_id: int = 1, type_id: int = WASHER, typology: int = 120, mode: int = 30
) -> EquipmentRow:
    return EquipmentRow(
        id=equipment_id,
        type_id=type_id,
        typology_id=typology,
        mode=mode,
        control_state=70,
        command_state=11,
        consigne=False,
        started_at=0,
        programmed_at=0,
        household="R001",
        name=f"equipment {equipment_id}",
    )


def raw_device(
    device_id: str,
    equipment_id: int = 1,
    type_id: int = 111,
    type_name: str | None = SHELLY_TABLE,
    usage: int = 11,
    detail_id: int = 1,
) -> DeviceRow:
    """An `equipement_domotique` row as read, before its detail row is attached."""
    return DeviceRow(
        id=device_id,
        equipment_id=equipment_id,
        type_id=type_id,
        type_name=type_name,
        usage=usage,
        hardware_id=device_id.lower(),
        household="R001",
        assigned=True,
        detail_id=detail_id,
    )


def shelly_detail(detail_id: int, device_id: str) -> DetailRow:
    root = f"shellies/shellyplug-s-{device_id}"
    return DetailRow(
        detail_id, device_id, f"{root}/relay/0", f"{root}/relay/0/command", f"{root}/online"
    )


def tasmota_detail(detail_id: int, device_id: str, command: str | None = None) -> DetailRow:
    return DetailRow(
        detail_id,
        device_id,
        f"tele/{device_id}/STATE",
        command or f"cmnd/{device_id}/POWER",
        f"tele/{device_id}/LWT",
    )


def plug(device_id: str = "A101", equipment_id: int = 1, usage: int = 11) -> DeviceRow:
    """A Shelly plug with its detail row attached."""
    (attached,) = attach_details(
        [raw_device(device_id, equipment_id, usage=usage)],
        {SHELLY_TABLE: {1: shelly_detail(1, device_id)}},
    )
    return attached


def tasmota(
    device_id: str = "A102", equipment_id: int = 1, usage: int = 11, command: str | None = None
) -> DeviceRow:
    (attached,) = attach_details(
        [raw_device(device_id, equipment_id, 112, TASMOTA_TABLE, usage)],
        {TASMOTA_TABLE: {1: tasmota_detail(1, device_id, command)}},
    )
    return attached


def screen(device_id: str = "G101", equipment_id: int = 1) -> DeviceRow:
    (attached,) = attach_details(
        [raw_device(device_id, equipment_id, 711, SCREEN_TABLE, 71)],
        {
            SCREEN_TABLE: {
                1: DetailRow(
                    1, device_id, "hasp/g101/state", "hasp/g101/command/jsonl", "hasp/g101/LWT"
                )
            }
        },
    )
    return attached


def build(row: EquipmentRow, devices: list[DeviceRow], cfg: Config | None = None) -> EquipmentSpec:
    return build_equipment(row, devices, cfg or config())


def assert_problem_names(spec: EquipmentSpec, *culprits: str) -> None:
    assert spec.problem is not None
    assert "\n" not in spec.problem
    for culprit in culprits:
        assert culprit in spec.problem, f"{culprit!r} not in {spec.problem!r}"


# --- attach_details ----------------------------------------------------------------------------


def test_detail_table_name() -> None:
    assert detail_table(SHELLY_TABLE) == "equipement_domotique_shellyplugs_shellycloud_v1"
    assert detail_table("x; drop table y") is None
    assert detail_table("") is None


def test_forward_link_selects_the_detail_row() -> None:
    details = {SHELLY_TABLE: {1: shelly_detail(1, "A103"), 2: shelly_detail(2, "A101")}}
    a101, a103 = attach_details(
        [raw_device("A101", detail_id=2), raw_device("A103", equipment_id=3, detail_id=1)], details
    )
    assert a101.control_topic == "shellies/shellyplug-s-A101/relay/0"
    assert a101.command_topic == "shellies/shellyplug-s-A101/relay/0/command"
    assert a101.lwt_topic == "shellies/shellyplug-s-A101/online"
    assert a101.detail_problem is None
    assert a103.command_topic == "shellies/shellyplug-s-A103/relay/0/command"
    assert a103.detail_problem is None


def test_backward_link_must_agree() -> None:
    """A101 points at row 1, but row 1 says it belongs to A103: no topics, a problem."""
    details = {SHELLY_TABLE: {1: shelly_detail(1, "A103")}}
    (device,) = attach_details([raw_device("A101", detail_id=1)], details)
    assert device.command_topic is None and device.control_topic is None
    assert device.detail_problem is not None
    for culprit in ("A103", "equipement_domotique_shellyplugs_shellycloud_v1", "1"):
        assert culprit in device.detail_problem


@pytest.mark.parametrize("details", [{SHELLY_TABLE: None}, {}])
def test_missing_detail_table(details: dict[str, dict[int, DetailRow] | None]) -> None:
    (device,) = attach_details([raw_device("A101")], details)
    assert device.command_topic is None
    assert device.detail_problem is not None
    assert "equipement_domotique_shellyplugs_shellycloud_v1" in device.detail_problem


@pytest.mark.parametrize("rows", [{}, {1: shelly_detail(1, "A101")}])
def test_missing_detail_row(rows: dict[int, DetailRow]) -> None:
    """A101 points at row 7 of an empty table, or of one whose only row (1) names A101."""
    (device,) = attach_details([raw_device("A101", detail_id=7)], {SHELLY_TABLE: rows})
    assert device.command_topic is None
    assert device.detail_problem is not None
    assert "7" in device.detail_problem
    assert "equipement_domotique_shellyplugs_shellycloud_v1" in device.detail_problem


def test_device_of_unknown_type_has_no_detail() -> None:
    (device,) = attach_details([raw_device("X001", type_id=999, type_name=None)], {})
    assert device.detail_problem is not None and "999" in device.detail_problem


def test_blank_topics_become_none_and_topics_are_stripped() -> None:
    detail = DetailRow(1, "A101", "  shellies/x/relay/0 ", "   ", "")
    (device,) = attach_details([raw_device("A101")], {SHELLY_TABLE: {1: detail}})
    assert device.control_topic == "shellies/x/relay/0"
    assert device.command_topic is None
    assert device.lwt_topic is None


def test_attach_keeps_every_device_in_order() -> None:
    devices = [raw_device("A101"), raw_device("X", type_name=None), raw_device("A103", detail_id=9)]
    attached = attach_details(devices, {SHELLY_TABLE: {1: shelly_detail(1, "A101")}})
    assert [d.id for d in attached] == ["A101", "X", "A103"]
    assert [d.detail_problem is None for d in attached] == [True, False, False]


# --- build_equipment: equipment that can be driven -------------------------------------------


def test_plug_driven_washer() -> None:
    spec = build(equipment(type_id=WASHER), [plug("A101")])
    assert spec.problem is None
    assert spec.warnings == ()
    assert spec.kind == Kind.TRIGGERED
    (device,) = spec.devices
    assert device.id == "A101"
    assert device.codec == "shelly_gen1"
    assert device.command_topic == "shellies/shellyplug-s-A101/relay/0/command"
    assert device.lwt_topic == "shellies/shellyplug-s-A101/online"
    assert device.report_period_s == 30.0
    assert spec.device(11) == device


def test_tasmota_driven_tank_gets_the_hot_water_control_parameters() -> None:
    spec = build(equipment(type_id=TANK), [tasmota("A102")])
    assert spec.problem is None
    assert spec.kind == Kind.CONTINUOUS
    assert spec.devices[0].codec == "tasmota"
    assert spec.control.max_off_s == 86400.0


def test_inverted_relay_typology_is_supported() -> None:
    assert build(equipment(type_id=HEATER, typology=190), [plug()]).problem is None


@pytest.mark.parametrize("lwt", ["", "aucun", "NULL"])
def test_placeholder_lwt_means_none(lwt: str) -> None:
    device = DeviceRow(**{**_fields(plug()), "lwt_topic": lwt})
    spec = build(equipment(), [device])
    assert spec.problem is None
    assert spec.devices[0].lwt_topic is None


def _fields(row: DeviceRow) -> dict[str, object]:
    return {name: getattr(row, name) for name in row.__struct_fields__}


def test_configured_codec_drives_a_new_device_type() -> None:
    row = DeviceRow(**{**_fields(tasmota("A150")), "type_id": 113})
    assert build(equipment(), [row]).problem is not None  # 113 is not a known device type
    spec = build(equipment(), [row], config(devices={"codecs": {"113": "tasmota"}}))
    assert spec.problem is None
    assert spec.devices[0].codec == "tasmota"


# --- build_equipment: problems -----------------------------------------------------------------


def test_unknown_equipment_type() -> None:
    spec = build(equipment(type_id=777), [plug()])
    assert_problem_names(spec, "777")
    assert spec.kind is None


def test_unknown_typology() -> None:
    assert_problem_names(build(equipment(typology=125), [plug()]), "125")


def test_unsupported_typology() -> None:
    assert_problem_names(build(equipment(typology=130), [plug()]), "130")


def test_missing_switch_device() -> None:
    assert_problem_names(build(equipment(typology=120), []), "120", "switch")


def test_measuring_only_device_is_not_a_switch() -> None:
    spec = build(equipment(typology=120), [plug(usage=21)])
    assert_problem_names(spec, "120")


def test_unknown_device_type_that_the_typology_needs() -> None:
    unknown = DeviceRow(**{**_fields(plug("Z001")), "type_id": 999})
    spec = build(equipment(typology=120), [unknown])
    assert_problem_names(spec, "Z001", "999")


def test_unknown_device_that_the_typology_does_not_need_is_only_a_warning() -> None:
    thermometer = DeviceRow(**{**_fields(plug("T001", usage=61)), "type_id": 999})
    spec = build(equipment(typology=120), [plug("A101"), thermometer])
    assert spec.problem is None
    assert [d.id for d in spec.devices] == ["A101"]
    assert len(spec.warnings) == 1
    assert "T001" in spec.warnings[0] and "999" in spec.warnings[0]


def test_device_with_a_broken_detail_link_that_the_typology_needs() -> None:
    (stolen,) = attach_details(
        [raw_device("A101", detail_id=1)], {SHELLY_TABLE: {1: shelly_detail(1, "A103")}}
    )
    spec = build(equipment(), [stolen])
    assert_problem_names(spec, "A101", "A103")


def test_tasmota_row_with_the_schema_comment_typo() -> None:
    spec = build(equipment(), [tasmota("A110", command="cmd/A110")])
    assert_problem_names(spec, "A110", "cmd/A110")
    assert spec.devices == ()


@pytest.mark.parametrize("command", ["cmnd/+/POWER", "cmnd/A110/#"])
def test_a_topic_with_an_mqtt_wildcard_is_refused(command: str) -> None:
    spec = build(equipment(), [tasmota("A110", command=command)])
    assert_problem_names(spec, "A110", command, "wildcard")


def test_codec_name_that_does_not_exist() -> None:
    spec = build(equipment(), [plug()], config(devices={"codecs": {"111": "shelly_gen9"}}))
    assert_problem_names(spec, "A101", "shelly_gen9")


def test_screens_are_monitored_but_play_no_role() -> None:
    spec = build(equipment(), [plug("A101"), screen("G101")])
    assert spec.problem is None
    assert [(d.id, d.codec) for d in spec.devices] == [
        ("A101", "shelly_gen1"),
        ("G101", "openhasp"),
    ]
    # a screen whose detail row is broken is a warning, never the equipment's problem
    broken = DeviceRow(
        **{**_fields(screen("G102")), "detail_problem": "no row 5", "command_topic": None}
    )
    spec = build(equipment(), [plug("A101"), broken])
    assert spec.problem is None and "G102" in spec.warnings[0]


@pytest.mark.parametrize("typology", [120, 130, 150, 200])
def test_measured_only_equipment_needs_no_switch(typology: int) -> None:
    spec = build(equipment(type_id=METER, typology=typology), [])
    assert spec.problem is None
    assert spec.kind == Kind.MEASURED


@pytest.mark.parametrize("type_id", [WASHER, TANK, HEATER, METER])
def test_tic_typology_needs_no_switch(type_id: int) -> None:
    reader = tasmota("B008", usage=21)
    assert build(equipment(type_id=type_id, typology=200), [reader]).problem is None
    assert build(equipment(type_id=type_id, typology=200), []).problem is None


# --- build_inventory ---------------------------------------------------------------------------


def test_build_inventory_gives_each_equipment_its_own_devices_and_skips_mode_80() -> None:
    rows = [
        equipment(1, WASHER),
        equipment(2, TANK),
        equipment(3, HEATER, mode=80),  # suppr: no actor
        equipment(4, WASHER, typology=0),  # no typology: no actor
        equipment(5, DISHWASHER),  # no device
    ]
    devices = [plug("A101", 1), tasmota("A102", 2), plug("A103", 3), screen("G101", 1)]
    specs = build_inventory(rows, devices, config())
    assert [s.id for s in specs] == [1, 2, 5]
    by_id = {s.id: s for s in specs}
    assert [d.id for d in by_id[1].devices] == ["A101", "G101"]  # the screen is monitored
    assert [d.id for d in by_id[2].devices] == ["A102"]
    assert by_id[1].problem is None and by_id[2].problem is None
    assert_problem_names(by_id[5], "switch")


@pytest.mark.parametrize("mode", [1, 10, 20, 30, 70])
def test_every_mode_but_80_gets_an_actor(mode: int) -> None:
    assert [s.id for s in build_inventory([equipment(mode=mode)], [plug()], config())] == [1]


# --- never raises ------------------------------------------------------------------------------


topics = st.none() | st.sampled_from(
    ["", "cmd/A110", "cmnd/A1/POWER", "shellies/x/relay/0/command", "tele/A1/STATE", "  "]
)
DEVICE_IDS = ["A101", "A102", "G101", "Z"]
raw_devices = st.builds(
    raw_device,
    st.sampled_from(DEVICE_IDS),
    st.integers(1, 3),
    st.sampled_from([111, 112, 711, 999, 0]),
    st.none() | st.sampled_from([SHELLY_TABLE, TASMOTA_TABLE, SCREEN_TABLE]),
    st.sampled_from([11, 12, 21, 31, 61, 71, 0]),
    st.integers(1, 3),
)
detail_rows = st.builds(
    DetailRow, st.integers(1, 3), st.sampled_from(DEVICE_IDS), topics, topics, topics
)
detail_tables = st.dictionaries(
    st.sampled_from([SHELLY_TABLE, TASMOTA_TABLE, SCREEN_TABLE]),
    st.none() | st.lists(detail_rows, max_size=3).map(lambda rs: {r.id: r for r in rs}),
)


@settings(max_examples=150)
@given(
    rows=st.lists(
        st.builds(
            equipment,
            st.integers(1, 3),
            st.sampled_from([1, 111, 112, 131, 151, 410, 901, 777, 0]),
            st.sampled_from([0, 110, 120, 130, 190, 200, 999]),
            st.sampled_from([1, 10, 20, 30, 70, 80, 5]),
        ),
        max_size=4,
    ),
    devices=st.lists(raw_devices, max_size=5),
    details=detail_tables,
)
def test_build_inventory_never_raises_and_problems_are_one_line(
    rows: list[EquipmentRow],
    devices: list[DeviceRow],
    details: dict[str, dict[int, DetailRow] | None],
) -> None:
    """Whatever the database holds, as the DbGateway reads it: rows, then details attached."""
    specs = build_inventory(rows, attach_details(devices, details), config())
    assert len(specs) == sum(r.typology_id > 0 and r.mode != 80 for r in rows)
    for spec in specs:
        assert spec.problem is None or ("\n" not in spec.problem and spec.problem)
        assert all(d.command_topic and d.control_topic for d in spec.devices)
