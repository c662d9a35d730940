"""A household of simulated devices started from plain specs (dicts, or a JSON file).

A spec file is a JSON list of device specs, or an object ``{"devices": [...]}``::

    {"devices": [
      {"kind": "shelly_gen1", "root": "shellies/shellyplug-s-A101",
       "appliance": {"kind": "triggered", "cycle_power_w": 2000, "cycle_s": 5400}},
      {"kind": "tasmota", "topic": "A102", "tele_period_s": 30,
       "appliance": {"kind": "continuous", "rated_power_w": 2400, "full_after_s": 7200}},
      {"kind": "switchbot", "host": "C002",
       "bots": [{"name": "C003", "presses": "shellyplug-s-A101", "button": "start"}]}
    ]}

Kinds, the fields they require and the id that ``household["<id>"]`` finds them by:

============== ============================= ==================================================
kind           required                      id
============== ============================= ==================================================
shelly_gen1    ``root`` (shellies/<mqtt_id>) the mqtt_id (last level of ``root``)
tasmota        ``topic``                     the topic
shelly_gen2    ``prefix`` (topic_prefix)     the prefix (its last level), e.g. ``D003``
tic            ``topic``                     the topic, e.g. ``B101``
shelly_ht      ``root`` (shellies/<mqtt_id>) the mqtt_id, e.g. ``F002``
socorel        ``serial``                    the serial
zigbee2mqtt    ``plugs`` (friendly names)    each plug's friendly name
switchbot      ``host``, ``bots``            the host (``C002``) and each bot's name (``C003``)
openhasp       ``node`` (hasp/<node>)        the node, e.g. ``g001``
============== ============================= ==================================================

The other fields are the keyword arguments of the simulator classes, with the same defaults.
Unknown fields are errors, so that a typo does not silently fall back to a default; two
devices with one id are an error too.

A bot (``switchbot`` kind) may press the appliance of another device of the household:
``presses`` names that device by one of its ids (``household["<id>"]`` finds it), ``output``
selects the output of a device that has several (Socorel), ``button`` is ``start`` or ``power``;
that appliance must be ``pressable``. This builds "a plug that measures + a finger on the same
washing machine" (typology 130), two fingers on power then start (150), or one finger pressed
twice (160).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import msgspec

from simulators.appliance import Appliance
from simulators.mqtt_device import Clock, SimulatedDevice
from simulators.openhasp import SimulatedOpenHasp, elfe_layout
from simulators.shelly_gen1 import SimulatedShellyPlug
from simulators.shelly_gen2 import SimulatedShellyPlus
from simulators.shelly_ht import SimulatedShellyHT
from simulators.socorel import SimulatedSocorel
from simulators.switchbot import Bot, SimulatedSwitchBot
from simulators.tasmota import DEFAULT_FULL_TOPIC, SimulatedTasmotaPlug
from simulators.tic import SimulatedTic
from simulators.zigbee2mqtt import SimulatedZigbee2Mqtt, ZigbeePlug


class SpecError(ValueError):
    """A device spec that cannot be used; the message is one line."""


class ApplianceSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    kind: Literal["triggered", "continuous", "none", "pressable"] = "none"
    cycle_power_w: float = 2000.0
    cycle_s: float = 5400.0
    idle_power_w: float | None = None
    rated_power_w: float = 2000.0
    full_after_s: float | None = None
    ready: bool = True
    buttons: Literal["start", "power_and_start", "start_wakes"] = "start"
    standby_power_w: float = 0.3
    resume_after_outage: bool = True

    def build(self) -> Appliance:
        return Appliance(
            self.kind,
            cycle_power_w=self.cycle_power_w,
            cycle_s=self.cycle_s,
            idle_power_w=self.idle_power_w,
            rated_power_w=self.rated_power_w,
            full_after_s=self.full_after_s,
            ready=self.ready,
            buttons=self.buttons,
            standby_power_w=self.standby_power_w,
            resume_after_outage=self.resume_after_outage,
        )


class ShellyGen1Spec(
    msgspec.Struct, tag="shelly_gen1", tag_field="kind", forbid_unknown_fields=True, frozen=True
):
    root: str
    appliance: ApplianceSpec = ApplianceSpec()
    relay_on: bool = False
    report_period_s: float = 30.0
    mqtt_retain: bool = False
    online_retain: bool = False
    max_power_w: float = 2500.0
    client_id: str | None = None


class TasmotaSpec(
    msgspec.Struct, tag="tasmota", tag_field="kind", forbid_unknown_fields=True, frozen=True
):
    topic: str
    full_topic: str = DEFAULT_FULL_TOPIC
    appliance: ApplianceSpec = ApplianceSpec()
    relay_on: bool = False
    tele_period_s: float = 30.0
    power_retain: bool = False
    group_topic: str | None = "tasmotas"
    initial_total_kwh: float = 0.0
    client_id: str | None = None


class ShellyGen2Spec(
    msgspec.Struct, tag="shelly_gen2", tag_field="kind", forbid_unknown_fields=True, frozen=True
):
    prefix: str  # the device's MQTT topic_prefix, e.g. "D003"
    appliance: ApplianceSpec = ApplianceSpec()
    relay_on: bool = False
    status_ntf: bool = True
    rpc_ntf: bool = True
    report_period_s: float = 60.0
    power_delta_w: float = 10.0
    auto_on: bool = False
    auto_on_delay_s: float = 1800.0
    auto_off: bool = False
    auto_off_delay_s: float = 60.0
    initial_state: Literal["off", "on", "restore_last"] = "off"
    client_id: str | None = None


class TicSpec(msgspec.Struct, tag="tic", tag_field="kind", forbid_unknown_fields=True, frozen=True):
    topic: str
    full_topic: str = DEFAULT_FULL_TOPIC
    mode: Literal["historique", "standard"] = "historique"
    tariff: Literal["BASE", "HC"] = "HC"
    subscribed_kva: int = 6
    load_va: float = 0.0
    offpeak_hours: tuple[tuple[float, float], ...] = ((22.0, 6.0),)
    initial_index_wh: tuple[float, float] = (1_000_000.0, 2_000_000.0)
    meter_id: str | None = None
    tele_period_s: float = 300.0
    group_topic: str | None = "tasmotas"
    client_id: str | None = None


class ShellyHTSpec(
    msgspec.Struct, tag="shelly_ht", tag_field="kind", forbid_unknown_fields=True, frozen=True
):
    root: str  # shellies/<mqtt_id>, e.g. "shellies/F002"
    period_s: float = 21600.0
    awake_s: float = 1.0
    sleep_mode: Literal["drop", "disconnect"] = "drop"
    temperature_c: float = 21.5
    humidity: float = 55.0
    battery: int = 100
    ext_power: bool = False
    mqtt_retain: bool = False
    online_retain: bool = False
    temperature_threshold_c: float = 1.0
    client_id: str | None = None


class SocorelSpec(
    msgspec.Struct, tag="socorel", tag_field="kind", forbid_unknown_fields=True, frozen=True
):
    serial: str
    appliances: list[ApplianceSpec] = []  # outputs 1, 2, ... in order (at most 8)
    outputs: str = "00000000"  # the initial EtatSorties
    report_period_s: float = 30.0
    per_output_topics: bool = False
    retain: bool = False
    manual: bool = False
    client_id: str | None = None


class ZigbeePlugSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    friendly_name: str
    appliance: ApplianceSpec = ApplianceSpec()
    state_on: bool = False
    retain: bool = False
    linkquality: int = 120


class Zigbee2MqttSpec(
    msgspec.Struct, tag="zigbee2mqtt", tag_field="kind", forbid_unknown_fields=True, frozen=True
):
    plugs: list[ZigbeePlugSpec]
    base: str = "zigbee2mqtt"
    availability: bool = True
    legacy_availability: bool = False
    report_period_s: float = 60.0
    power_delta_w: float = 10.0
    client_id: str | None = None


class BotSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    presses: str | None = None  # id of the household device whose appliance the bot presses
    output: int | None = None  # that device's output, when it has several (Socorel)
    button: Literal["start", "power"] = "start"
    battery: int = 94
    rssi: int = -78


class SwitchBotSpec(
    msgspec.Struct, tag="switchbot", tag_field="kind", forbid_unknown_fields=True, frozen=True
):
    host: str
    bots: list[BotSpec]
    main_topic: str = "switchbot"
    ble_delay_s: float = 2.0
    wait_between_s: float = 2.0
    lastwill_period_s: float = 30.0
    attributes_period_s: float = 600.0
    info_after_control_s: float = 10.0
    client_id: str | None = None


class OpenHaspSpec(
    msgspec.Struct, tag="openhasp", tag_field="kind", forbid_unknown_fields=True, frozen=True
):
    node: str  # the plate name, topics hasp/<node>/...; the ELFE layout is loaded at boot
    labels: int | None = None  # id of a label object added to every equipment page
    version: Literal["0.7", "0.6.3"] = "0.7"
    teleperiod_s: float = 300.0
    client_id: str | None = None


DeviceSpec = (
    ShellyGen1Spec
    | TasmotaSpec
    | SwitchBotSpec
    | ShellyGen2Spec
    | TicSpec
    | ShellyHTSpec
    | SocorelSpec
    | Zigbee2MqttSpec
    | OpenHaspSpec
)
_SPEC_TYPES = (
    ShellyGen1Spec,
    TasmotaSpec,
    SwitchBotSpec,
    ShellyGen2Spec,
    TicSpec,
    ShellyHTSpec,
    SocorelSpec,
    Zigbee2MqttSpec,
    OpenHaspSpec,
)


class _SpecFile(msgspec.Struct, forbid_unknown_fields=True):
    devices: list[DeviceSpec]


def parse_specs(
    specs: Iterable[Mapping[str, Any] | DeviceSpec] | Mapping[str, Any],
) -> list[DeviceSpec]:
    """Validate plain specs (dicts, already-typed specs, or ``{"devices": [...]}``)."""
    if isinstance(specs, Mapping):
        try:
            return list(msgspec.convert(specs, _SpecFile).devices)
        except msgspec.ValidationError as exc:
            raise SpecError(str(exc)) from None
    parsed: list[DeviceSpec] = []
    for i, spec in enumerate(specs):
        if isinstance(spec, _SPEC_TYPES):
            parsed.append(spec)
            continue
        try:
            parsed.append(msgspec.convert(spec, DeviceSpec))
        except msgspec.ValidationError as exc:
            raise SpecError(f"device #{i}: {exc}") from None
    return parsed


def load_spec_file(path: str | Path) -> list[DeviceSpec]:
    """Read and validate a JSON spec file; every failure is a one-line :class:`SpecError`."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read it: {exc.strerror or exc}") from None
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise SpecError(f"invalid JSON: {exc}") from None
    if not isinstance(data, list | dict):
        raise SpecError("expected a list of devices or an object with 'devices'")
    return parse_specs(data)


def build_device(
    spec: DeviceSpec,
    *,
    host: str,
    port: int,
    topic_prefix: str = "",
    clock: Clock = time.time,
    username: str | None = None,
    password: str | None = None,
) -> SimulatedDevice:
    """One simulator from one spec; ``topic_prefix`` (e.g. ``"t5f3/"``) is put before its topics.

    Bots are not wired to their appliance here (see :func:`wire_fingers`)."""
    try:
        if isinstance(spec, SwitchBotSpec):
            return SimulatedSwitchBot(
                f"{topic_prefix}{spec.main_topic}/{spec.host}",
                [Bot(b.name, battery=b.battery, rssi=b.rssi) for b in spec.bots],
                host=host,
                port=port,
                ble_delay_s=spec.ble_delay_s,
                wait_between_s=spec.wait_between_s,
                lastwill_period_s=spec.lastwill_period_s,
                attributes_period_s=spec.attributes_period_s,
                info_after_control_s=spec.info_after_control_s,
                client_id=spec.client_id,
                clock=clock,
                username=username,
                password=password,
            )
        if isinstance(spec, Zigbee2MqttSpec):
            return SimulatedZigbee2Mqtt(
                [
                    ZigbeePlug(
                        plug.friendly_name,
                        plug.appliance.build(),
                        state_on=plug.state_on,
                        retain=plug.retain,
                        linkquality=plug.linkquality,
                    )
                    for plug in spec.plugs
                ],
                base=topic_prefix + spec.base,
                host=host,
                port=port,
                availability=spec.availability,
                legacy_availability=spec.legacy_availability,
                report_period_s=spec.report_period_s,
                power_delta_w=spec.power_delta_w,
                client_id=spec.client_id,
                clock=clock,
                username=username,
                password=password,
            )
        if isinstance(spec, OpenHaspSpec):
            return SimulatedOpenHasp(
                f"{topic_prefix}hasp/{spec.node}",
                host=host,
                port=port,
                layout=elfe_layout(labels=spec.labels),
                version=spec.version,
                teleperiod_s=spec.teleperiod_s,
                client_id=spec.client_id,
                clock=clock,
                username=username,
                password=password,
            )
        if isinstance(spec, SocorelSpec):
            return SimulatedSocorel(
                f"{topic_prefix}Socorel/{spec.serial}",
                [a.build() for a in spec.appliances],
                host=host,
                port=port,
                outputs=spec.outputs,
                report_period_s=spec.report_period_s,
                per_output_topics=spec.per_output_topics,
                retain=spec.retain,
                manual=spec.manual,
                client_id=spec.client_id,
                clock=clock,
                username=username,
                password=password,
            )
        if isinstance(spec, ShellyHTSpec):
            return SimulatedShellyHT(
                topic_prefix + spec.root,
                host=host,
                port=port,
                period_s=spec.period_s,
                awake_s=spec.awake_s,
                sleep_mode=spec.sleep_mode,
                temperature_c=spec.temperature_c,
                humidity=spec.humidity,
                battery=spec.battery,
                ext_power=spec.ext_power,
                mqtt_retain=spec.mqtt_retain,
                online_retain=spec.online_retain,
                temperature_threshold_c=spec.temperature_threshold_c,
                client_id=spec.client_id,
                clock=clock,
                username=username,
                password=password,
            )
        if isinstance(spec, TicSpec):
            return SimulatedTic(
                spec.topic,
                host=host,
                port=port,
                mode=spec.mode,
                tariff=spec.tariff,
                subscribed_kva=spec.subscribed_kva,
                load_va=spec.load_va,
                offpeak_hours=spec.offpeak_hours,
                initial_index_wh=spec.initial_index_wh,
                meter_id=spec.meter_id,
                full_topic=topic_prefix + spec.full_topic,
                tele_period_s=spec.tele_period_s,
                group_topic=spec.group_topic,
                client_id=spec.client_id,
                clock=clock,
                username=username,
                password=password,
            )
        appliance = spec.appliance.build()
        if isinstance(spec, ShellyGen2Spec):
            return SimulatedShellyPlus(
                topic_prefix + spec.prefix,
                appliance,
                host=host,
                port=port,
                relay_on=spec.relay_on,
                status_ntf=spec.status_ntf,
                rpc_ntf=spec.rpc_ntf,
                report_period_s=spec.report_period_s,
                power_delta_w=spec.power_delta_w,
                auto_on=spec.auto_on,
                auto_on_delay_s=spec.auto_on_delay_s,
                auto_off=spec.auto_off,
                auto_off_delay_s=spec.auto_off_delay_s,
                initial_state=spec.initial_state,
                client_id=spec.client_id,
                clock=clock,
                username=username,
                password=password,
            )
        if isinstance(spec, ShellyGen1Spec):
            return SimulatedShellyPlug(
                topic_prefix + spec.root,
                appliance,
                host=host,
                port=port,
                report_period_s=spec.report_period_s,
                relay_on=spec.relay_on,
                mqtt_retain=spec.mqtt_retain,
                online_retain=spec.online_retain,
                max_power_w=spec.max_power_w,
                client_id=spec.client_id,
                clock=clock,
                username=username,
                password=password,
            )
        return SimulatedTasmotaPlug(
            spec.topic,
            appliance,
            host=host,
            port=port,
            full_topic=topic_prefix + spec.full_topic,
            tele_period_s=spec.tele_period_s,
            relay_on=spec.relay_on,
            power_retain=spec.power_retain,
            group_topic=spec.group_topic,
            initial_total_kwh=spec.initial_total_kwh,
            client_id=spec.client_id,
            clock=clock,
            username=username,
            password=password,
        )
    except ValueError as exc:
        raise SpecError(f"device {spec_id(spec)!r}: {exc}") from None


def spec_id(spec: DeviceSpec) -> str:
    """The id a spec is known by in messages (and, for most kinds, in ``household[...]``)."""
    if isinstance(spec, ShellyGen1Spec | ShellyHTSpec):
        return spec.root
    if isinstance(spec, SwitchBotSpec):
        return spec.host
    if isinstance(spec, ShellyGen2Spec):
        return spec.prefix
    if isinstance(spec, SocorelSpec):
        return spec.serial
    if isinstance(spec, OpenHaspSpec):
        return spec.node
    if isinstance(spec, Zigbee2MqttSpec):
        return ",".join(plug.friendly_name for plug in spec.plugs) or spec.base
    return spec.topic


def wire_fingers(household: SimulatedHousehold, specs: Sequence[DeviceSpec]) -> None:
    """Give every bot with ``presses`` its target: the button of that device's appliance."""
    for spec, device in zip(specs, household.devices, strict=True):
        if not isinstance(spec, SwitchBotSpec) or not isinstance(device, SimulatedSwitchBot):
            continue
        for bot in spec.bots:
            if bot.presses is None:
                if bot.output is not None:
                    raise SpecError(f"bot {bot.name!r}: 'output' without 'presses'")
                continue
            try:
                target = household[bot.presses]
            except KeyError:
                raise SpecError(
                    f"bot {bot.name!r} presses {bot.presses!r}: no such device"
                ) from None
            try:
                appliance = target.appliance_for(bot.presses, bot.output)
            except (KeyError, ValueError) as exc:
                raise SpecError(f"bot {bot.name!r} presses {bot.presses!r}: {exc}") from None
            if appliance.kind != "pressable":
                raise SpecError(
                    f"bot {bot.name!r} presses {bot.presses!r}, whose appliance is "
                    f"{appliance.kind!r}, not 'pressable'"
                )
            device.set_press_target(bot.name, _presser(target, appliance, bot.button))


def _presser(
    target: SimulatedDevice, appliance: Appliance, button: Literal["start", "power"]
) -> Callable[[float], object]:
    """Press ``appliance`` under the lock of the device that powers it, at its clock's time."""

    def press(at: float) -> object:
        return target.with_core(lambda core, now: appliance.press(now, button))

    return press


class SimulatedHousehold:
    """Several simulated devices started and stopped together (also a context manager)."""

    def __init__(self, devices: Sequence[SimulatedDevice]) -> None:
        self.devices: list[SimulatedDevice] = list(devices)

    @classmethod
    def from_specs(
        cls,
        host: str,
        port: int,
        specs: Iterable[Mapping[str, Any] | DeviceSpec] | Mapping[str, Any],
        *,
        topic_prefix: str = "",
        clock: Clock = time.time,
        username: str | None = None,
        password: str | None = None,
    ) -> Self:
        """Build (not start) the devices and wire the bots to what they press; raises
        :class:`SpecError` for a bad spec."""
        parsed = parse_specs(specs)
        household = cls(
            [
                build_device(
                    spec,
                    host=host,
                    port=port,
                    topic_prefix=topic_prefix,
                    clock=clock,
                    username=username,
                    password=password,
                )
                for spec in parsed
            ]
        )
        owners: dict[str, str] = {}
        for device in household.devices:
            for device_id in dict.fromkeys(device.ids):
                if device_id in owners:
                    raise SpecError(
                        f"{device_id!r} names two devices ({owners[device_id]}, {device.name})"
                    )
                owners[device_id] = device.name
        wire_fingers(household, parsed)
        return household

    def start(self, timeout: float = 5.0) -> Self:
        """Start every device; if one cannot connect, stop those already started and re-raise."""
        started: list[SimulatedDevice] = []
        try:
            for device in self.devices:
                device.start(timeout)
                started.append(device)
        except BaseException:
            for device in reversed(started):
                device.stop()
            raise
        return self

    def stop(self) -> None:
        for device in reversed(self.devices):
            device.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __getitem__(self, name: str) -> SimulatedDevice:
        """A device by its name or one of its ids (:attr:`SimulatedDevice.ids`): Shelly
        ``mqtt_id`` (last level of root), Tasmota topic, ..."""
        for device in self.devices:
            if name == device.name or name in device.ids:
                return device
        raise KeyError(name)

    def __iter__(self) -> Iterator[SimulatedDevice]:
        return iter(self.devices)

    def __len__(self) -> int:
        return len(self.devices)
