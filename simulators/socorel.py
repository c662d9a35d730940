"""Simulated Socorel PLC ("automate", ELFE type 811) with 8 outputs: protocols.md §6.1.

No public documentation exists: this reproduces what ELFE's code and documents show, and
decides the rest (each decision is named below). ``root`` is ``Socorel/<serial>``; a test may
add a prefix.

* Subscribes ``<root>/sortie1`` .. ``<root>/sortie8``; payload ``1`` switches output N on,
  ``0`` off (surrounding blanks ignored); anything else is ignored.
* ``<root>/EtatSorties`` = 8 characters ``0`` / ``1``, character N-1 for output N
  (``01000000``: output 2 on), after every accepted order (changed or not, so that the order
  is acknowledged without waiting for the period), after a local change, at connection and
  every ``report_period_s`` (30 s, ELFE measured 30 s). With ``per_output_topics`` the PLC also
  publishes ``<root>/EtatSortie<N>`` = ``1`` / ``0`` (the changed output's, or all eight
  periodically).
* ``<root>/PA1MN`` = the mean active power (integer W) of all outputs' loads since the previous
  ``PA1MN``, every period.
* ``<root>/mode`` = ``manuel`` / ``auto`` when the operator takes or gives back local control
  (:meth:`SocorelCore.set_local_manual`); it is not published at connection. While in
  ``manuel`` the PLC ignores the MQTT orders (the operator drives the outputs,
  :meth:`SocorelCore.set_output_local`).
* No LWT (the PLC publishes none), nothing retained unless ``retain``; QoS 0.
* Each output may power an appliance (the loads of ``PA1MN``).
"""

from __future__ import annotations

import math
import re
import secrets
import time
from collections.abc import Sequence

from simulators.appliance import Appliance
from simulators.core import Action, DeviceCore, Publish, Subscribe
from simulators.mqtt_device import Clock, SimulatedDevice

OUTPUTS = 8
_ORDER = re.compile(r"sortie([1-8])")


class SocorelCore(DeviceCore):
    """Pure PLC logic: see the module docstring for what it reproduces."""

    def __init__(
        self,
        root: str,
        appliances: Sequence[Appliance | None] = (),
        *,
        now: float,
        outputs: str = "0" * OUTPUTS,
        report_period_s: float = 30.0,
        per_output_topics: bool = False,
        retain: bool = False,
        manual: bool = False,
    ) -> None:
        root = root.rstrip("/")
        if not root or "+" in root or "#" in root:
            raise ValueError(f"invalid Socorel topic root {root!r}")
        if len(appliances) > OUTPUTS:
            raise ValueError(f"at most {OUTPUTS} appliances, got {len(appliances)}")
        if len(outputs) != OUTPUTS or set(outputs) - {"0", "1"}:
            raise ValueError(f"outputs must be {OUTPUTS} characters 0/1, got {outputs!r}")
        if not report_period_s >= 0:
            raise ValueError("report_period_s must be >= 0 (0 = no periodic report)")
        loads = [a if a is not None else Appliance("none") for a in appliances]
        loads += [Appliance("none") for _ in range(OUTPUTS - len(loads))]
        super().__init__(now=now, appliance=loads[0])
        self.root = root
        self.serial = root.rsplit("/", 1)[-1]
        self.appliances = loads
        self.outputs = [c == "1" for c in outputs]
        for appliance, on in zip(self.appliances, self.outputs, strict=True):
            appliance.set_powered(on, now)
        self.relay_on = self.outputs[0]
        self.report_period_s = float(report_period_s)
        self.per_output_topics = per_output_topics
        self.retained_state = retain
        self.manual = manual
        self._pa_since = (now, self._energy_wh(now))
        self._next_report = math.inf

    # -- outputs ---------------------------------------------------------------------------

    def states(self) -> str:
        """``EtatSorties``: character N-1 is output N."""
        return "".join("1" if on else "0" for on in self.outputs)

    def _energy_wh(self, now: float) -> float:
        return sum(a.energy_wh(now) for a in self.appliances)

    def power_w(self, now: float) -> float:
        return sum(
            a.power_w(now) for a, on in zip(self.appliances, self.outputs, strict=True) if on
        )

    def _set(self, n: int, on: bool, now: float) -> None:
        self.outputs[n - 1] = on
        self.appliances[n - 1].set_powered(on, now)
        self.relay_on = self.outputs[0]

    def order_topic(self, n: int) -> str:
        return f"{self.root}/sortie{n}"

    def is_relay_order(self, topic: str) -> bool:
        return self._output_of(topic) is not None

    def _output_of(self, topic: str) -> int | None:
        if not topic.startswith(self.root + "/"):
            return None
        match = _ORDER.fullmatch(topic[len(self.root) + 1 :])
        return int(match.group(1)) if match else None

    # -- publications ----------------------------------------------------------------------

    def _pub(self, suffix: str, payload: str) -> Publish:
        return Publish(f"{self.root}/{suffix}", payload, retain=self.retained_state)

    def state_report(self, changed: Sequence[int] = ()) -> list[Publish]:
        out = [self._pub("EtatSorties", self.states())]
        if self.per_output_topics:
            out += [
                self._pub(f"EtatSortie{n}", "1" if self.outputs[n - 1] else "0") for n in changed
            ]
        return out

    def _pa1mn(self, now: float) -> Publish:
        since, energy = self._pa_since
        now_energy = self._energy_wh(now)
        mean = (now_energy - energy) * 3600.0 / (now - since) if now > since else self.power_w(now)
        self._pa_since = (now, now_energy)
        return self._pub("PA1MN", str(math.floor(mean + 0.5)))

    def periodic(self, now: float) -> list[Publish]:
        self._next_report = now + self.report_period_s if self.report_period_s > 0 else math.inf
        return [*self.state_report(range(1, OUTPUTS + 1)), self._pa1mn(now)]

    # -- the operator at the PLC -----------------------------------------------------------

    def set_local_manual(self, manual: bool, now: float) -> list[Publish]:
        """The operator takes (``True``) or gives back local control: ``mode`` is published."""
        self.manual = manual
        return [self._pub("mode", "manuel" if manual else "auto")]

    def set_output_local(self, n: int, on: bool, now: float) -> list[Publish]:
        """The operator switches output ``n`` at the PLC."""
        if not 1 <= n <= OUTPUTS:
            raise ValueError(f"output must be in 1..{OUTPUTS}, got {n!r}")
        self._set(n, on, now)
        return self.state_report([n])

    # -- DeviceCore ------------------------------------------------------------------------

    def will(self) -> None:
        return None

    def connect_sequence(self, now: float, *, initial: bool) -> list[Action]:
        self.connect_count += 1
        if self.report_period_s > 0:
            self._next_report = now + self.report_period_s
        topics = tuple(self.order_topic(n) for n in range(1, OUTPUTS + 1))
        return [Subscribe(topics), *self.state_report(range(1, OUTPUTS + 1))]

    def handle(self, topic: str, payload: bytes, now: float) -> list[Publish]:
        n = self._output_of(topic)
        if n is None or self._take_drop():
            return []
        value = payload.decode("utf-8", errors="replace").strip()
        if value not in ("0", "1") or self.manual or not self.respond_to_commands:
            return []
        self._set(n, value == "1", now)
        return self.state_report([n])

    def tick(self, now: float) -> list[Publish]:
        if now >= self._next_report:
            return self.periodic(now)
        return []

    def next_due(self) -> float:
        return self._next_report


class SimulatedSocorel(SimulatedDevice):
    """A Socorel PLC on a real broker. See the module docstring; ``household["<serial>"]``
    finds it, and ``appliance_for("<serial>", output=N)`` gives output N's appliance."""

    def __init__(
        self,
        root: str,
        appliances: Sequence[Appliance | None] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        outputs: str = "0" * OUTPUTS,
        report_period_s: float = 30.0,
        per_output_topics: bool = False,
        retain: bool = False,
        manual: bool = False,
        client_id: str | None = None,
        keepalive: int = 60,
        clock: Clock = time.time,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        core = SocorelCore(
            root,
            appliances,
            now=clock(),
            outputs=outputs,
            report_period_s=report_period_s,
            per_output_topics=per_output_topics,
            retain=retain,
            manual=manual,
        )
        self.core: SocorelCore = core
        super().__init__(
            core,
            host=host,
            port=port,
            client_id=client_id or f"Socorel_{core.serial}-{secrets.token_hex(3)}",
            keepalive=keepalive,
            name=f"socorel:{core.serial}",
            clock=clock,
            username=username,
            password=password,
        )

    @property
    def root(self) -> str:
        return self.core.root

    @property
    def states(self) -> str:
        """The current ``EtatSorties`` string."""
        with self._lock:
            return self.core.states()

    def output_on(self, n: int) -> bool:
        with self._lock:
            return self.core.outputs[n - 1]

    def appliance_for(self, ref: str, output: int | None = None) -> Appliance:
        if output is None or not 1 <= output <= OUTPUTS:
            raise ValueError(f"{self.name} has {OUTPUTS} outputs; 'output' must be in 1..8")
        return self.core.appliances[output - 1]

    def set_local_manual(self, manual: bool) -> None:
        with self._lock:
            self._perform(self.core.set_local_manual(manual, self._clock()))

    def set_output_local(self, n: int, on: bool) -> None:
        with self._lock:
            self._perform(self.core.set_output_local(n, on, self._clock()))
