"""The PlanReader's EMS-database work, run by its worker thread (or inline): plan reads, the
disk copy of the plans, and the LISTEN connection that hears the EMS's NOTIFY."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
from loguru import logger
from psycopg import sql as pgsql

from actors import sql_plans as sql
from actors.db_session import CONNECTION_ERRORS, Session, connect, first_line
from protocol.config import Config
from protocol.messages import PlansRead

NOTIFY_WAIT_S = 1.0  # how often the LISTEN thread looks whether it should stop


class PlanSession(Session):
    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.listening = False  # inline mode: the read connection also LISTENs

    def read(
        self, machines: list[int], full: bool, last_id: int, now: float, listen: bool = False
    ) -> PlansRead:
        """The plans of `machines`: all current ones (`full`) or the rows after `last_id`."""
        table = self.config.ems.table
        try:
            conn = self._connection(listen)
            if full:
                new_last = sql.max_plan_id(conn, table)
                plans, problems = sql.load_current_plans(conn, table, machines, int(now))
            else:
                plans, problems = sql.load_new_plans(conn, table, machines, last_id, int(now))
                new_last = max([last_id, *(p.id for p in plans)])
        except psycopg.Error as exc:  # unreachable, or e.g. the table is missing
            if isinstance(exc, CONNECTION_ERRORS):
                self.close()
            return PlansRead(error=first_line(exc), full=full, at=now)
        return PlansRead(tuple(plans), tuple(problems), new_last, full, now)

    def notified(self) -> bool:
        """Inline mode: drain the NOTIFYs that arrived on the read connection."""
        if self.conn is None:
            return False
        try:
            return bool(list(self.conn.notifies(timeout=0)))
        except CONNECTION_ERRORS:
            self.close()
            return False

    def fileno(self) -> int | None:
        if not self.listening or self.conn is None or self.conn.closed:
            return None
        return self.conn.fileno()

    def close(self) -> None:
        super().close()
        self.listening = False

    def _connection(self, listen: bool) -> psycopg.Connection:
        if self.conn is None or self.conn.closed:
            self.conn = connect(self.config.ems_dsn, 30000)
            self.listening = False
            if listen and self.config.ems.notify_channel:
                listen_to(self.conn, self.config.ems.notify_channel)
                self.listening = True
        return self.conn


def listen_to(conn: psycopg.Connection, channel: str) -> None:
    conn.execute(pgsql.SQL("LISTEN {}").format(pgsql.Identifier(channel)))


def listen_loop(config: Config, notify: Callable[[], None]) -> Callable[[Callable[[], bool]], None]:
    """The body of the LISTEN thread (threaded mode): `notify()` once per burst of NOTIFYs."""

    def loop(stopped: Callable[[], bool]) -> None:
        channel = config.ems.notify_channel
        assert channel
        with connect(config.ems_dsn, 30000) as conn:
            listen_to(conn, channel)
            while not stopped():
                if list(conn.notifies(timeout=NOTIFY_WAIT_S, stop_after=1)):
                    notify()  # the read that follows sees every row committed so far

    return loop


def save_plans(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        logger.warning("cannot save the EMS plans to {}: {}", path, exc)
