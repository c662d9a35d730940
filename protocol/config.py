"""Configuration schema: a TOML file decoded and validated with msgspec, plus environment overrides.

Unknown keys are errors (a typo must not pass silently); every error is one line naming the key
and the file. Every key has a default except the coordination database DSN.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

Seconds = Annotated[float, msgspec.Meta(ge=0)]
PositiveSeconds = Annotated[float, msgspec.Meta(gt=0)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Identifier = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
]
Topic = Annotated[str, msgspec.Meta(pattern=r"^[^#+\x00]+$", min_length=1)]


class ConfigError(Exception):
    """A configuration problem, already worded as the one line the operator sees."""


class _Strict(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    pass


class CoordinationConfig(_Strict):
    dsn: str = ""
    schema: Identifier = "bdd_coordination_schema"
    reload_seconds: PositiveSeconds = 300.0  # re-read the inventory (new / removed equipment)
    # The supervisor's own tables (device telemetry, event journal); "" disables them.
    own_schema: Annotated[str, msgspec.Meta(pattern=r"^([A-Za-z_][A-Za-z0-9_]*)?$")] = (
        "elfe_supervisor"
    )
    journal_days: Annotated[int, msgspec.Meta(ge=1)] = 90


class EmsConfig(_Strict):
    dsn: str = ""  # empty: the coordination database
    table: Identifier = "result"
    poll_seconds: PositiveSeconds = 60.0
    boundary_delay_seconds: Seconds = 5.0  # read plans this long after each quarter-hour boundary
    # LISTEN on this channel; the trigger of deploy/sql/ems_notify.sql makes new plans apply at once
    notify_channel: Identifier | None = "elfe_ems_result"


class MqttConfig(_Strict):
    host: str = "127.0.0.1"
    port: Port = 1883
    client_id: Annotated[str, msgspec.Meta(min_length=1)] = "elfe-supervisor"
    base_topic: Topic = "elfe"
    username: str | None = None
    password: str | None = None
    keepalive: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 30
    session_expiry_seconds: Annotated[int, msgspec.Meta(ge=0)] = 86400
    command_expiry_seconds: Annotated[int, msgspec.Meta(ge=1)] = 300
    ca_file: str | None = None  # set to use TLS
    protocol: Literal["5", "3.1.1"] = "5"  # 3.1.1 for brokers without MQTT 5 (no message expiry)


class SupervisorConfig(_Strict):
    system_base: Literal["multiprocTCPBase", "simpleSystemBase"] = "multiprocTCPBase"
    admin_port: Port = 1900
    state_dir: str = "/var/lib/elfe-supervisor"
    log_level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR"] = "INFO"
    ready_timeout_seconds: PositiveSeconds = 120.0


class ControlParams(_Strict):
    """Tuning of the state machines (spec typologies.md §3, §5, §6); defaults are the spec's."""

    min_switch_s: Seconds = 60.0  # anti short-cycling; 0 disables it
    on_threshold_w: Seconds = 10.0
    ack_timeout_s: PositiveSeconds = 10.0
    retry_delays_s: tuple[Seconds, ...] = (5.0, 15.0, 45.0)
    verify_s: PositiveSeconds = 180.0  # power must rise this long after a start is acknowledged
    cycle_end_s: PositiveSeconds = 300.0
    stale_factor: Annotated[float, msgspec.Meta(ge=1)] = 3.0
    max_off_s: PositiveSeconds | None = None
    # A device that comes back online subscribes to its command topic after announcing itself
    # (Tasmota, Shelly): re-assert a little later so the order is not lost.
    online_reassert_s: Seconds = 2.0
    finger_ack_timeout_s: PositiveSeconds = 30.0  # a BLE gateway answers a press within this
    press_gap_s: Seconds = 5.0  # between the presses of a start sequence (150, 160)
    boot_delay_s: Seconds = 10.0  # 170: from power-on to the start press
    deadline_guard: bool = True
    deadline_margin_s: Seconds = 900.0
    comfort_guard: bool = True
    meter_step_ratio: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.5  # 180: step / rated power
    # 170: a start is verified above this share of the rated power (the boot draw is not a start)
    start_power_ratio: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.05


class ControlOverrides(_Strict):
    """Per equipment type overrides of `ControlParams` (`[control.types.131]`)."""

    min_switch_s: Seconds | None = None
    on_threshold_w: Seconds | None = None
    ack_timeout_s: PositiveSeconds | None = None
    retry_delays_s: tuple[Seconds, ...] | None = None
    verify_s: PositiveSeconds | None = None
    cycle_end_s: PositiveSeconds | None = None
    stale_factor: Annotated[float, msgspec.Meta(ge=1)] | None = None
    max_off_s: PositiveSeconds | None = None
    online_reassert_s: Seconds | None = None
    finger_ack_timeout_s: PositiveSeconds | None = None
    press_gap_s: Seconds | None = None
    boot_delay_s: Seconds | None = None
    deadline_guard: bool | None = None
    deadline_margin_s: Seconds | None = None
    comfort_guard: bool | None = None
    meter_step_ratio: Annotated[float, msgspec.Meta(gt=0, le=1)] | None = None
    start_power_ratio: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None


DEFAULT_TYPE_OVERRIDES: dict[int, ControlOverrides] = {
    131: ControlOverrides(max_off_s=86400.0),  # hot water: never held off more than 24 h
}


class ControlConfig(ControlParams):
    types: dict[int, ControlOverrides] = {}

    def for_type(self, equipment_type: int) -> ControlParams:
        """One equipment type's parameters: defaults, then built-in, then configured overrides."""
        values = {f: getattr(self, f) for f in ControlParams.__struct_fields__}
        for overrides in (
            DEFAULT_TYPE_OVERRIDES.get(equipment_type),
            self.types.get(equipment_type),
        ):
            if overrides is None:
                continue
            for name in ControlOverrides.__struct_fields__:
                value = getattr(overrides, name)
                if value is not None:
                    values[name] = value
        return ControlParams(**values)


# Device type id (equipement_domotique_type) -> codec name; the mapping is data.
DEFAULT_CODECS: dict[int, str] = {
    111: "shelly_gen1",
    112: "tasmota",
    211: "tic",
    311: "switchbot",
    411: "shelly_gen2",
    611: "shelly_ht",
    711: "openhasp",
    811: "socorel",
}
# Publication periods measured in ELFE (reference protocols.md §0.2), for the staleness rule.
DEFAULT_REPORT_PERIODS: dict[int, float] = {
    111: 30.0,
    112: 30.0,
    211: 300.0,
    311: 600.0,
    411: 60.0,
    611: 21600.0,
    711: 300.0,
    811: 30.0,
}


class DevicesConfig(_Strict):
    codecs: dict[int, str] = {}  # extra or replaced entries of DEFAULT_CODECS
    report_period_s: dict[int, PositiveSeconds] = {}

    def codec_for(self, device_type: int) -> str | None:
        return self.codecs.get(device_type, DEFAULT_CODECS.get(device_type))

    def report_period_for(self, device_type: int) -> float:
        return self.report_period_s.get(device_type, DEFAULT_REPORT_PERIODS.get(device_type, 60.0))


class Config(_Strict):
    coordination: CoordinationConfig = CoordinationConfig()
    ems: EmsConfig = EmsConfig()
    mqtt: MqttConfig = MqttConfig()
    supervisor: SupervisorConfig = SupervisorConfig()
    control: ControlConfig = ControlConfig()
    devices: DevicesConfig = DevicesConfig()

    @property
    def ems_dsn(self) -> str:
        return self.ems.dsn or self.coordination.dsn


# Environment variable -> (section, key, parser). Secrets belong here, not in the file.
ENVIRONMENT: dict[str, tuple[str, str, type]] = {
    "ELFE_COORDINATION_DSN": ("coordination", "dsn", str),
    "ELFE_EMS_DSN": ("ems", "dsn", str),
    "ELFE_MQTT_HOST": ("mqtt", "host", str),
    "ELFE_MQTT_PORT": ("mqtt", "port", int),
    "ELFE_MQTT_USERNAME": ("mqtt", "username", str),
    "ELFE_MQTT_PASSWORD": ("mqtt", "password", str),
}

_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`")


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, override from the environment and validate; raise ConfigError with one line."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: invalid TOML: {exc}") from None
    return config_from_mapping(raw, source=str(path), environ=environ)


def config_from_mapping(
    raw: dict[str, Any], source: str = "<config>", environ: Mapping[str, str] | None = None
) -> Config:
    raw = _apply_environment(raw, os.environ if environ is None else environ, source)
    try:
        config = msgspec.convert(raw, Config, str_keys=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"config file {source}: {_describe(exc)}") from None
    if not config.coordination.dsn:
        raise ConfigError(
            f"config file {source}: coordination.dsn: required (or set ELFE_COORDINATION_DSN)"
        )
    return config


def _apply_environment(
    raw: dict[str, Any], environ: Mapping[str, str], source: str
) -> dict[str, Any]:
    merged = {
        section: dict(values) if isinstance(values, dict) else values
        for section, values in raw.items()
    }
    for variable, (section, key, parse) in ENVIRONMENT.items():
        if variable not in environ:
            continue
        text = environ[variable]
        try:
            value = parse(text)
        except ValueError:
            raise ConfigError(
                f"config file {source}: environment {variable}: expected {parse.__name__}, "
                f"got {text!r}"
            ) from None
        target = merged.setdefault(section, {})
        if isinstance(target, dict):
            target[key] = value
    return merged


def _describe(exc: msgspec.ValidationError) -> str:
    """`Expected int, got str - at $.mqtt.port` -> `mqtt.port: expected int, got str`."""
    message = str(exc).replace("\r", "\\r").replace("\n", "\\n")  # a quoted TOML key may hold one
    key_error = re.match(r"(?P<what>.*) - at `key` in `\$\.?(?P<path>[^`]*)`", message)
    if key_error:
        return f"{key_error['path']}: bad key: {_lower_first(key_error['what'])}"
    match = _PATH.search(message)
    text, path = (message[: match.start()], match.group("path")) if match else (message, "")
    unknown = re.match(r"Object contains unknown field `(?P<field>[^`]+)`", text)
    if unknown:
        key = f"{path}.{unknown['field']}" if path else unknown["field"]
        return f"{key}: unknown key"
    return f"{path or '(top level)'}: {_lower_first(text)}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
