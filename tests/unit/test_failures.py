"""Permanent vs transient failures, backoff, and the outage log policy."""

from __future__ import annotations

import errno
import ssl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.failures import (
    Kind,
    Outage,
    backoff_delay,
    classify_connack,
    classify_exception,
    classify_sqlstate,
)


@pytest.mark.parametrize(
    ("code", "kind", "key"),
    [
        (0x86, Kind.PERMANENT, "mqtt.password"),
        (0x87, Kind.PERMANENT, "mqtt.password"),
        (0x85, Kind.PERMANENT, "mqtt.client_id"),
        (0x84, Kind.PERMANENT, "mqtt.protocol"),
        (0x88, Kind.TRANSIENT, None),
        (0x89, Kind.TRANSIENT, None),
        (0x9F, Kind.TRANSIENT, None),
        (0xFE, Kind.TRANSIENT, None),  # unknown: retry rather than give up
    ],
)
def test_connack_codes(code: int, kind: Kind, key: str | None) -> None:
    failure = classify_connack(code)
    assert failure is not None
    assert (failure.kind, failure.key) == (kind, key)
    assert "\n" not in failure.line()


def test_connack_success_is_no_failure() -> None:
    assert classify_connack(0) is None
    assert classify_connack(1) is None  # granted QoS 1 is a success code too


def test_anonymous_refused_blames_the_user_name() -> None:
    failure = classify_connack(0x87, has_username=False)
    assert failure is not None and failure.key == "mqtt.username"
    assert failure.line() == "mqtt.username: MQTT broker refused the connection: not authorized"


@pytest.mark.parametrize(
    ("sqlstate", "kind"),
    [
        ("28P01", Kind.PERMANENT),
        ("42501", Kind.PERMANENT),
        ("42P01", Kind.PERMANENT),
        ("42703", Kind.PERMANENT),
        ("3D000", Kind.PERMANENT),
        ("08006", Kind.TRANSIENT),
        ("57P01", Kind.TRANSIENT),  # admin shutdown
        ("57P03", Kind.TRANSIENT),  # the database system is starting up
        ("53300", Kind.TRANSIENT),  # too many connections
        ("40P01", Kind.TRANSIENT),
    ],
)
def test_sqlstates(sqlstate: str, kind: Kind) -> None:
    failure = classify_sqlstate(sqlstate, 'ERROR:  relation "x" does not exist', "coordination.dsn")
    assert failure.kind is kind
    assert failure.key == "coordination.dsn"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (
            'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
            'role "nosuchrole" does not exist',
            Kind.PERMANENT,
        ),
        (
            'connection failed: connection to server at "10.0.0.1", port 5432 failed: FATAL:  '
            'password authentication failed for user "elfe_supervisor"',
            Kind.PERMANENT,
        ),
        (
            'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
            'database "nosuchdb" does not exist',
            Kind.PERMANENT,
        ),
        (
            'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection '
            "refused\n\tIs the server running on that host and accepting TCP/IP connections?",
            Kind.TRANSIENT,
        ),
        ("connection failed: timeout expired", Kind.TRANSIENT),
    ],
)
def test_libpq_connection_texts(text: str, kind: Kind) -> None:
    failure = classify_sqlstate(None, text, "ems.dsn")
    assert failure.kind is kind
    assert "\n" not in failure.line()
    if kind is Kind.PERMANENT:
        assert "FATAL: " in failure.cause  # the server's reason is kept, whitespace folded


def test_exceptions() -> None:
    unreadable = FileNotFoundError(errno.ENOENT, "No such file or directory", "/etc/ca.pem")
    failure = classify_exception(unreadable, "mqtt.ca_file")
    assert failure.permanent and failure.key == "mqtt.ca_file"
    assert "/etc/ca.pem" in failure.cause
    denied = PermissionError(errno.EACCES, "Permission denied", "/etc/ca.pem")
    assert classify_exception(denied, "mqtt.ca_file").permanent
    assert not classify_exception(ConnectionRefusedError(111, "refused"), "mqtt.host").permanent
    assert not classify_exception(ConnectionResetError(104, "reset"), "mqtt.host").permanent
    assert not classify_exception(TimeoutError("timed out"), "mqtt.host").permanent
    assert not classify_exception(OSError(errno.ENETUNREACH, "unreachable"), "mqtt.host").permanent
    assert classify_exception(ssl.SSLError(1, "bad"), "mqtt.ca_file").permanent
    assert classify_exception(ValueError("Invalid host."), "mqtt.host").permanent


def test_database_exceptions_by_sqlstate_attribute() -> None:
    class UndefinedTable(Exception):
        sqlstate = "42P01"

    failure = classify_exception(UndefinedTable('relation "result" does not exist'), "ems.table")
    assert failure.permanent and failure.key == "ems.table"


@given(st.integers(min_value=0, max_value=10_000), st.floats(min_value=0, max_value=1))
def test_backoff_is_bounded_and_never_zero(attempt: int, random: float) -> None:
    delay = backoff_delay(attempt, random, base=1.0, cap=60.0)
    step = min(60.0, 2.0 ** min(attempt, 62))
    assert step / 2 <= delay <= step
    assert 0 < delay <= 60.0


@given(st.integers(min_value=0, max_value=100), st.floats(min_value=0, max_value=1))
def test_backoff_grows_until_the_cap(attempt: int, random: float) -> None:
    # the least wait of the next attempt is at least the least wait of this one
    assert backoff_delay(attempt + 1, 0.0) >= backoff_delay(attempt, 0.0)
    assert backoff_delay(attempt, random) >= backoff_delay(attempt, 0.0)


def test_backoff_sequence() -> None:
    assert [backoff_delay(a, 0.0, base=1, cap=30) for a in range(7)] == [
        0.5,
        1,
        2,
        4,
        8,
        15,
        15,
    ]
    assert backoff_delay(3, 1.0, base=1, cap=30) == 8.0


def test_outage_logs_once_per_state_change_and_reminds() -> None:
    outage = Outage("MQTT broker 127.0.0.1:1883", remind_s=600)
    lines: list[str] = []
    outage, line = outage.recovered(0.0)
    assert line is None  # up and staying up: nothing
    for now in range(0, 1300, 2):  # a failure every 2 s for 21 minutes
        outage, line = outage.failed(float(now), "connection refused")
        if line:
            lines.append(line)
    outage, line = outage.recovered(1300.0)
    assert line is not None
    lines.append(line)
    assert lines == [
        "MQTT broker 127.0.0.1:1883 down: connection refused",
        "MQTT broker 127.0.0.1:1883 still down after 10 min (301 attempts): connection refused",
        "MQTT broker 127.0.0.1:1883 still down after 20 min (601 attempts): connection refused",
        "MQTT broker 127.0.0.1:1883 back after 22 min",
    ]
    outage, line = outage.failed(1400.0, "timed out")
    assert line == "MQTT broker 127.0.0.1:1883 down: timed out"


@given(st.lists(st.tuples(st.booleans(), st.floats(min_value=0, max_value=5)), max_size=200))
def test_outage_lines_are_bounded(steps: list[tuple[bool, float]]) -> None:
    """At most one line per change of state plus one per reminder period."""
    outage, now, lines, changes = Outage("db", remind_s=60), 0.0, 0, 0
    for ok, dt in steps:
        now += dt
        was_down = outage.down
        outage, line = outage.recovered(now) if ok else outage.failed(now, "x")
        changes += was_down != outage.down
        lines += line is not None
    assert lines <= changes + now / 60 + 1
