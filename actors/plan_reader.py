"""PlanReader: reads the EMS plans and hands each equipment its decision for the current slot.

Reads at every quarter-hour boundary (+ `boundary_delay_seconds`), every `poll_seconds`, and at
once on a NOTIFY on `ems.notify_channel` when the EMS database has the trigger of
`deploy/sql/ems_notify.sql` (the connection's socket is watched, multiprocTCPBase only). Sends
`EmsDecision` when an equipment's decision for the current slot appears or changes, and to every
equipment at each boundary. The plans are kept on disk, so that a database outage (or a restart
during one) still applies them slot by slot until they run out.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import psycopg
from loguru import logger
from psycopg import sql as pgsql
from thespian.actors import (
    ActorExitRequest,
    ActorTypeDispatcher,
    ThespianWatch,
    WakeupMessage,
    WatchMessage,
)

from actors import sql
from protocol import ems
from protocol.config import Config
from protocol.messages import (
    Configure,
    EmsDecision,
    Introspect,
    IntrospectReply,
    PlannedStarts,
    PlannedStartsReply,
    PlansSource,
    PlanTargets,
)
from protocol.screens.state import next_planned_start

CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


class PlanReader(ActorTypeDispatcher):
    def __init__(self) -> None:
        super().__init__()
        self.config: Config | None = None
        self.conn: psycopg.Connection | None = None
        self.book: ems.PlanBook = {}
        self.targets: dict[int, Any] = {}
        self.sent: dict[int, ems.Decision] = {}
        self.last_id = 0
        self.full_read_needed = True
        self.down_since: float | None = None
        self.last_read_at: float | None = None
        self.problems_seen: set[str] = set()
        self.listening = False
        self.supervisor: Any = None

    def receiveMessage(self, message: Any, sender: Any) -> ThespianWatch | None:
        try:
            super().receiveMessage(message, sender)
        finally:
            watch = self._watch()  # returned on every path, or the socket stops being watched
        return watch

    def receiveMsg_Configure(self, message: Configure, sender: Any) -> None:
        self.config = message.config
        self.supervisor = sender
        self.book = self._load_file()
        self.wakeupAfter(timedelta(seconds=0), payload="first")
        self._schedule_poll()

    def receiveMsg_WatchMessage(self, message: WatchMessage, sender: Any) -> None:
        """The EMS announced new rows: read them now rather than at the next poll."""
        if self.conn is None:
            return
        try:
            notified = list(self.conn.notifies(timeout=0))
        except CONNECTION_ERRORS as exc:
            self._down(exc, time.time())
            return
        if notified:
            now = time.time()
            self._read(now)
            self._dispatch(now, boundary=False)

    def receiveMsg_PlanTargets(self, message: PlanTargets, sender: Any) -> None:
        added = [e for e, _ in message.targets if e not in self.targets]
        self.targets = dict(message.targets)
        self.sent = {e: d for e, d in self.sent.items() if e in self.targets}
        if added:
            self.full_read_needed = True
        self._read(time.time())
        self._dispatch(time.time(), boundary=False)

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender: Any) -> None:
        now = time.time()
        boundary = message.payload == "boundary"
        self._read(now)
        self._dispatch(now, boundary=boundary)
        if message.payload in ("boundary", "first"):
            self._schedule_boundary(now)
        else:
            self._schedule_poll()

    def receiveMsg_PlannedStarts(self, message: PlannedStarts, sender: Any) -> None:
        """For the household screens' labels ("Démarrage prévu 14:30")."""
        now = time.time()
        starts = tuple(
            (e, next_planned_start(self.book.get(e, ()), now)) for e in message.members
        )
        self.send(message.reply_to, PlannedStartsReply(starts))

    def receiveMsg_Introspect(self, message: Introspect, sender: Any) -> None:
        now = time.time()
        self.send(
            message.reply_to or sender,
            IntrospectReply(
                {
                    "database": "down" if self.down_since else "up",
                    "plans": sum(len(p) for p in self.book.values()),
                    "equipment_with_decision": len(ems.decisions(self.book, now)),
                    "runs_out_at": ems.last_decision_time(self.book),
                    "last_read_at": self.last_read_at,
                }
            ),
        )

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender: Any) -> None:
        if self.conn is not None:
            self.conn.close()

    # --- scheduling ----------------------------------------------------------------------------

    def _schedule_boundary(self, now: float) -> None:
        delay = self._config().ems.boundary_delay_seconds
        self.wakeupAfter(
            timedelta(seconds=max(0.0, ems.next_boundary(now) + delay - now)), payload="boundary"
        )

    def _schedule_poll(self) -> None:
        self.wakeupAfter(timedelta(seconds=self._config().ems.poll_seconds), payload="poll")

    # --- reading -------------------------------------------------------------------------------

    def _read(self, now: float) -> None:
        if not self.targets:
            return
        config = self._config()
        machines = sorted(self.targets)
        try:
            conn = self._connection()
            if self.full_read_needed:
                last_id = sql.max_plan_id(conn, config.ems.table)
                plans, problems = sql.load_current_plans(conn, config.ems.table, machines, int(now))
                self.last_id, self.full_read_needed = last_id, False
            else:
                plans, problems = sql.load_new_plans(
                    conn, config.ems.table, machines, self.last_id, int(now)
                )
                self.last_id = max([self.last_id, *(p.id for p in plans)])
        except CONNECTION_ERRORS as exc:
            self._down(exc, now)
            self.book = ems.prune(self.book, now)
            return
        except psycopg.Error as exc:  # e.g. the table is missing: say so, keep the cached plans
            self._down(exc, now)
            return
        self._up(now)
        for problem in problems:
            if problem not in self.problems_seen:
                self.problems_seen.add(problem)
                logger.warning("EMS plan ignored: {}", problem)
        before = self.book
        self.book = ems.merge(self.book, plans, now)
        self.last_read_at = now
        if self.book != before:
            self._save_file()

    def _dispatch(self, now: float, boundary: bool) -> None:
        """Send each equipment its decision when it is new, changed, or at a slot boundary."""
        for equipment, decision in ems.decisions(self.book, now).items():
            actor = self.targets.get(equipment)
            if actor is None:
                continue
            if boundary or self.sent.get(equipment) != decision:
                self.sent[equipment] = decision
                self.send(
                    actor,
                    EmsDecision(equipment, decision.on, decision.slot_start, decision.plan_id, now),
                )

    def _connection(self) -> psycopg.Connection:
        if self.conn is None or self.conn.closed:
            config = self._config()
            self.conn = psycopg.connect(
                config.ems_dsn,
                autocommit=True,
                connect_timeout=5,
                options="-c statement_timeout=30000",
            )
            self.listening = False
            if config.ems.notify_channel:
                channel = pgsql.Identifier(config.ems.notify_channel)
                self.conn.execute(pgsql.SQL("LISTEN {}").format(channel))
                self.listening = True
        return self.conn

    def _watch(self) -> ThespianWatch | None:
        if not self.listening or self.conn is None or self.conn.closed or self.config is None:
            return None
        if self.config.supervisor.system_base == "simpleSystemBase":
            return None  # cannot watch sockets: the polls do the work
        return ThespianWatch([self.conn.fileno()])

    def _down(self, exc: Exception, now: float) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        self.listening = False
        self.full_read_needed = True
        if self.down_since is None:
            self.down_since = now
            runs_out = ems.last_decision_time(self.book)
            until = time.strftime("%Y-%m-%d %H:%M", time.localtime(runs_out)) if runs_out else "now"
            logger.error(
                "EMS plans unreadable ({}): applying the cached plans until {}",
                str(exc).strip().splitlines()[0],
                until,
            )
            self._announce(f"cached until {until}")

    def _up(self, now: float) -> None:
        if self.down_since is not None:
            logger.info("EMS plans readable again after {:.0f} s", now - self.down_since)
            self.down_since = None
            self._announce("database")

    def _announce(self, source: str) -> None:
        """The supervisor's status says where the decisions come from."""
        if self.supervisor is not None:
            self.send(self.supervisor, PlansSource(source))

    # --- disk copy -----------------------------------------------------------------------------

    def _path(self) -> Path:
        return Path(self._config().supervisor.state_dir) / "plans.json"

    def _save_file(self) -> None:
        path = self._path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(ems.encode_book(self.book))
            tmp.replace(path)
        except OSError as exc:
            logger.warning("cannot save the EMS plans to {}: {}", path, exc)

    def _load_file(self) -> ems.PlanBook:
        path = self._path()
        try:
            return ems.prune(ems.decode_book(path.read_bytes()), time.time())
        except FileNotFoundError:
            return {}
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            logger.warning("ignoring the damaged plan file {}: {}", path, exc)
            return {}

    def _config(self) -> Config:
        assert self.config is not None, "PlanReader used before Configure"
        return self.config
