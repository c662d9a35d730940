"""The DbGateway's connection and its blocking work, run by its worker thread (or inline).

One job = one batch of writes (maybe empty) and then, when asked, one read. A batch is one
transaction: each transition is written in the order it was made and stays atomic; consecutive
transitions that set the same columns go in one statement from arrays. If the database refuses
one transition (not a connection error), the batch is written again one transition at a time,
each in its own savepoint, and only that one is dropped. On a connection error nothing of the
batch is committed: it comes back whole (`DbJobDone.unwritten`) and the read is not done.
"""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import msgspec
import psycopg
from loguru import logger

from actors import sql, sql_own, sql_screens
from protocol.batching import same_column_runs
from protocol.config import Config
from protocol.inventory import attach_details
from protocol.messages import DbJobDone, Declaration, InventorySnapshot, WriteBatch, WriteState
from protocol.model import EquipmentRow
from protocol.partition import state_file
from runtime.secrets import coordination_dsn

CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


def connect(dsn: str, statement_timeout_ms: int) -> psycopg.Connection:
    """A connection that gives up on an unanswering server: connect timeout, TCP keepalives."""
    return psycopg.connect(
        dsn,
        autocommit=True,
        connect_timeout=5,
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=5,
        keepalives_count=3,
        options=f"-c statement_timeout={statement_timeout_ms}",
    )


def abort(conn: psycopg.Connection | None) -> None:
    """From another thread: break a connection stuck on an unanswering server, so that the call
    blocked on it fails with a connection error."""
    if conn is None or conn.closed:
        return
    with contextlib.suppress(OSError, psycopg.Error):
        fd = conn.pgconn.socket
        sock = socket.socket(fileno=fd)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.detach()  # the descriptor stays psycopg's


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class Session:
    """A database connection used by one worker thread (or inline); `abort` from any thread."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.conn: psycopg.Connection | None = None

    def abort(self) -> None:
        abort(self.conn)

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                self.conn.close()
        self.conn = None


class CoordinationSession(Session):
    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.own_schema_ready: bool | None = None  # None: not tried yet; False: disabled

    # --- the job -------------------------------------------------------------------------------

    def run(self, batch: WriteBatch, read: str | None = None, equipment: int = 0) -> DbJobDone:
        """Write `batch`, then read ("inventory" or "row" of `equipment`) if asked."""
        done: DbJobDone | None = None  # set once the batch is committed
        try:
            conn = self._connection()
            written, dropped = self._write(conn, batch)
            done = DbJobDone(
                written=written, dropped=dropped, own_schema=self._write_own(conn, batch)
            )
            if read == "inventory":
                return msgspec.structs.replace(done, inventory=self._inventory(conn))
            if read == "row":
                row = sql.load_one(conn, self.config.coordination.schema, equipment)
                return msgspec.structs.replace(done, row=row, row_missing=row is None)
            return done
        except CONNECTION_ERRORS as exc:
            self.close()
            if done is None:
                return DbJobDone(unwritten=batch, error=first_line(exc))
            return msgspec.structs.replace(done, error=first_line(exc))  # the read failed
        except psycopg.Error as exc:  # the read is wrong (a missing table...): say it, go on
            logger.error("coordination database: {} read failed: {}", read, first_line(exc))
            return msgspec.structs.replace(done or DbJobDone(), error=first_line(exc))

    def connection(self) -> psycopg.Connection:
        """The session's connection (opened when needed), for jobs of the same worker."""
        return self._connection()

    # --- writes --------------------------------------------------------------------------------

    def _write(self, conn: psycopg.Connection, batch: WriteBatch) -> tuple[int, int]:
        if not batch.transitions and not batch.observed and not batch.declarations:
            return 0, 0
        schema = self.config.coordination.schema
        try:
            with conn.transaction():
                for fields, writes in same_column_runs(batch.transitions):
                    self._warn_missing(sql.write_state_run(conn, schema, fields, writes), writes)
                if batch.observed:
                    sql.write_observed(conn, schema, batch.observed)
                for declaration in batch.declarations:
                    _write_declaration(conn, schema, declaration)
            return len(batch.transitions), 0
        except CONNECTION_ERRORS:
            raise
        except psycopg.Error:  # one write is wrong, not the database: find it, keep the others
            return self._write_one_by_one(conn, batch)

    def _write_one_by_one(self, conn: psycopg.Connection, batch: WriteBatch) -> tuple[int, int]:
        schema = self.config.coordination.schema
        written = dropped = 0
        with conn.transaction():
            for write in batch.transitions:
                try:
                    with conn.transaction():  # a savepoint: this transition alone
                        if sql.write_state(conn, schema, write) == 0:
                            self._warn_missing([write.equipment], [write])
                    written += 1
                except CONNECTION_ERRORS:
                    raise
                except psycopg.Error as exc:
                    dropped += 1
                    logger.error(
                        "equipment {}: write refused, dropped: {}", write.equipment, first_line(exc)
                    )
            if batch.observed:
                try:
                    with conn.transaction():
                        sql.write_observed(conn, schema, batch.observed)
                except CONNECTION_ERRORS:
                    raise
                except psycopg.Error as exc:
                    logger.error("observed states refused, dropped: {}", first_line(exc))
            for declaration in batch.declarations:
                try:
                    with conn.transaction():
                        _write_declaration(conn, schema, declaration)
                except CONNECTION_ERRORS:
                    raise
                except psycopg.Error as exc:
                    logger.error(
                        "equipment {}: declaration refused, dropped: {}",
                        declaration.update.equipment,
                        first_line(exc),
                    )
        return written, dropped

    @staticmethod
    def _warn_missing(missing: list[int], writes: list[WriteState]) -> None:
        reasons = {w.equipment: w.reason for w in writes}
        for equipment in missing:
            logger.warning("equipment {}: no row to write ({})", equipment, reasons[equipment])

    def _write_own(self, conn: psycopg.Connection, batch: WriteBatch) -> bool | None:
        """Telemetry and the event journal, in the supervisor's own schema, one transaction."""
        own = self.config.coordination.own_schema
        if not own or not (batch.telemetry or batch.events) or not self._own_schema(conn, own):
            return self.own_schema_ready
        try:
            with conn.transaction():
                sql_own.write_telemetry(conn, own, batch.telemetry)
                sql_own.write_relay_changes(conn, own, batch.telemetry)
                sql_own.write_events(conn, own, batch.events)
        except CONNECTION_ERRORS:
            raise
        except psycopg.Error as exc:
            logger.error("own schema {}: write refused, batch dropped: {}", own, first_line(exc))
        return self.own_schema_ready

    def _own_schema(self, conn: psycopg.Connection, own: str) -> bool:
        """Create the supervisor's tables once; without the right to, run without them."""
        if self.own_schema_ready is None:
            try:
                sql_own.ensure_own_schema(conn, own)
                days = self.config.coordination.journal_days
                with conn.transaction():
                    sql_own.prune_events(conn, own, int(time.time()) - days * 86400)
                self.own_schema_ready = True
            except CONNECTION_ERRORS:
                raise
            except psycopg.Error as exc:
                self.own_schema_ready = False
                logger.warning(
                    "own schema {} unavailable, no telemetry nor journal: {}", own, first_line(exc)
                )
        return bool(self.own_schema_ready)

    # --- reads ---------------------------------------------------------------------------------

    def _inventory(self, conn: psycopg.Connection) -> InventorySnapshot:
        schema = self.config.coordination.schema
        rows = self._with_relays(conn, sql.load_equipment(conn, schema))
        devices = sql.load_devices(conn, schema)
        details = sql.load_details(conn, schema, [d.type_name for d in devices if d.type_name])
        snapshot = InventorySnapshot(
            rows=tuple(rows), devices=tuple(attach_details(devices, details))
        )
        save_snapshot(snapshot_path(self.config), snapshot)
        return snapshot

    def _with_relays(
        self, conn: psycopg.Connection, rows: list[EquipmentRow]
    ) -> list[EquipmentRow]:
        """The rows with the last confirmed change of their switches (the own schema's)."""
        own = self.config.coordination.own_schema
        if not own or not self._own_schema(conn, own):
            return rows
        try:
            relays = sql_own.load_relays(conn, own)
        except CONNECTION_ERRORS:
            raise
        except psycopg.Error as exc:  # the inventory goes on without them
            logger.warning("own schema {}: relay changes not read: {}", own, first_line(exc))
            return rows
        return [msgspec.structs.replace(r, relays=relays.get(r.id, ())) for r in rows]

    def _connection(self) -> psycopg.Connection:
        if self.conn is None or self.conn.closed:
            self.conn = connect(coordination_dsn(self.config), 15000)
        return self.conn


def snapshot_path(config: Config) -> Path:
    """The whole inventory, kept by each partition in its own file (`inventory-<k>.json`)."""
    supervisor = config.supervisor
    return Path(supervisor.state_dir) / state_file("inventory.json", supervisor.share)


def save_snapshot(path: Path, snapshot: InventorySnapshot) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.encode(snapshot))
        tmp.replace(path)
    except OSError as exc:
        logger.warning("cannot save the inventory to {}: {}", path, exc)


def read_snapshot(path: Path) -> InventorySnapshot | None:
    try:
        return msgspec.json.decode(path.read_bytes(), type=InventorySnapshot)
    except FileNotFoundError:
        return None
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        logger.warning("ignoring the damaged inventory file {}: {}", path, exc)
        return None


def _write_declaration(conn: psycopg.Connection, schema: str, declaration: Declaration) -> None:
    """A declaration made on a screen while the database was unreachable, written late."""
    if sql_screens.write_screen_update(conn, schema, declaration.update, declaration.at) == 0:
        logger.warning(
            "equipment {}: declaration not written (no type-specific row for it)",
            declaration.update.equipment,
        )
    else:
        logger.info(
            "equipment {}: declaration made during the outage written", declaration.update.equipment
        )
