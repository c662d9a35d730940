"""Configuration: TOML file + environment, validated by msgspec, every error one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from protocol.config import (
    Config,
    ConfigError,
    ControlParams,
    config_from_mapping,
    load_config,
    with_partition,
)
from protocol.partition import Partition

REPO = Path(__file__).resolve().parents[2]
DSN = "postgresql://elfe@localhost/bdd_coordination"
MINIMAL = f'[coordination]\ndsn = "{DSN}"\n'


def write(tmp_path: Path, text: str, name: str = "elfe.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={} if environ is None else environ)
    return str(info.value)


def assert_one_line_naming(message: str, *names: str) -> None:
    assert "\n" not in message and "\r" not in message, message
    for name in names:
        assert name in message, f"{name!r} not in {message!r}"


def leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> value of every leaf of a nested mapping."""
    if isinstance(value, dict) and value:
        found: dict[str, Any] = {}
        for key, item in value.items():
            found.update(leaves(item, f"{prefix}.{key}" if prefix else str(key)))
        return found
    return {prefix: value}


# --- defaults ------------------------------------------------------------------------------------


def test_only_the_coordination_dsn_is_required(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), environ={})
    assert config.coordination.dsn == DSN
    # Every other key took its default: the same as a Config built from nothing but the DSN.
    expected = msgspec.structs.replace(
        Config(), coordination=msgspec.structs.replace(Config().coordination, dsn=DSN)
    )
    assert config == expected


def test_every_key_is_optional_except_the_dsn() -> None:
    """Each key alone can be left out: removing it from a full file still loads."""
    full = msgspec.to_builtins(Config())
    full["coordination"]["dsn"] = DSN
    for dotted in leaves(full):
        section, _, key = dotted.partition(".")
        raw = {s: dict(v) if isinstance(v, dict) else v for s, v in full.items()}
        raw[section].pop(key.split(".")[0])
        if dotted == "coordination.dsn":
            with pytest.raises(ConfigError, match=r"coordination\.dsn"):
                config_from_mapping(raw, environ={})
        else:
            assert config_from_mapping(raw, environ={}) == config_from_mapping(full, environ={})


def test_every_default_key_is_accepted_by_its_name() -> None:
    """Writing every key with its default value explicitly (no typo possible) loads."""
    raw = msgspec.to_builtins(Config())
    raw["coordination"]["dsn"] = DSN
    config = config_from_mapping(raw, environ={})
    assert config.coordination.dsn == DSN
    assert msgspec.to_builtins(config) == raw


def test_defaults_are_the_specified_ones() -> None:
    config = config_from_mapping({"coordination": {"dsn": DSN}}, environ={})
    assert config.mqtt.base_topic == "elfe"  # interfaces.md §4
    assert config.mqtt.port == 1883
    assert config.ems.boundary_delay_seconds == 5.0  # interfaces.md §1
    assert config.ems.table == "result"
    control = config.control
    assert control.ack_timeout_s == 10.0  # typologies.md §3.2
    assert control.retry_delays_s == (5.0, 15.0, 45.0)
    assert control.on_threshold_w == 10.0  # §3.3
    assert control.stale_factor == 3.0
    assert control.min_switch_s == 60.0  # §3.8
    assert control.verify_s == 180.0
    assert control.cycle_end_s == 300.0
    assert control.max_off_s is None  # §6: none for heaters ...
    assert control.for_type(131).max_off_s == 86400.0  # ... 24 h for hot water
    assert config.devices.codec_for(111) == "shelly_gen1"
    assert config.devices.codec_for(112) == "tasmota"
    assert config.devices.codec_for(999) is None
    assert config.supervisor.partitions == 1
    assert config.supervisor.share is None


@pytest.mark.parametrize(
    ("text", "index", "count"), [("0/1", 0, 1), ("1/3", 1, 3), (" 2 / 4 ", 2, 4)]
)
def test_partition_share_is_parsed(text: str, index: int, count: int) -> None:
    config = config_from_mapping(
        {"coordination": {"dsn": DSN}, "supervisor": {"partition": text}}, environ={}
    )
    assert config.supervisor.share == Partition(index, count)


def test_the_partition_may_come_from_the_environment(tmp_path: Path) -> None:
    """`ELFE_PARTITION`, set by the systemd template unit from its instance name."""
    path = write(tmp_path, MINIMAL)
    config = load_config(path, environ={"ELFE_PARTITION": "1/2"})
    assert config.supervisor.share == Partition(1, 2)
    assert_one_line_naming(error_of(path, {"ELFE_PARTITION": "2-2"}), "supervisor.partition")


def test_a_partition_process_gets_its_share_and_its_own_admin_port() -> None:
    config = config_from_mapping(
        {"coordination": {"dsn": DSN}, "supervisor": {"partitions": 3, "admin_port": 1900}},
        environ={},
    )
    child = with_partition(config, Partition(2, 3))
    assert child.supervisor.share == Partition(2, 3)
    assert child.supervisor.partitions == 1
    assert child.supervisor.admin_port == 1902
    assert child.mqtt == config.mqtt and child.coordination == config.coordination


# --- one-line errors naming the key and the file -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        pytest.param(MINIMAL + '[mqtt]\nport = "1883"\n', "mqtt.port", id="wrong-type"),
        pytest.param(MINIMAL + "[mqtt]\nport = 70000\n", "mqtt.port", id="port-too-big"),
        pytest.param(MINIMAL + "[mqtt]\nkeepalive = 1\n", "mqtt.keepalive", id="keepalive-low"),
        pytest.param(MINIMAL + "[ems]\npoll_seconds = 0\n", "ems.poll_seconds", id="zero-period"),
        pytest.param(
            MINIMAL + "[control]\nretry_delays_s = [5, -1]\n",
            "control.retry_delays_s",
            id="negative-retry",
        ),
        pytest.param(
            MINIMAL + "[control.types.131]\nstale_factor = 0.5\n",
            "stale_factor",
            id="override-out-of-range",
        ),
        pytest.param(
            MINIMAL + '[supervisor]\nlog_level = "LOUD"\n', "supervisor.log_level", id="bad-literal"
        ),
        pytest.param(
            MINIMAL + 'schema = "a; drop table x"\n', "coordination.schema", id="bad-identifier"
        ),
        pytest.param(
            MINIMAL + '[mqtt]\nbase_topic = "elfe/#"\n', "mqtt.base_topic", id="wildcard-topic"
        ),
        pytest.param("[mqtt]\nport = 1883\n", "coordination.dsn", id="missing-dsn"),
        pytest.param('[coordination]\ndsn = ""\n', "coordination.dsn", id="empty-dsn"),
        pytest.param(MINIMAL + "[mqt]\nport = 1883\n", "mqt", id="unknown-section"),
        pytest.param(MINIMAL + "verbose = true\n", "coordination.verbose", id="unknown-key"),
        pytest.param(MINIMAL + "[mqtt]\nprot = 1883\n", "mqtt.prot", id="typo-nested"),
        pytest.param(
            MINIMAL + "[control.types.131]\nmax_of_s = 10\n", "max_of_s", id="typo-in-override"
        ),
        pytest.param(
            MINIMAL + '[devices.codecs]\nshelly = "shelly_gen1"\n',
            "devices.codecs",
            id="codec-key-not-int",
        ),
        pytest.param(
            MINIMAL + "[devices.codecs]\n113 = 5\n", "devices.codecs", id="codec-value-not-str"
        ),
        pytest.param(
            MINIMAL + "[control.types.hot_water]\nmax_off_s = 10\n",
            "control.types",
            id="override-key-not-int",
        ),
        pytest.param(
            MINIMAL + '[supervisor]\npartition = "2/2"\n',
            "supervisor.partition",
            id="partition-out-of-range",
        ),
        pytest.param(
            MINIMAL + '[supervisor]\npartition = "half"\n', "supervisor.partition", id="bad-share"
        ),
        pytest.param(
            MINIMAL + '[supervisor]\npartition = "0/0"\n', "supervisor.partition", id="share-of-0"
        ),
        pytest.param(
            MINIMAL + '[supervisor]\npartition = "0/2"\npartitions = 2\n',
            "supervisor.partition",
            id="share-and-partitions",
        ),
        pytest.param(
            MINIMAL + "[supervisor]\npartitions = 0\n", "supervisor.partitions", id="no-partition"
        ),
        pytest.param(
            MINIMAL + "[supervisor]\npartitions = 4\nadmin_port = 65534\n",
            "supervisor.partitions",
            id="partition-admin-port",
        ),
        pytest.param(MINIMAL + "mqtt = 5\n", "coordination.mqtt", id="scalar-in-section"),
        pytest.param("mqtt = 5\n" + MINIMAL, "mqtt", id="scalar-section"),
    ],
)
def test_bad_value_is_one_line_naming_key_and_file(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    assert_one_line_naming(error_of(path), key, str(path))


def test_unknown_key_error_says_unknown(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "[mqtt]\nhots = 'broker'\n")
    message = error_of(path)
    assert_one_line_naming(message, "mqtt.hots", str(path))
    assert "unknown" in message


def test_toml_syntax_error_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[coordination\ndsn = "x"\n')
    message = error_of(path)
    assert_one_line_naming(message, str(path))
    assert "TOML" in message


def test_unterminated_multiline_string_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + 'comment = """\nnever closed\n')
    assert_one_line_naming(error_of(path), str(path))


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    message = error_of(path)
    assert_one_line_naming(message, str(path))
    assert "not found" in message


def test_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(MINIMAL.encode() + b'[mqtt]\nclient_id = "\xe9lfe"\n')
    assert_one_line_naming(error_of(path), str(path))


def test_key_with_a_newline_still_gives_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '[mqtt]\n"ho\\nst" = "broker"\n')
    assert_one_line_naming(error_of(path), "mqtt.", str(path))


@pytest.mark.parametrize("port", ["abc", "18 83", "", "1883.0"])
def test_bad_mqtt_port_variable_is_one_line_naming_it_and_the_file(
    tmp_path: Path, port: str
) -> None:
    path = write(tmp_path, MINIMAL)
    assert_one_line_naming(error_of(path, {"ELFE_MQTT_PORT": port}), "ELFE_MQTT_PORT", str(path))


@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_out_of_range_mqtt_port_variable_is_rejected(tmp_path: Path, port: str) -> None:
    path = write(tmp_path, MINIMAL)
    assert_one_line_naming(error_of(path, {"ELFE_MQTT_PORT": port}), "mqtt.port", str(path))


# --- environment ---------------------------------------------------------------------------------


FILE_WITH_EVERYTHING = """
[coordination]
dsn = "postgresql://file/coordination"
[ems]
dsn = "postgresql://file/ems"
[mqtt]
host = "file.example"
port = 1883
username = "file-user"
password = "file-password"
"""


@pytest.mark.parametrize(
    ("variable", "text", "read"),
    [
        ("ELFE_COORDINATION_DSN", "postgresql://env/c", lambda c: c.coordination.dsn),
        ("ELFE_EMS_DSN", "postgresql://env/e", lambda c: c.ems.dsn),
        ("ELFE_MQTT_HOST", "broker.env", lambda c: c.mqtt.host),
        ("ELFE_MQTT_PORT", "8883", lambda c: str(c.mqtt.port)),
        ("ELFE_MQTT_USERNAME", "env-user", lambda c: c.mqtt.username),
        ("ELFE_MQTT_PASSWORD", "env-secret", lambda c: c.mqtt.password),
    ],
)
def test_environment_overrides_the_file(
    tmp_path: Path, variable: str, text: str, read: Any
) -> None:
    path = write(tmp_path, FILE_WITH_EVERYTHING)
    from_file = load_config(path, environ={})
    overridden = load_config(path, environ={variable: text, "UNRELATED": "x"})
    assert read(from_file) != text
    assert read(overridden) == text
    # Nothing else changed.
    after = leaves(msgspec.to_builtins(overridden))
    before = leaves(msgspec.to_builtins(from_file))
    assert sum(after[k] != before[k] for k in after) == 1


def test_environment_fills_a_section_absent_from_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    config = load_config(path, environ={"ELFE_COORDINATION_DSN": DSN, "ELFE_MQTT_PORT": "8883"})
    assert config.coordination.dsn == DSN
    assert config.mqtt.port == 8883


def test_the_process_environment_is_used_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELFE_COORDINATION_DSN", DSN)
    monkeypatch.setenv("ELFE_MQTT_HOST", "from-os-environ")
    config = load_config(write(tmp_path, ""))
    assert config.mqtt.host == "from-os-environ"


def test_ems_dsn_falls_back_to_the_coordination_dsn() -> None:
    config = config_from_mapping({"coordination": {"dsn": DSN}}, environ={})
    assert config.ems_dsn == DSN
    separate = config_from_mapping(
        {"coordination": {"dsn": DSN}}, environ={"ELFE_EMS_DSN": "postgresql://ems"}
    )
    assert separate.ems_dsn == "postgresql://ems"


# --- per-type control overrides ------------------------------------------------------------------


def control_of(control: dict[str, Any]) -> Config:
    return config_from_mapping({"coordination": {"dsn": DSN}, "control": control}, environ={})


def test_for_type_without_overrides_is_the_general_parameters() -> None:
    config = control_of({"min_switch_s": 30, "verify_s": 60})
    params = config.control.for_type(112)
    assert isinstance(params, ControlParams)
    assert params.min_switch_s == 30.0
    assert params.verify_s == 60.0
    assert params.max_off_s is None


def test_for_type_applies_built_in_then_configured_overrides() -> None:
    config = control_of({"max_off_s": 7200, "types": {"131": {"min_switch_s": 600}}})
    tank = config.control.for_type(131)
    assert tank.max_off_s == 86400.0  # built-in beats the general value
    assert tank.min_switch_s == 600.0  # configured override
    heater = config.control.for_type(151)
    assert heater.max_off_s == 7200.0
    assert heater.min_switch_s == 60.0


def test_configured_override_beats_the_built_in_one() -> None:
    config = control_of({"types": {"131": {"max_off_s": 3600}}})
    assert config.control.for_type(131).max_off_s == 3600.0


def test_override_of_one_type_does_not_leak_to_another() -> None:
    config = control_of({"types": {"111": {"retry_delays_s": [1, 2]}}})
    assert config.control.for_type(111).retry_delays_s == (1.0, 2.0)
    assert config.control.for_type(112).retry_delays_s == (5.0, 15.0, 45.0)


# --- the shipped example -------------------------------------------------------------------------


EXAMPLE = REPO / "deploy" / "config" / "elfe-supervisor.toml"


def test_deployed_example_config_loads() -> None:
    if not EXAMPLE.exists():
        pytest.skip(f"{EXAMPLE} not written yet")
    config = load_config(EXAMPLE, environ={"ELFE_COORDINATION_DSN": DSN})
    assert config.coordination.dsn == DSN


def test_deployed_example_config_shows_the_defaults() -> None:
    """The example documents every key with its default: it must not drift from the code."""
    if not EXAMPLE.exists():
        pytest.skip(f"{EXAMPLE} not written yet")
    config = load_config(EXAMPLE, environ={"ELFE_COORDINATION_DSN": DSN})
    assert config == config_from_mapping({"coordination": {"dsn": DSN}}, environ={})
