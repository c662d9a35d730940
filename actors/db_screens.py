"""The DbGateway's part for the household screens: read what a household's screens show, and
write a declaration made on a screen (deadline, cycle duration, charge) in one transaction.
A mixin of `DbGateway`: the jobs run on its worker, after the jobs queued before them, on its
session's connection; the answer comes back through the gateway (`ScreenJobDone`).

A declaration the database cannot take because it is unreachable is not lost: it waits in the
gateway's write queue (kept on disk with the transitions) and is written, in order, with the
next batch once the database answers; the screens show it at once. While any declaration waits
(or the database is known down) the new ones queue behind it, so that none overtakes another."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg
from loguru import logger

from actors import sql_screens
from actors.availability import Availability
from actors.db_session import CONNECTION_ERRORS, CoordinationSession, first_line
from protocol.batching import WriteQueue
from protocol.messages import (
    Declaration,
    LoadScreenHousehold,
    Message,
    ScreenHousehold,
    ScreenJobDone,
    ScreenUpdateWritten,
    WriteScreenUpdate,
)
from runtime.blocking import Offload

UNREACHABLE = "coordination database unreachable"


class ScreenQueries:
    """Needs the gateway's `session`, `offload`, `config` and `send`."""

    session: CoordinationSession | None
    offload: Offload | None
    send: Any
    queue: WriteQueue
    db: Availability
    _changed: Callable[[], None]  # the queue changed (kept on disk)
    _keep: Callable[[float], None]
    _kick: Callable[[], None]  # start the next job

    def receiveMsg_LoadScreenHousehold(self, message: LoadScreenHousehold, sender: Any) -> None:
        def failed(error: str) -> Message:
            return ScreenHousehold(message.household, (), error)

        self._screen_job(message.reply_to, lambda s: household(s, message), failed)

    def receiveMsg_WriteScreenUpdate(self, message: WriteScreenUpdate, sender: Any) -> None:
        def failed(error: str) -> Message:
            return ScreenUpdateWritten(message.update, error, time.time())

        if self.queue.declarations or self.db.down_since is not None:
            waiting = Declaration(message.update, message.at)
            self._queue_declaration(waiting)
            answer = ScreenUpdateWritten(message.update, None, message.at, queued=True)
            self.send(message.reply_to, answer)
            return
        self._screen_job(message.reply_to, lambda s: declaration(s, message), failed)

    def receiveMsg_ScreenJobDone(self, message: ScreenJobDone, sender: Any) -> None:
        answer = message.answer
        if isinstance(answer, ScreenUpdateWritten) and answer.queued:  # unreachable: it waits
            self._queue_declaration(Declaration(answer.update, int(answer.at)))
        self.send(message.reply_to, answer)

    def _queue_declaration(self, waiting: Declaration) -> None:
        logger.warning(
            "equipment {}: {}, the declaration waits for it", waiting.update.equipment, UNREACHABLE
        )
        self.queue.add(waiting)
        self._changed()
        self._keep(time.time())
        self._kick()

    def _screen_job(
        self,
        reply_to: Any,
        job: Callable[[CoordinationSession], Message],
        failed: Callable[[str], Message],
    ) -> None:
        """Run `job` on the worker; whatever happens its screen gets an answer (an exception
        escaping it would reach the gateway as the failure of the gateway's own job)."""
        session, offload = self.session, self.offload
        if session is None or offload is None:
            return

        def run() -> ScreenJobDone:
            try:
                return ScreenJobDone(reply_to, job(session))
            except Exception as exc:
                logger.exception("screen job failed")
                return ScreenJobDone(reply_to, failed(f"{type(exc).__name__}: {first_line(exc)}"))

        offload.run(run)


def household(session: CoordinationSession, request: LoadScreenHousehold) -> Message:
    coordination = session.config.coordination
    try:
        rows = sql_screens.load_screen_household(
            session.connection(),
            coordination.schema,
            coordination.own_schema or None,
            list(request.members),
        )
    except CONNECTION_ERRORS as exc:
        session.close()
        return ScreenHousehold(request.household, (), f"{UNREACHABLE}: {first_line(exc)}")
    return ScreenHousehold(request.household, tuple(rows))


def declaration(session: CoordinationSession, request: WriteScreenUpdate) -> Message:
    """Written now, or (unreachable) `queued`, its `at` the time of the touch."""
    error = None
    try:
        conn = session.connection()
        with conn.transaction():
            schema = session.config.coordination.schema
            if sql_screens.write_screen_update(conn, schema, request.update, request.at) == 0:
                error = "no row to write (no type-specific row for this declaration)"
    except CONNECTION_ERRORS:
        session.close()
        return ScreenUpdateWritten(request.update, None, request.at, queued=True)
    except psycopg.Error as exc:
        error = f"write refused: {first_line(exc)}"
    return ScreenUpdateWritten(request.update, error, time.time())
