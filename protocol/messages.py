"""Every message that crosses an actor boundary, as msgspec Structs.

They live in one importable module because the multiproc Thespian bases pickle them: a class
defined in `__main__` or inside a function cannot travel. Fields that hold a Thespian
`ActorAddress` are typed `Any`. Structs are frozen: the simple base passes the same object to the
receiver, so mutation would leak between actors.
"""

from __future__ import annotations

from typing import Any

import msgspec

from protocol.config import Config, ScreensConfig
from protocol.ems import Plan
from protocol.model import DeviceRow, EquipmentRow, EquipmentSpec
from protocol.partition import StimulusScope
from protocol.screens.state import ScreenEquipment, ScreenSpec, ScreenUpdate


class Message(msgspec.Struct, frozen=True):
    pass


# --- events fed to the state machines (spec typologies.md §2) -----------------------------------


class EmsDecision(Message):
    """The EMS decision for the current quarter hour of one equipment."""

    equipment: int
    on: bool
    slot_start: int
    plan_id: int
    at: float


class ModeRequested(Message):
    """A request to change the mode (20 manual, 30 piloted, ...) from some source."""

    equipment: int
    mode: int
    source: str  # "screen", "viriya", "operator", "database", "socorel"
    at: float


class RestoreMode(Message):
    """Local control ended (Socorel back to automatic): restore the mode from before 70."""

    equipment: int
    source: str
    at: float


class ForceStart(Message):
    """Operator force start (`<base>/equipment/<id>/set` `{"start": true}`)."""

    equipment: int
    source: str
    at: float


class CommandReply(Message):
    """A device or gateway answer to one command (Shelly Gen2 RPC reply, BLE gateway status).

    `request_id` is the id the command carried when the protocol echoes it (Gen2 RPC); None when
    it does not (the SwitchBot gateway), then `command` names what was answered ("PRESS") and the
    reply is matched to the command of that device in flight when it arrived.
    """

    request_id: str | None
    ok: bool
    detail: str = ""
    command: str | None = None


class DeviceReport(Message):
    """What one inbound MQTT message said about one device, already validated and decoded."""

    device: str
    at: float
    retained: bool = False
    relay_on: bool | None = None  # the relay as the device reports it (not yet un-inverted)
    power_w: float | None = None
    energy_wh: float | None = None
    online: bool | None = None
    temperature_c: float | None = None
    humidity: float | None = None
    battery: int | None = None
    reply: CommandReply | None = None
    local_control: bool | None = None  # an operator took (True) or gave back (False) the PLC


class TimerFired(Message):
    token: str
    at: float  # the deadline it was armed for


class Reassert(Message):
    """Re-send the desired outputs (broker reconnected, operator refresh)."""

    reason: str
    at: float


class RowChanged(Message):
    """The equipment's database row was re-read (Viriya update, reconciliation)."""

    row: EquipmentRow
    at: float
    # The serial of the last WriteState of this equipment that the DbGateway had received when it
    # answered: the row holds it (written or overlaid). None = unknown (tests, tools).
    writes_seen: int | None = None


# --- effects returned by the state machines -----------------------------------------------------


class SendCommand(Message):
    device: str
    action: str  # "ON" / "OFF" / "PRESS"
    request_id: str


class WriteState(Message):
    """All columns of one transition, written in one transaction. None = leave unchanged."""

    equipment: int
    at: int
    reason: str
    mode: int | None = None
    command_state: int | None = None
    consigne: bool | None = None
    started_at: int | None = None  # timestamp_derniere_mise_en_marche
    programmed_at: int | None = None  # timestamp_derniere_programmation
    serial: int = 0  # stamped by the DeviceActor: tells a row read before it from one after it


class DbWrites(Message):
    """What one step of a DeviceActor writes (WriteState, WriteObserved, Event,
    DeviceTelemetry), in order: one message to the DbGateway instead of one per row."""

    writes: tuple[Any, ...]


class WriteObserved(Message):
    """Observed state from reports (etat_controle_id); batched by the DbGateway."""

    equipment: int
    control_state: int
    at: int


class DeviceTelemetry(Message):
    """The latest facts of one device, kept in the supervisor's own schema (batched)."""

    equipment: int
    device: str
    at: int
    relay_on: bool | None = None
    power_w: float | None = None
    energy_wh: float | None = None
    temperature_c: float | None = None
    battery: int | None = None
    online: bool | None = None
    last_seen: int | None = None
    relay_changed_at: int | None = None  # the switch's last confirmed change


class ArmTimer(Message):
    token: str
    at: float


class CancelTimer(Message):
    token: str


class NotifyDisplays(Message):
    equipment: int


class Event(Message):
    """One line of the "why" journal of an equipment."""

    equipment: int
    at: float
    reason: str
    from_state: int | None = None
    to_state: int | None = None


class StopActor(Message):
    reason: str


# --- actor plumbing -----------------------------------------------------------------------------


class Start(Message):
    config: Config


class Started(Message):
    equipment: int
    devices: int
    problems: int


class Gateways(Message):
    supervisor: Any
    mqtt: Any
    db: Any
    clock: Any
    plans: Any
    displays: Any = None  # the Displays actor (household screens)


class DeviceInit(Message):
    spec: EquipmentSpec
    row: EquipmentRow
    gateways: Gateways
    at: float


class DeviceReady(Message):
    equipment: int


class Route(Message):
    """Inbound topic -> (device, codec, owning actor)."""

    topic: str
    device: Any  # DeviceSpec; None for a raw route
    actor: Any
    raw: bool = False  # deliver the message as it came (`RawMessages`), no codec


class RegisterRoutes(Message):
    owner: int | str  # equipment id, or `screen:<node>`; replaces that owner's previous routes
    routes: tuple[Route, ...]


class RoutesRegistered(Message):
    """The gateway subscribed an owner's topics: its first order can now be acknowledged."""

    owner: int | str


class UnregisterRoutes(Message):
    owner: int | str


class StimulusTargets(Message):
    """Equipment id -> actor, for the stimulus topics (Viriya, operator)."""

    targets: tuple[tuple[int, Any], ...]
    supervisor: Any
    scope: StimulusScope = StimulusScope()  # which equipment ids this partition answers for


class Publish(Message):
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False
    expiry_s: int | None = None


class DeviceReports(Message):
    """One batch of decoded reports for one actor (one message per socket read)."""

    reports: tuple[DeviceReport, ...]


class WriteReady(Message):
    """From the pump: the MQTT client socket can take the queued packets."""


class MqttConnected(Message):
    """The broker accepted the connection and the subscriptions are on their way; `first` for
    the first connection since start-up (later ones are reconnections)."""

    at: float
    first: bool = False


class PublishStatus(Message):
    """Ask the MqttGateway to publish the retained `<base>/status` document."""

    payload: bytes


class SetTimer(Message):
    token: str
    at: float


class ClearTimer(Message):
    token: str


class ClearAllTimers(Message):
    pass


class Configure(Message):
    config: Config


class NextChunk(Message):
    """To self: send the next chunk of a fan-out (`actors/chunked.py`)."""


class LoadInventory(Message):
    pass


class LoadRow(Message):
    """Re-read one equipment row and send `RowChanged` to `reply_to`."""

    equipment: int
    source: str
    reply_to: Any


class Inventory(Message):
    rows: tuple[EquipmentRow, ...]
    specs: tuple[EquipmentSpec, ...]
    error: str | None = None
    scope: StimulusScope = StimulusScope()
    writes_seen: dict[int, int] = {}  # equipment -> RowChanged.writes_seen at the answer


class PlansSource(Message):
    """Where the EMS decisions come from now: "database", or "cached until <time>" in an outage."""

    source: str


class PlanTargets(Message):
    """Equipment id -> actor that receives its EMS decisions."""

    targets: tuple[tuple[int, Any], ...]


class Declaration(Message):
    """A household's declaration from a screen (deadline, cycle, charge) that waits for the
    coordination database (it was unreachable): written in order with the next batch."""

    update: ScreenUpdate
    at: int


class WriteBatch(Message):
    """Writes taken from the DbGateway's queue for one transaction (see protocol/batching.py)."""

    transitions: tuple[WriteState, ...] = ()
    observed: tuple[WriteObserved, ...] = ()
    telemetry: tuple[DeviceTelemetry, ...] = ()
    events: tuple[Event, ...] = ()
    declarations: tuple[Declaration, ...] = ()


class InventorySnapshot(Message):
    """The inventory rows as read from the database (and kept on disk)."""

    rows: tuple[EquipmentRow, ...]
    devices: tuple[DeviceRow, ...]


class DbJobDone(Message):
    """From the DbGateway's worker: a batch written (or not) and, when asked, a read.

    `error` is set when the database could not be reached: `unwritten` then holds the batch (to
    be given back) and the read was not done."""

    written: int = 0
    dropped: int = 0
    unwritten: WriteBatch | None = None
    error: str | None = None
    own_schema: bool | None = None
    inventory: InventorySnapshot | None = None
    row: EquipmentRow | None = None
    row_missing: bool = False


class PlansRead(Message):
    """From the PlanReader's worker: the plans read (or the error that prevented it)."""

    plans: tuple[Plan, ...] = ()
    problems: tuple[str, ...] = ()
    last_id: int = 0
    full: bool = False
    at: float = 0.0
    error: str | None = None


class PlansNotified(Message):
    """The EMS database announced new plan rows (NOTIFY)."""


class JobFailed(Message):
    """A blocking job raised: its actor treats it as a database error."""

    error: str


class Introspect(Message):
    """Ask for an actor's state. To the supervisor: `equipment` or `gateway` ("mqtt", "db",
    "plans", "clock", "displays"; with `screen`, a node, "displays" asks that screen, which
    `refresh` redraws) is forwarded there, and the answer goes straight to `reply_to`. Both
    `equipment` and `gateway` ask that gateway about that equipment ("clock": its pending timers,
    `owner` being its actor; "plans": its next planned decisions). `actors`: the actor tree."""

    equipment: int | None = None
    gateway: str | None = None
    reply_to: Any = None
    screen: str | None = None
    refresh: bool = False
    actors: bool = False
    owner: Any = None


class Vitals(Message):
    """Census `census` of the actor tree: the actor answers `VitalsReply` under `name`."""

    census: int
    name: str
    reply_to: Any


class VitalsReply(Message):
    """Since when an actor runs, how many messages it handled, the names of its children (each
    answers the same census under its name)."""

    census: int
    name: str
    since: float
    handled: int
    children: tuple[str, ...] = ()


class IntrospectReply(Message):
    data: dict[str, Any]


class Shutdown(Message):
    pass


class ShutdownDone(Message):
    pass


# --- household screens --------------------------------------------------------------------------


class RawMessage(Message):
    """An inbound MQTT message delivered as it came (screens parse their own topics)."""

    topic: str
    payload: bytes
    retained: bool
    at: float


class RawMessages(Message):
    messages: tuple[RawMessage, ...]


class ScreenInventory(Message):
    """To the Displays actor: the inventory (screens and households) and the equipment actors."""

    specs: tuple[EquipmentSpec, ...]
    actors: tuple[tuple[int, Any], ...]
    gateways: Gateways


class ScreenInit(Message):
    screen: ScreenSpec
    members: tuple[int, ...]  # the household's equipment ids
    layout: ScreensConfig
    base_topic: str  # the operator topic is <base>/screen/<node>/set
    gateways: Gateways
    at: float


class ScreenMembers(Message):
    """The inventory was read again: re-read the household (these equipment), whatever changed
    it in the database (an operator, Viriya without its ping)."""

    members: tuple[int, ...]


class EquipmentShown(Message):
    """An equipment's state machine changed what its screens show (mode, command state, reason)."""

    equipment: int
    household: str | None
    mode: int
    command_state: int
    reason: str | None
    at: float


class ScreenChanged(Message):
    """A touch was written to the database: every screen of the household redraws it, and the
    equipment's actor re-reads its row (deadline guard)."""

    household: str
    update: ScreenUpdate
    at: float


class ReloadHousehold(Message):
    """Someone else (Viriya, an operator) changed the household's equipment: re-read it."""

    household: str | None
    equipment: int


class RefreshScreen(Message):
    """Operator or introspection: draw a screen (or every screen, node None) in full."""

    node: str | None
    source: str


class LoadScreenHousehold(Message):
    household: str
    members: tuple[int, ...]
    reply_to: Any


class ScreenHousehold(Message):
    household: str
    equipment: tuple[ScreenEquipment, ...]
    error: str | None = None


class WriteScreenUpdate(Message):
    update: ScreenUpdate
    at: int
    reply_to: Any


class ScreenJobDone(Message):
    """From the DbGateway's worker: a screen job's answer, for `reply_to`."""

    reply_to: Any
    answer: Message


class ScreenUpdateWritten(Message):
    update: ScreenUpdate
    error: str | None
    at: float
    queued: bool = False  # the database was unreachable: written once it answers again


class PlannedStarts(Message):
    """Ask the PlanReader when the EMS plan next starts each of `members`."""

    members: tuple[int, ...]
    reply_to: Any


class PlannedStartsReply(Message):
    starts: tuple[tuple[int, int | None], ...]  # equipment id -> start of its next on slot
