"""Simulated Tasmota Teleinfo (TIC / Linky) reader, ELFE type 211: protocols.md §4.2.

The MQTT side is the Tasmota of :mod:`simulators.tasmota` (``FullTopic``, ``tele/<t>/LWT`` =
``Online`` / will ``Offline`` retained, ``INFO1..3``, ``TelePeriod``, ``State``,
``PowerRetain``), on a board without a relay, reading the meter with the energy driver
``xnrg_15_teleinfo``:

* Every ``TelePeriod`` (default 300 s: ELFE measured 5 min), and at once on
  ``cmnd/<t>/TelePeriod``, ``tele/<t>/STATE`` (no ``POWER``: there is no relay) then
  ``tele/<t>/SENSOR`` = ``{"Time":…,"ENERGY":{…},"TIC":{…}}``.
* ``ENERGY``: ``TotalStartTime``, ``Total`` (the meter's index, kWh), ``Yesterday``, ``Today``,
  ``Period``, ``Power`` = the **apparent** power in VA (``PAPP`` / ``SINSTS``), ``Current``
  (whole amperes, ``IINST`` / ``IRMS1``), ``Load`` (% of the subscribed current: ``ISOUSC``,
  or ``PREF`` kVA × 5). Standard mode also carries ``URMS1``, which makes Tasmota print
  ``ApparentPower`` (U × I, at least ``Power``), ``ReactivePower``, ``Factor`` and ``Voltage``.
* ``TIC``: every label of the last frame, in frame order; digit-only values as numbers, others
  (and the meter ids ``ADCO`` / ``ADSC``) as strings; ``PJOURF+1`` and ``MSG1`` are
  blacklisted. Historique: ``ADCO``, ``OPTARIF``, ``ISOUSC``, ``BASE`` or ``HCHC`` / ``HCHP``,
  ``PTEC``, ``IINST``, ``IMAX``, ``PAPP`` (VA, to the nearest 10), ``HHPHC``, ``MOTDETAT``.
  Standard: ``ADSC``, ``VTIC``, ``NGTF``, ``LTARF``, ``EAST``, ``EASF01..10``, ``EASD01..04``,
  ``IRMS1``, ``URMS1``, ``PREF``, ``PCOUP``, ``SINSTS``, ``SMAXSN``, ``UMOY1``, ``STGE``,
  ``NTARF``, ``NJOURF``, ``NJOURF+1``, ``RELAIS``.
* The apparent power follows the household load (:meth:`TicCore.set_load_va`); the indexes
  integrate it (counted as active energy, cos φ = 1), on the off-peak index during
  ``offpeak_hours`` (local time) with the ``HC`` option. In historique mode a current above
  ``ISOUSC`` publishes ``{"TIC":{"ADPS":1}}`` at once, as the driver's ADPS callback does.
* ``cmnd/<t>/POWER`` (or ``POWER1``..): the board has no relay (``devices_present`` = 0), so
  ``CmndPower`` does nothing and the command handler's default reply stays:
  ``stat/<t>/RESULT`` = ``{"Command":"Error"}``; ``POWER0`` gets no reply. The empty
  ``cmnd/<t>/POWER`` every Tasmota publishes on connect is published here too.
* Not simulated: ``EnergyConfig`` (raw frames, mode switch) and three-phase meters.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Sequence
from datetime import timedelta, tzinfo
from typing import Literal

from simulators.core import Publish
from simulators.mqtt_device import Clock, SimulatedDevice
from simulators.tasmota import DEFAULT_FULL_TOPIC, TasmotaCore, _compact, split_command

TicMode = Literal["historique", "standard"]
Tariff = Literal["BASE", "HC"]
BLACKLIST = frozenset({"PJOURF+1", "MSG1"})


def _meter_id(seed: str) -> str:
    """A stable 12-digit meter number (ADCO / ADSC) for ``seed``."""
    return f"{int(hashlib.sha256(seed.encode()).hexdigest(), 16) % 10**12:012d}"


def tic_json(labels: Sequence[tuple[str, str]]) -> str:
    """The driver's ``ResponseAppendTInfo``: digit-only values as numbers (``atol``), except the
    meter ids; empty values and blacklisted labels left out."""
    parts: list[str] = []
    for name, value in labels:
        if not value or name in BLACKLIST:
            continue
        if value.isdigit() and name not in ("ADCO", "ADSC"):
            parts.append(f'"{name}":{int(value)}')
        else:
            parts.append(f'"{name}":"{value}"')
    return "{" + ",".join(parts) + "}"


class TicCore(TasmotaCore):
    """Pure Teleinfo reader logic: see the module docstring for what it reproduces."""

    relays = 0

    def __init__(
        self,
        topic: str,
        *,
        now: float,
        mode: TicMode = "historique",
        tariff: Tariff = "HC",
        subscribed_kva: int = 6,
        load_va: float = 0.0,
        offpeak_hours: Sequence[tuple[float, float]] = ((22.0, 6.0),),
        initial_index_wh: tuple[float, float] = (1_000_000.0, 2_000_000.0),
        meter_id: str | None = None,
        full_topic: str = DEFAULT_FULL_TOPIC,
        tele_period_s: float = 300.0,
        group_topic: str | None = "tasmotas",
        voltage_v: float = 231.0,
        tz: tzinfo | None = None,
    ) -> None:
        if mode not in ("historique", "standard"):
            raise ValueError(f"mode must be 'historique' or 'standard', got {mode!r}")
        if tariff not in ("BASE", "HC"):
            raise ValueError(f"tariff must be 'BASE' or 'HC', got {tariff!r}")
        if not 3 <= subscribed_kva <= 36:
            raise ValueError(f"subscribed_kva must be in 3..36, got {subscribed_kva!r}")
        if not load_va >= 0:
            raise ValueError(f"load_va must be >= 0, got {load_va!r}")
        for start, end in offpeak_hours:
            if not (0 <= start < 24 and 0 <= end <= 24):
                raise ValueError(f"off-peak hours must be within 0..24, got {(start, end)!r}")
        self.mode: TicMode = mode
        self.tariff: Tariff = tariff
        self.subscribed_kva = subscribed_kva
        self.offpeak_hours = tuple((float(a), float(b)) for a, b in offpeak_hours)
        self.meter_id = meter_id or _meter_id(f"tic/{topic}")
        self.tz = tz
        self._load_va = float(load_va)
        # Wh: off-peak then peak (BASE: everything on the first one).
        self._index_wh = [float(initial_index_wh[0]), float(initial_index_wh[1])]
        if tariff == "BASE":
            self._index_wh = [sum(self._index_wh), 0.0]
        self._t = now
        self._max_va_today = self._load_va
        super().__init__(
            topic,
            None,
            now=now,
            full_topic=full_topic,
            tele_period_s=tele_period_s,
            group_topic=group_topic,
            voltage_v=voltage_v,
            tz=tz,
            module="WifInfo",
        )

    # -- the meter -------------------------------------------------------------------------

    def offpeak(self, now: float) -> bool:
        if self.tariff == "BASE":
            return False
        local = self._local(now)
        hour = local.hour + local.minute / 60.0 + local.second / 3600.0
        for start, end in self.offpeak_hours:
            inside = start <= hour < end if start <= end else (hour >= start or hour < end)
            if inside:
                return True
        return False

    def _next_boundary(self, t: float) -> float:
        """The first instant after ``t`` at which the tariff period changes."""
        if self.tariff == "BASE":
            return math.inf
        midnight = self._local(t).replace(hour=0, minute=0, second=0, microsecond=0)
        candidates = (
            (midnight + timedelta(days=days, hours=hour)).timestamp()
            for days in (0, 1)
            for period in self.offpeak_hours
            for hour in period
        )
        return min((b for b in candidates if b > t), default=math.inf)

    def _advance(self, now: float) -> None:
        """Integrate the load up to ``now`` on the index of each tariff period crossed."""
        while self._t < now:
            end = min(now, self._next_boundary(self._t))
            index = 0 if self.tariff == "BASE" or self.offpeak(self._t) else 1
            self._index_wh[index] += self._load_va * (end - self._t) / 3600.0
            self._t = end

    def set_load_va(self, va: float, now: float) -> list[Publish]:
        """The household's apparent power changes at ``now``; an over-current trips ADPS."""
        if not va >= 0:
            raise ValueError(f"va must be >= 0, got {va!r}")
        self._advance(now)
        self._roll_day(now)
        self._load_va = float(va)
        self._max_va_today = max(self._max_va_today, self._load_va)
        if self.mode == "historique" and self.current_a() > self.isousc:
            return [Publish(self.topic_for("tele", "SENSOR"), '{"TIC":{"ADPS":1}}')]
        return []

    @property
    def load_va(self) -> float:
        return self._load_va

    @property
    def isousc(self) -> int:
        """The subscribed current (A): ``ISOUSC``, or ``PREF`` kVA × 5."""
        return self.subscribed_kva * 5

    def current_a(self) -> int:
        return round(self._load_va / self.voltage_v)

    def index_wh(self, now: float) -> tuple[int, int]:
        """(off-peak, peak) indexes in Wh, as the meter prints them (BASE: (total, 0))."""
        self._advance(now)
        return int(self._index_wh[0]), int(self._index_wh[1])

    def _total_wh(self, now: float) -> float:
        self._advance(now)
        return float(sum(int(x) for x in self._index_wh))

    def power_w(self, now: float) -> float:
        return self._load_va

    def _roll_day(self, now: float) -> None:
        day = self._day
        super()._roll_day(now)
        if self._day != day:
            self._max_va_today = self._load_va

    # -- frames ----------------------------------------------------------------------------

    def labels(self, now: float) -> list[tuple[str, str]]:
        """The last frame's labels and raw values, in frame order."""
        hc, hp = self.index_wh(now)
        offpeak = self.offpeak(now)
        current = self.current_a()
        if self.mode == "historique":
            labels = [
                ("ADCO", self.meter_id),
                ("OPTARIF", "BASE" if self.tariff == "BASE" else "HC.."),
                ("ISOUSC", f"{self.isousc:02d}"),
            ]
            if self.tariff == "BASE":
                labels.append(("BASE", f"{hc:09d}"))
                ptec = "TH.."
            else:
                labels += [("HCHC", f"{hc:09d}"), ("HCHP", f"{hp:09d}")]
                ptec = "HC.." if offpeak else "HP.."
            papp = math.floor(self._load_va / 10.0 + 0.5) * 10
            return [
                *labels,
                ("PTEC", ptec),
                ("IINST", f"{current:03d}"),
                ("IMAX", "090"),
                ("PAPP", f"{papp:05d}"),
                ("HHPHC", "A"),
                ("MOTDETAT", "000000"),
            ]
        base = self.tariff == "BASE"
        easf = [hc, 0 if base else hp] + [0] * 8
        sinsts = round(self._load_va)
        return [
            ("ADSC", self.meter_id),
            ("VTIC", "02"),
            ("NGTF", "BASE" if base else "H CREUSE/PLEINE"),
            ("LTARF", "BASE" if base else ("HEURE CREUSE" if offpeak else "HEURE PLEINE")),
            ("EAST", f"{hc + hp:09d}"),
            *((f"EASF{i:02d}", f"{value:09d}") for i, value in enumerate(easf, start=1)),
            *((f"EASD{i:02d}", f"{value:09d}") for i, value in enumerate(easf[:4], start=1)),
            ("IRMS1", f"{current:03d}"),
            ("URMS1", f"{round(self.voltage_v):03d}"),
            ("PREF", f"{self.subscribed_kva:02d}"),
            ("PCOUP", f"{self.subscribed_kva:02d}"),
            ("SINSTS", f"{sinsts:05d}"),
            ("SMAXSN", f"{round(self._max_va_today):05d}"),
            ("UMOY1", f"{round(self.voltage_v):03d}"),
            ("STGE", "003A0001" if offpeak or base else "013A0001"),
            ("NTARF", "01" if offpeak or base else "02"),
            ("NJOURF", "00"),
            ("NJOURF+1", "00"),
            ("PJOURF+1", "00008001 NONUTILE NONUTILE"),
            ("RELAIS", "000"),
        ]

    def sensor_json(self, now: float) -> str:
        """``tele/<t>/SENSOR``: ``ENERGY`` as ``EnergyShow`` prints it, then ``TIC``."""
        self._roll_day(now)
        labels = self.labels(now)
        values = dict(labels)
        total_wh = self._total_wh(now)
        power = int(values.get("PAPP", values.get("SINSTS", "0")))
        current = int(values.get("IINST", values.get("IRMS1", "0")))
        period_wh = total_wh - self._period_start_wh
        self._period_start_wh = total_wh
        fields = [
            f'"TotalStartTime":"{self.total_start_time}"',
            f'"Total":{total_wh / 1000:.3f}',
            f'"Yesterday":{self._yesterday_wh / 1000:.3f}',
            f'"Today":{(total_wh - self._today_start_wh) / 1000:.3f}',
            f'"Period":{math.floor(period_wh + 0.5)}',
            f'"Power":{power}',
        ]
        if "URMS1" in values:  # voltage and current available
            voltage = int(values["URMS1"])
            apparent = max(float(voltage * current), float(power))
            reactive = math.sqrt(max(0.0, apparent**2 - power**2))
            factor = power / apparent if apparent > 0 else 0.0
            fields += [
                f'"ApparentPower":{math.floor(apparent + 0.5)}',
                f'"ReactivePower":{math.floor(reactive + 0.5)}',
                f'"Factor":{factor:.2f}',
                f'"Voltage":{voltage}',
            ]
        fields += [f'"Current":{current:.3f}', f'"Load":{int(current * 100 / self.isousc)}']
        energy = ",".join(fields)
        return (
            f'{{"Time":"{self._local_time(now)}","ENERGY":{{{energy}}},"TIC":{tic_json(labels)}}}'
        )

    # -- no relay ----------------------------------------------------------------------------

    def power_state(self) -> list[Publish]:
        return []  # MqttPublishAllPowerState over zero relays

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        if not any(topic.startswith(root) for root in self._command_roots()):
            return []
        command, index, _ = split_command(topic.rsplit("/", 1)[-1])
        if command != "POWER":
            return super().handle(topic, payload, now)
        if self._take_drop():
            return []
        if index == 0:
            return []
        return [Publish(self.topic_for("stat", "RESULT"), _compact({"Command": "Error"}))]

    def press_button(self, now: float) -> list[Publish]:
        return []

    def tick(self, now: float) -> list[Publish]:
        self._advance(now)
        return super().tick(now)


class SimulatedTic(SimulatedDevice):
    """A Tasmota Teleinfo reader on a real broker. See the module docstring;
    ``household["<topic>"]`` finds it."""

    def __init__(
        self,
        topic: str,
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        mode: TicMode = "historique",
        tariff: Tariff = "HC",
        subscribed_kva: int = 6,
        load_va: float = 0.0,
        offpeak_hours: Sequence[tuple[float, float]] = ((22.0, 6.0),),
        initial_index_wh: tuple[float, float] = (1_000_000.0, 2_000_000.0),
        meter_id: str | None = None,
        full_topic: str = DEFAULT_FULL_TOPIC,
        tele_period_s: float = 300.0,
        group_topic: str | None = "tasmotas",
        tz: tzinfo | None = None,
        client_id: str | None = None,
        keepalive: int = 30,
        clock: Clock = time.time,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        core = TicCore(
            topic,
            now=clock(),
            mode=mode,
            tariff=tariff,
            subscribed_kva=subscribed_kva,
            load_va=load_va,
            offpeak_hours=offpeak_hours,
            initial_index_wh=initial_index_wh,
            meter_id=meter_id,
            full_topic=full_topic,
            tele_period_s=tele_period_s,
            group_topic=group_topic,
            tz=tz,
        )
        self.core: TicCore = core
        super().__init__(
            core,
            host=host,
            port=port,
            client_id=client_id or f"DVES_{core.mac[-6:]}-{secrets.token_hex(3)}",
            keepalive=keepalive,
            name=f"tic:{topic}",
            clock=clock,
            username=username,
            password=password,
        )

    @property
    def topic(self) -> str:
        return self.core.topic

    def topic_for(self, prefix: str, command: str) -> str:
        return self.core.topic_for(prefix, command)

    def set_load_va(self, va: float) -> None:
        """The household's apparent power changes now (published at the next telemetry)."""
        with self._lock:
            self._perform(self.core.set_load_va(va, self._clock()))

    @property
    def load_va(self) -> float:
        with self._lock:
            return self.core.load_va
