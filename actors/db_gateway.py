"""DbGateway: the coordination database, through one worker thread.

Loads the inventory, re-reads single equipment rows, and writes transitions, observed states,
telemetry and the event journal in batches (`protocol/batching.py`: one transaction per batch,
each transition atomic, nothing reordered). The database work runs in `actors/db_session.py` on a
worker thread (`runtime/blocking.py`) so that a slow or hung database never delays the pump; one
job is in flight at a time. During an outage the writes wait in order, bounded, and are kept in the
state directory (`actors/pending_store.py`, `protocol/pending.py`) so that a restart loses none;
the last inventory is served from disk, as those writes leave it. A read always goes with
everything queued before it: a row is never read before the writes that would overwrite it.
"""

from __future__ import annotations

import time
from collections import deque
from datetime import timedelta
from typing import Any

from loguru import logger
from thespian.actors import ActorExitRequest, ActorTypeDispatcher, WakeupMessage

from actors.availability import Availability
from actors.db_screens import ScreenQueries
from actors.db_session import CoordinationSession, read_snapshot, snapshot_path
from actors.pending_store import PendingWrites, pending_path
from actors.vitals import Vital
from protocol.batching import WriteQueue, overlay
from protocol.config import Config
from protocol.health import state_counts
from protocol.inventory import build_inventory
from protocol.messages import (
    Configure,
    DbJobDone,
    DbWrites,
    Introspect,
    IntrospectReply,
    Inventory,
    InventorySnapshot,
    JobFailed,
    LoadInventory,
    LoadRow,
    RowChanged,
    Shutdown,
    WriteBatch,
    WriteObserved,
    WriteState,
)
from protocol.partition import share
from protocol.pending import by_equipment, pending
from runtime.blocking import Offload

FLUSH_S = 1.0
RETRY_MAX_S = 10.0
JOB_TIMEOUT_S = 60.0  # a job still running after this is stuck on a server that stopped answering


class DbGateway(Vital, ScreenQueries, ActorTypeDispatcher):
    def __init__(self) -> None:
        super().__init__()
        self.config: Config | None = None
        self.session: CoordinationSession | None = None
        self.offload: Offload | None = None
        self.queue = WriteQueue()
        self.reads: deque[tuple[LoadInventory | LoadRow, Any]] = deque()  # (request, reply to)
        self.since_read: dict[int, list[WriteState]] = {}  # made while a read is in flight
        self.writes_seen: dict[int, int] = {}  # equipment -> serial of its last WriteState here
        self.in_flight: tuple[float, LoadInventory | LoadRow | None, Any] | None = None
        self.own_schema_ready: bool | None = None
        self.db = Availability("coordination database", RETRY_MAX_S)
        self.ticking = False
        self.written = 0
        self.dropped = 0
        self.kept: PendingWrites | None = None  # the queue as kept on disk
        self.in_flight_batch: WriteBatch | None = None
        # the last states of every driven equipment, for monitoring (err, errcom)
        self.command_states: dict[int, int] = {}
        self.control_states: dict[int, int] = {}

    # --- messages ------------------------------------------------------------------------------

    def receiveMsg_Configure(self, message: Configure, sender: Any) -> None:
        self.config = message.config
        self.session = CoordinationSession(message.config)
        self.offload = Offload(self, "db-gateway")
        self.kept = PendingWrites(pending_path(message.config))
        self.kept.restore(self.queue)
        self._tick_soon()

    def receiveMsg_LoadInventory(self, message: LoadInventory, sender: Any) -> None:
        self.reads.append((message, sender))
        self._kick()

    def receiveMsg_LoadRow(self, message: LoadRow, sender: Any) -> None:
        self.reads.append((message, message.reply_to))
        self._kick()

    def receiveMsg_DbWrites(self, message: DbWrites, sender: Any) -> None:
        """What one step of a DeviceActor writes, in order: transitions go at once (or with
        the next batch if one is in flight); observed states and telemetry are coalesced."""
        transitions = False
        for write in message.writes:
            if isinstance(write, WriteState):
                transitions = True
                self._transition(write)
            else:
                if isinstance(write, WriteObserved):
                    self.control_states[write.equipment] = int(write.control_state)
                self.queue.add(write)
        self._changed()
        if transitions:
            self._kick()
            self._keep(time.time())

    def _transition(self, write: WriteState) -> None:
        if write.command_state is not None:
            self.command_states[write.equipment] = int(write.command_state)
        self.writes_seen[write.equipment] = write.serial
        self.queue.add(write)
        if self.in_flight is not None and self.in_flight[1] is not None:
            self.since_read.setdefault(write.equipment, []).append(write)  # unseen by the read

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender: Any) -> None:
        self.ticking = False
        if self.in_flight is not None and time.time() - self.in_flight[0] > JOB_TIMEOUT_S:
            stuck = time.time() - self.in_flight[0]
            logger.error("coordination database: no answer for {:.0f} s, reconnecting", stuck)
            self._session().abort()
        self._kick()
        self._keep(time.time())
        self._tick_soon()

    def receiveMsg_DbJobDone(self, message: DbJobDone, sender: Any) -> None:
        _, read, reply_to = self.in_flight or (0.0, None, None)
        self.in_flight = self.in_flight_batch = None
        self.written += message.written
        self.dropped += message.dropped
        if message.error is not None:
            if message.unwritten is not None:
                self.queue.give_back(message.unwritten)
                self._changed()
            self._down(message.error)
            if read is not None:
                self._read_failed(read, reply_to)
        else:
            self.db.up(time.time())
            self.own_schema_ready = message.own_schema
            if self.kept is not None:
                self.kept.written(self.queue, time.time())
            if isinstance(read, LoadInventory):
                self._reply_inventory(reply_to, message.inventory, None)
            elif isinstance(read, LoadRow):
                self._reply_row(read, reply_to, message)
        if self.queue.transitions or self.reads:
            self._kick()

    def receiveMsg_JobFailed(self, message: JobFailed, sender: Any) -> None:
        logger.error("coordination database job failed, its batch is dropped: {}", message.error)
        self.receiveMsg_DbJobDone(DbJobDone(error=message.error), sender)

    def receiveMsg_Introspect(self, message: Introspect, sender: Any) -> None:
        self.send(
            message.reply_to or sender,
            IntrospectReply(
                {
                    "connected": self.db.connected,
                    "down_since": self.db.down_since,
                    **self.queue.sizes(),
                    "job_in_flight_s": round(time.time() - self.in_flight[0], 3)
                    if self.in_flight
                    else None,
                    "own_schema": self.own_schema_ready,
                    "written": self.written,
                    "dropped": self.dropped,
                    **(self.kept.counters() if self.kept else {}),
                    **state_counts(self.command_states, self.control_states),
                }
            ),
        )

    def receiveMsg_Shutdown(self, message: Shutdown, sender: Any) -> None:
        self._final_flush()

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender: Any) -> None:
        self._final_flush()

    # --- jobs ----------------------------------------------------------------------------------

    def _kick(self) -> None:
        """Start the next job unless one is in flight or the database is in its retry delay."""
        if self.in_flight is not None or self.session is None or self.offload is None:
            return
        if self.db.waiting(time.time()):
            while self.reads:  # answered from what is at hand; writes wait for the retry
                self._read_failed(*self.reads.popleft())
            return
        reads_now = self.reads and len(self.queue.transitions) <= self.queue.max_transitions
        read, reply_to = self.reads.popleft() if reads_now else (None, None)
        if read is None and self.queue.empty():
            return
        batch = self.queue.take() if not self.queue.empty() else WriteBatch()
        session = self.session
        self.in_flight = (time.time(), read, reply_to)
        self.in_flight_batch = batch
        self.since_read = {}
        if isinstance(read, LoadInventory):
            self.offload.run(lambda: session.run(batch, "inventory"))
        elif isinstance(read, LoadRow):
            equipment = read.equipment
            self.offload.run(lambda: session.run(batch, "row", equipment))
        else:
            self.offload.run(lambda: session.run(batch))

    def _final_flush(self) -> None:
        """At shutdown: what is queued is written (bounded wait), then the connection closes."""
        if self.offload is None or self.session is None:
            return
        offload, session, self.offload = self.offload, self.session, None
        store = self.kept.store if self.kept else None
        left = pending(self.in_flight_batch, self.queue)
        if store is not None:  # kept first: a final write that hangs loses nothing
            store.save(left, time.time())
        if self.in_flight is None and not self.queue.empty() and self.db.down_since is None:
            batch = self.queue.take()

            def final() -> None:
                done = session.run(batch)
                if store is not None and done.error is None and self.queue.empty():
                    store.clear()

            offload.run(final)
        offload.run(lambda: session.close())
        offload.close()

    # --- replies -------------------------------------------------------------------------------

    def _read_failed(self, read: LoadInventory | LoadRow, reply_to: Any) -> None:
        if isinstance(read, LoadInventory):
            snapshot = read_snapshot(snapshot_path(self._config()))
            error = "coordination database unreachable" + (
                ", using the last inventory saved on disk" if snapshot else ""
            )
            later = by_equipment(pending(self.in_flight_batch, self.queue).transitions)
            self._reply_inventory(reply_to, snapshot, error, later)
        # a LoadRow is dropped: Viriya pings again, the reconciliation re-reads every row

    def _reply_inventory(
        self,
        reply_to: Any,
        snapshot: InventorySnapshot | None,
        error: str | None,
        later: dict[int, list[WriteState]] | None = None,
    ) -> None:
        if snapshot is None:
            self.send(reply_to, Inventory(rows=(), specs=(), error=error))
            return
        config = self._config()  # a partition builds only its share of the households
        overlaid = [overlay(row, later or self.since_read) for row in snapshot.rows]
        mine = share(overlaid, list(snapshot.devices), config.supervisor.share)
        rows = tuple(mine.rows)
        specs = build_inventory(list(rows), mine.devices, config)
        ids = {spec.id for spec in specs}
        driven = [row for row in rows if row.id in ids]
        self.command_states = {row.id: row.command_state for row in driven}
        self.control_states = {row.id: row.control_state for row in driven}
        seen = {row.id: self.writes_seen.get(row.id, 0) for row in driven}
        self.send(
            reply_to,
            Inventory(rows, tuple(specs), error=error, scope=mine.scope, writes_seen=seen),
        )

    def _reply_row(self, read: LoadRow, reply_to: Any, done: DbJobDone) -> None:
        if done.row is None:
            logger.warning("equipment {} asked by {}: no such row", read.equipment, read.source)
            return
        seen = self.writes_seen.get(read.equipment, 0)
        self.send(reply_to, RowChanged(overlay(done.row, self.since_read), time.time(), seen))

    # --- availability --------------------------------------------------------------------------

    def _down(self, error: str) -> None:
        sizes = self.queue.sizes()
        queued = sizes["queued_transitions"] + sizes["queued_observed"]
        self.db.down(f"{error} ({queued} writes queued)", time.time())

    def _changed(self) -> None:
        if self.kept is not None:
            self.kept.changed(self.queue)

    def _keep(self, now: float) -> None:
        """Keep what waits in the state directory while the database does not answer."""
        stuck = self.in_flight is not None and now - self.in_flight[0] > FLUSH_S
        if self.kept is not None and (self.db.down_since is not None or stuck):
            self.kept.keep(now, self.queue, self.in_flight_batch)

    def _tick_soon(self) -> None:
        if not self.ticking:
            self.ticking = True
            self.wakeupAfter(timedelta(seconds=FLUSH_S))

    def _session(self) -> CoordinationSession:
        assert self.session is not None, "DbGateway used before Configure"
        return self.session

    def _config(self) -> Config:
        assert self.config is not None, "DbGateway used before Configure"
        return self.config
