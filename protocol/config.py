"""Configuration schema: a TOML file decoded and validated with msgspec, plus environment overrides.

Unknown keys are errors (a typo must not pass silently); every error is one line naming the key
and the file. Every key has a default except the coordination database DSN.
"""

from __future__ import annotations

import os
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from protocol import partition as partitioning
from protocol.partition import Partition, PartitionError

Seconds = Annotated[float, msgspec.Meta(ge=0)]
PositiveSeconds = Annotated[float, msgspec.Meta(gt=0)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Identifier = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
]
Topic = Annotated[str, msgspec.Meta(pattern=r"^[^#+\x00]+$", min_length=1)]
LogLevel = Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR"]
Module = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
]


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
    # No password here: it is read where the connection is made (runtime/secrets.py), from
    # this file (relative: in $CREDENTIALS_DIRECTORY), systemd's credential `mqtt-password`,
    # or ELFE_MQTT_PASSWORD; it is never part of the configuration the actors receive.
    password_file: str | None = None
    keepalive: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 30
    session_expiry_seconds: Annotated[int, msgspec.Meta(ge=0)] = 86400
    command_expiry_seconds: Annotated[int, msgspec.Meta(ge=1)] = 300
    ca_file: str | None = None  # set to use TLS
    protocol: Literal["5", "3.1.1"] = "5"  # 3.1.1 for brokers without MQTT 5 (no message expiry)


class SupervisorConfig(_Strict):
    system_base: Literal["simpleSystemBase", "multiprocTCPBase"] = "simpleSystemBase"
    admin_port: Port = 1900
    state_dir: str = "/var/lib/elfe-supervisor"
    log_level: LogLevel = "INFO"
    # per module (and the modules under it), e.g. {"actors.mqtt_gateway" = "DEBUG"}
    log_levels: dict[Module, LogLevel] = {}
    ready_timeout_seconds: PositiveSeconds = 120.0
    # the Supervisor and its gateways silent this long: the daemon exits 1 (systemd restarts it)
    liveness_timeout_seconds: PositiveSeconds = 30.0
    # K partition processes on this host, each owning the households that hash to it.
    partitions: Annotated[int, msgspec.Meta(ge=1, le=partitioning.MAX_PARTITIONS)] = 1
    # "k/n": this host runs partition k of n (several hosts); excludes partitions > 1.
    partition: str = ""

    @property
    def share(self) -> Partition | None:
        """The partition this process runs; None when it owns every household."""
        return partitioning.parse(self.partition) if self.partition else None


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
    # Continuous loads: each equipment applies an EMS decision a stable offset in [0, stagger_s)
    # later (`protocol.ems.stagger_offset`), so that a feeder's water heaters do not all switch
    # in the same second; 0 (the default) switches at once.
    stagger_s: Seconds = 0.0


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
    stagger_s: Seconds | None = None


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


Colour = Annotated[str, msgspec.Meta(pattern=r"^#[0-9A-Fa-f]{6}$")]
PageId = Annotated[int, msgspec.Meta(ge=1, le=255)]  # openHASP pages are uint8; 0 is every page
ObjectId = Annotated[int, msgspec.Meta(ge=1, le=254)]  # 0 is the page itself


class ScreenPage(_Strict):
    """One equipment page of the household screen: which equipment types it shows, and the ids
    of its objects on that page (None: the page has no such object). Reference protocols.md §1.9.
    """

    page: PageId
    types: tuple[int, ...]
    switch: ObjectId | None = 3  # pilot switch, val 1 = piloted
    led: ObjectId | None = 10  # status LED (bg_color)
    end_hour: ObjectId | None = None  # end time (machines) or ready-by time (car): hour roller
    end_quarter: ObjectId | None = None  # ... quarter roller (index 0..3)
    cycle_hours: ObjectId | None = None  # cycle duration: hours roller (0..23)
    cycle_quarters: ObjectId | None = None  # ... quarters roller (0..3)
    charge: ObjectId | None = None  # remaining charge roller (index = percent div 10)
    label: ObjectId | None = None  # "Démarrage prévu 14:30" or the reason of the last event
    summary_led: ObjectId | None = None  # this page's LED on the summary page


def _machine_page(page: int, types: tuple[int, ...], summary_led: int) -> ScreenPage:
    return ScreenPage(
        page=page,
        types=types,
        end_hour=8,
        end_quarter=9,
        cycle_hours=5,
        cycle_quarters=6,
        summary_led=summary_led,
    )


# The ELFE screens (spec interfaces.md §3, reference elfe-commande-2023.md §5.5).
DEFAULT_SCREEN_PAGES: tuple[ScreenPage, ...] = (
    _machine_page(2, (111,), 12),  # dishwasher
    _machine_page(3, (112,), 13),  # washing machine
    _machine_page(4, (113,), 14),  # dryer
    ScreenPage(page=5, types=(221,), end_hour=5, end_quarter=6, charge=8, summary_led=15),  # car
    ScreenPage(page=6, types=(131,), summary_led=16),  # hot water
    ScreenPage(page=7, types=(151, 155), summary_led=17),  # heating
)


class ScreensConfig(_Strict):
    """The household screens (openHASP, device type 711): layout, colours, time zone."""

    pages: tuple[ScreenPage, ...] = DEFAULT_SCREEN_PAGES
    summary_page: PageId | None = 8
    connection_page: PageId | None = 9
    connection_label: ObjectId = 8
    connection_text: Annotated[str, msgspec.Meta(max_length=200)] = "ecran connecté"
    connection_color: Colour = "#208020"
    piloted_color: Colour = "#00FF00"
    manual_color: Colour = "#FF0000"
    error_color: Colour = "#FF8000"  # the equipment's state machine is in `err` (30)
    timezone: Annotated[str, msgspec.Meta(min_length=1)] = "Europe/Paris"
    # Published (the node name) when a screen comes back online; "" publishes nothing
    indicators_topic: Annotated[str, msgspec.Meta(pattern=r"^[^#+\x00]*$")] = "INDICATEURS/refresh"
    coalesce_seconds: Seconds = 0.05  # a burst of changes within this gives one publish per page
    # Every screen re-reads its household this often (changes made in the database by others)
    reread_seconds: PositiveSeconds = 300.0
    max_publish_bytes: Annotated[int, msgspec.Meta(ge=1024, le=2000)] = 1800

    def page_for_type(self, equipment_type: int) -> ScreenPage | None:
        return next((p for p in self.pages if equipment_type in p.types), None)

    def page_numbered(self, page: int) -> ScreenPage | None:
        return next((p for p in self.pages if p.page == page), None)


def screens_problem(screens: ScreensConfig) -> str | None:
    """What makes a layout unusable (the first problem, one line), or None."""
    try:
        zoneinfo.ZoneInfo(screens.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return f"screens.timezone: unknown time zone {screens.timezone!r}"
    seen_pages: set[int] = set()
    seen_types: set[int] = set()
    summary_leds: set[int] = set()
    for index, page in enumerate(screens.pages):
        where = f"screens.pages[{index}]"
        if page.page in seen_pages or page.page in (screens.summary_page, screens.connection_page):
            return f"{where}.page: page {page.page} is used twice"
        seen_pages.add(page.page)
        if not page.types:
            return f"{where}.types: at least one equipment type"
        for equipment_type in page.types:
            if equipment_type in seen_types:
                return f"{where}.types: equipment type {equipment_type} is on two pages"
            seen_types.add(equipment_type)
        ids = [
            getattr(page, name)
            for name in ScreenPage.__struct_fields__
            if name not in ("page", "types", "summary_led") and getattr(page, name) is not None
        ]
        if len(ids) != len(set(ids)):
            return f"{where}: two objects share one id on page {page.page}"
        if (page.end_hour is None) != (page.end_quarter is None):
            return f"{where}: end_hour and end_quarter go together"
        if (page.cycle_hours is None) != (page.cycle_quarters is None):
            return f"{where}: cycle_hours and cycle_quarters go together"
        if page.summary_led is not None:
            if page.summary_led in summary_leds:
                return f"{where}.summary_led: LED {page.summary_led} is used twice"
            summary_leds.add(page.summary_led)
    if screens.summary_page is not None and screens.summary_page == screens.connection_page:
        return "screens.connection_page: the summary page too"
    return None


class Config(_Strict):
    coordination: CoordinationConfig = CoordinationConfig()
    ems: EmsConfig = EmsConfig()
    mqtt: MqttConfig = MqttConfig()
    supervisor: SupervisorConfig = SupervisorConfig()
    control: ControlConfig = ControlConfig()
    devices: DevicesConfig = DevicesConfig()
    screens: ScreensConfig = ScreensConfig()

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
    "ELFE_MQTT_PASSWORD_FILE": ("mqtt", "password_file", str),
    # "k/n", set by the systemd template unit elfe-supervisor@k-n.service (several hosts)
    "ELFE_PARTITION": ("supervisor", "partition", str),
}
# Secrets: read where they are used (runtime/secrets.py), never kept in a Config. A DSN from
# the environment may hold a password: the Config keeps it without.
SECRET_ENVIRONMENT = ("ELFE_MQTT_PASSWORD", "ELFE_COORDINATION_DSN", "ELFE_EMS_DSN")

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
    _refuse_secrets(raw, source)
    raw = _apply_environment(raw, os.environ if environ is None else environ, source)
    try:
        config = msgspec.convert(raw, Config, str_keys=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"config file {source}: {_describe(exc)}") from None
    config = msgspec.structs.replace(
        config,
        coordination=msgspec.structs.replace(
            config.coordination, dsn=dsn_without_password(config.coordination.dsn)
        ),
        ems=msgspec.structs.replace(config.ems, dsn=dsn_without_password(config.ems.dsn)),
    )
    if not config.coordination.dsn:
        raise ConfigError(
            f"config file {source}: coordination.dsn: required (or set ELFE_COORDINATION_DSN)"
        )
    _check_partitions(config.supervisor, source)
    problem = screens_problem(config.screens)
    if problem:
        raise ConfigError(f"config file {source}: {problem}")
    return config


def _check_partitions(supervisor: SupervisorConfig, source: str) -> None:
    last_port = supervisor.admin_port + supervisor.partitions - 1
    if last_port > 65535:
        raise ConfigError(
            f"config file {source}: supervisor.partitions: partition {supervisor.partitions - 1} "
            f"would use admin port {last_port} (admin_port + k), above 65535"
        )
    if not supervisor.partition:
        return
    try:
        partitioning.parse(supervisor.partition)
    except PartitionError as exc:
        raise ConfigError(f"config file {source}: supervisor.partition: {exc}") from None
    if supervisor.partitions > 1:
        raise ConfigError(
            f"config file {source}: supervisor.partition: runs one share of several hosts and "
            f"cannot be combined with supervisor.partitions = {supervisor.partitions} "
            "(partitions on this host)"
        )


def with_partition(config: Config, share: Partition) -> Config:
    """The configuration of one partition process started by the daemon (`--partition k/K`).

    On multiprocTCPBase partition k's actor system listens on `admin_port + k`.
    """
    supervisor = msgspec.structs.replace(
        config.supervisor,
        partition=str(share),
        partitions=1,
        admin_port=config.supervisor.admin_port + share.index,
    )
    return msgspec.structs.replace(config, supervisor=supervisor)


def _refuse_secrets(raw: dict[str, Any], source: str) -> None:
    """A password written in the file would travel with the configuration: refused."""
    mqtt = raw.get("mqtt")
    if isinstance(mqtt, dict) and "password" in mqtt:
        raise ConfigError(
            f"config file {source}: mqtt.password: no password in the configuration file; "
            "use mqtt.password_file, systemd's LoadCredential=mqtt-password or ELFE_MQTT_PASSWORD"
        )
    for section in ("coordination", "ems"):
        values = raw.get(section)
        dsn = values.get("dsn") if isinstance(values, dict) else None
        if isinstance(dsn, str) and dsn_without_password(dsn) != dsn:
            raise ConfigError(
                f"config file {source}: {section}.dsn: no password in the DSN; use libpq's "
                "password file (passfile, PGPASSFILE, systemd's LoadCredential=pgpass)"
            )


def dsn_without_password(dsn: str) -> str:
    """The DSN without its password (a DSN libpq cannot parse is left for it to refuse)."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return dsn
    if not params.pop("password", None):
        return dsn
    return make_conninfo(**params)


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
