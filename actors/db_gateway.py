"""DbGateway: owns the coordination-database connection.

Loads the inventory, re-reads single equipment rows, writes each transition in its own
transaction, and batches observed-state updates. During an outage writes wait in order in a
write-behind queue (nothing is lost) and the last inventory is served from disk.
"""

from __future__ import annotations

import time
from collections import deque
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import psycopg
from loguru import logger
from thespian.actors import ActorExitRequest, ActorTypeDispatcher, WakeupMessage

from actors import sql
from actors.db_screens import ScreenQueries
from protocol.config import Config
from protocol.inventory import attach_details, build_inventory
from protocol.messages import (
    Configure,
    DeviceTelemetry,
    Event,
    Introspect,
    IntrospectReply,
    Inventory,
    LoadInventory,
    LoadRow,
    RowChanged,
    WriteObserved,
    WriteState,
)
from protocol.model import DeviceRow, EquipmentRow

FLUSH_S = 1.0
MAX_JOURNAL_BACKLOG = 10000  # events kept for the journal while the database is down
RETRY_MAX_S = 10.0
CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


class InventorySnapshot(msgspec.Struct):
    rows: list[EquipmentRow]
    devices: list[DeviceRow]


class DbGateway(ScreenQueries, ActorTypeDispatcher):
    def __init__(self) -> None:
        super().__init__()
        self.config: Config | None = None
        self.conn: psycopg.Connection | None = None
        self.queue: deque[WriteState] = deque()  # transitions waiting for the database, in order
        self.observed: dict[int, WriteObserved] = {}  # latest observed state per equipment
        self.telemetry: dict[str, DeviceTelemetry] = {}  # latest facts per device
        self.journal: deque[Event] = deque(maxlen=MAX_JOURNAL_BACKLOG)
        self.own_schema_ready: bool | None = None  # None: not tried yet; False: disabled
        self.down_since: float | None = None
        self.retry_at = 0.0
        self.retry_delay = 1.0
        self.ticking = False
        self.written = 0
        self.dropped = 0

    # --- messages ----------------------------------------------------------------------------

    def receiveMsg_Configure(self, message: Configure, sender: Any) -> None:
        self.config = message.config
        self._tick_soon()

    def receiveMsg_LoadInventory(self, message: LoadInventory, sender: Any) -> None:
        config = self._config()
        snapshot = self._load_snapshot()
        if snapshot is not None:
            self._save_snapshot(snapshot)
            error = None
        else:
            snapshot = self._read_snapshot_file()
            error = "coordination database unreachable" + (
                ", using the last inventory saved on disk" if snapshot else ""
            )
            if snapshot is None:
                self.send(sender, Inventory(rows=(), specs=(), error=error))
                return
        specs = build_inventory(snapshot.rows, snapshot.devices, config)
        self.send(sender, Inventory(rows=tuple(snapshot.rows), specs=tuple(specs), error=error))

    def receiveMsg_LoadRow(self, message: LoadRow, sender: Any) -> None:
        config = self._config()
        if not self._flush():
            return  # never read a row our queued writes would overwrite; Viriya will ping again
        try:
            row = sql.load_one(self._connection(), config.coordination.schema, message.equipment)
        except CONNECTION_ERRORS as exc:
            self._down(exc)
            return
        if row is None:
            logger.warning(
                "equipment {} asked by {}: no such row", message.equipment, message.source
            )
            return
        self.send(message.reply_to, RowChanged(row, time.time()))

    def receiveMsg_WriteState(self, message: WriteState, sender: Any) -> None:
        self.queue.append(message)
        self._flush()

    def receiveMsg_WriteObserved(self, message: WriteObserved, sender: Any) -> None:
        self.observed[message.equipment] = message  # batched: flushed by the next tick

    def receiveMsg_DeviceTelemetry(self, message: DeviceTelemetry, sender: Any) -> None:
        self.telemetry[message.device] = message  # batched, coalesced per device

    def receiveMsg_Event(self, message: Event, sender: Any) -> None:
        self.journal.append(message)  # batched

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender: Any) -> None:
        self.ticking = False
        self._flush()
        self._tick_soon()

    def receiveMsg_Introspect(self, message: Introspect, sender: Any) -> None:
        self.send(
            message.reply_to or sender,
            IntrospectReply(
                {
                    "connected": self.conn is not None and self.down_since is None,
                    "down_since": self.down_since,
                    "queued_transitions": len(self.queue),
                    "queued_observed": len(self.observed),
                    "queued_telemetry": len(self.telemetry),
                    "queued_events": len(self.journal),
                    "own_schema": self.own_schema_ready,
                    "written": self.written,
                    "dropped": self.dropped,
                }
            ),
        )

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender: Any) -> None:
        self._flush()
        if self.conn is not None:
            self.conn.close()

    # --- writes ------------------------------------------------------------------------------

    def _flush(self) -> bool:
        """Write what is queued; True when no transition is left waiting."""
        if not self.queue and not self.observed and not self.telemetry and not self.journal:
            return True
        if self.down_since is not None and time.time() < self.retry_at:
            return False
        schema = self._config().coordination.schema
        try:
            conn = self._connection()
            while self.queue:
                write = self.queue[0]
                try:
                    with conn.transaction():
                        if sql.write_state(conn, schema, write) == 0:
                            logger.warning(
                                "equipment {}: no row to write ({})", write.equipment, write.reason
                            )
                    self.written += 1
                except CONNECTION_ERRORS:
                    raise
                except psycopg.Error as exc:  # this write is wrong, not the database: drop it alone
                    self.dropped += 1
                    logger.error(
                        "equipment {}: write refused, dropped: {}",
                        write.equipment,
                        str(exc).splitlines()[0],
                    )
                self.queue.popleft()
            if self.observed:
                batch = list(self.observed.values())
                with conn.transaction():
                    sql.write_observed(conn, schema, batch)
                self.observed.clear()
            self._flush_own(conn)
        except CONNECTION_ERRORS as exc:
            self._down(exc)
            return False
        self._up()
        return True

    def _flush_own(self, conn: psycopg.Connection) -> None:
        """Telemetry and the event journal, in the supervisor's own schema, one transaction."""
        own = self._config().coordination.own_schema
        if not own or not (self.telemetry or self.journal) or not self._own_schema(conn, own):
            self.telemetry.clear()
            self.journal.clear()
            return
        try:
            with conn.transaction():
                sql.write_telemetry(conn, own, self.telemetry.values())
                sql.write_events(conn, own, self.journal)
        except CONNECTION_ERRORS:
            raise
        except psycopg.Error as exc:
            logger.error(
                "own schema {}: write refused, batch dropped: {}", own, str(exc).splitlines()[0]
            )
        self.telemetry.clear()
        self.journal.clear()

    def _own_schema(self, conn: psycopg.Connection, own: str) -> bool:
        """Create the supervisor's tables once; without the right to, run without them."""
        if self.own_schema_ready is None:
            try:
                sql.ensure_own_schema(conn, own)
                days = self._config().coordination.journal_days
                with conn.transaction():
                    sql.prune_events(conn, own, int(time.time()) - days * 86400)
                self.own_schema_ready = True
            except CONNECTION_ERRORS:
                raise
            except psycopg.Error as exc:
                self.own_schema_ready = False
                logger.warning(
                    "own schema {} unavailable, no telemetry nor journal: {}",
                    own,
                    str(exc).splitlines()[0],
                )
        return bool(self.own_schema_ready)

    # --- connection --------------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection:
        if self.conn is None or self.conn.closed:
            # Opened here, inside the actor's own process, never inherited across fork.
            self.conn = psycopg.connect(
                self._config().coordination.dsn,
                autocommit=True,
                connect_timeout=5,
                options="-c statement_timeout=15000",
            )
        return self.conn

    def _down(self, exc: Exception) -> None:
        if self.down_since is None:
            self.down_since = time.time()
            logger.error(
                "coordination database unreachable, {} writes queued: {}",
                len(self.queue) + len(self.observed),
                str(exc).strip().splitlines()[0],
            )
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        self.retry_at = time.time() + self.retry_delay
        self.retry_delay = min(self.retry_delay * 2, RETRY_MAX_S)

    def _up(self) -> None:
        if self.down_since is not None:
            logger.info("coordination database back after {:.0f} s", time.time() - self.down_since)
        self.down_since = None
        self.retry_delay = 1.0

    def _tick_soon(self) -> None:
        if not self.ticking:
            self.ticking = True
            self.wakeupAfter(timedelta(seconds=FLUSH_S))

    def _config(self) -> Config:
        assert self.config is not None, "DbGateway used before Configure"
        return self.config

    # --- inventory ---------------------------------------------------------------------------

    def _load_snapshot(self) -> InventorySnapshot | None:
        schema = self._config().coordination.schema
        if not self._flush():
            return None
        try:
            conn = self._connection()
            rows = sql.load_equipment(conn, schema)
            devices = sql.load_devices(conn, schema)
            details = sql.load_details(conn, schema, [d.type_name for d in devices if d.type_name])
        except CONNECTION_ERRORS as exc:
            self._down(exc)
            return None
        self._up()
        return InventorySnapshot(rows=rows, devices=attach_details(devices, details))

    def _snapshot_path(self) -> Path:
        return Path(self._config().supervisor.state_dir) / "inventory.json"

    def _save_snapshot(self, snapshot: InventorySnapshot) -> None:
        path = self._snapshot_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(msgspec.json.encode(snapshot))
            tmp.replace(path)
        except OSError as exc:
            logger.warning("cannot save the inventory to {}: {}", path, exc)

    def _read_snapshot_file(self) -> InventorySnapshot | None:
        path = self._snapshot_path()
        try:
            return msgspec.json.decode(path.read_bytes(), type=InventorySnapshot)
        except FileNotFoundError:
            return None
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            logger.warning("ignoring the damaged inventory file {}: {}", path, exc)
            return None
