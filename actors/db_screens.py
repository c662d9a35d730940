"""The DbGateway's part for the household screens: read what a household's screens show, and
write a declaration made on a screen (deadline, cycle duration, charge) in one transaction.
A mixin of `DbGateway`, which owns the connection."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from actors import sql
from protocol.config import Config
from protocol.messages import (
    LoadScreenHousehold,
    ScreenHousehold,
    ScreenUpdateWritten,
    WriteScreenUpdate,
)

CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


class ScreenQueries:
    """Needs the gateway's `_config`, `_connection`, `_flush`, `_down`, `_up` and `send`."""

    _config: Any
    _connection: Any
    _flush: Any
    _down: Any
    _up: Any
    send: Any

    def receiveMsg_LoadScreenHousehold(self, message: LoadScreenHousehold, sender: Any) -> None:
        config: Config = self._config()
        error = None
        equipment: list[Any] = []
        if not self._flush():  # queued transitions first: the screen must not show older ones
            error = "coordination database unreachable"
        else:
            try:
                equipment = sql.load_screen_household(
                    self._connection(),
                    config.coordination.schema,
                    config.coordination.own_schema or None,
                    list(message.members),
                )
                self._up()
            except CONNECTION_ERRORS as exc:
                self._down(exc)
                error = "coordination database unreachable"
        reply = ScreenHousehold(message.household, tuple(equipment), error)
        self.send(message.reply_to, reply)

    def receiveMsg_WriteScreenUpdate(self, message: WriteScreenUpdate, sender: Any) -> None:
        schema = self._config().coordination.schema
        error = None
        try:
            conn = self._connection()
            with conn.transaction():
                if sql.write_screen_update(conn, schema, message.update, message.at) == 0:
                    error = "no row to write (no type-specific row for this declaration)"
            self._up()
        except CONNECTION_ERRORS as exc:
            self._down(exc)
            error = "coordination database unreachable, the declaration is lost"
        except psycopg.Error as exc:
            error = f"write refused: {str(exc).splitlines()[0]}"
        self.send(message.reply_to, ScreenUpdateWritten(message.update, error, time.time()))
