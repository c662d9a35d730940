"""Broker fixtures for the simulator tests: a unique topic prefix per test, an MQTT 5 probe that
sees the retain flag as published, and a sweep that deletes every retained message left under
the prefix (the shared Mosquitto has persistence on)."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.subscribeoptions import SubscribeOptions

BROKER_HOST = os.environ.get("ELFE_TEST_MQTT_HOST", "127.0.0.1")
BROKER_PORT = int(os.environ.get("ELFE_TEST_MQTT_PORT", "1883"))


@dataclass(frozen=True)
class Msg:
    t: float
    topic: str
    payload: str
    retain: bool


def _client(name: str) -> mqtt.Client:
    return mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"{name}-{secrets.token_hex(4)}",
        protocol=mqtt.MQTTv5,
    )


class Probe:
    """Subscribes ``<prefix>/#`` with retain-as-published, so the retain flag is the publisher's."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._messages: list[Msg] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self._client = _client("probe")
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *args: self._subscribed.set()
        self._client.connect(BROKER_HOST, BROKER_PORT)
        self._client.loop_start()
        options = SubscribeOptions(qos=1, retainAsPublished=True)
        self._client.subscribe(f"{prefix}/#", options=options)
        if not self._subscribed.wait(5):
            raise TimeoutError("probe: no SUBACK")

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        msg = Msg(
            time.time(), message.topic, message.payload.decode("utf-8", "replace"), message.retain
        )
        with self._cond:
            self._messages.append(msg)
            self._cond.notify_all()

    @property
    def messages(self) -> list[Msg]:
        with self._cond:
            return list(self._messages)

    def mark(self) -> int:
        """Index to pass as ``since`` to only look at later messages."""
        with self._cond:
            return len(self._messages)

    def on(self, topic: str, since: int = 0) -> list[Msg]:
        with self._cond:
            return [m for m in self._messages[since:] if m.topic == topic]

    def wait_for(
        self,
        topic: str,
        predicate: Callable[[Msg], bool] = lambda m: True,
        *,
        since: int = 0,
        timeout: float = 3.0,
    ) -> Msg:
        def find() -> Msg | None:
            return next(
                (m for m in self._messages[since:] if m.topic == topic and predicate(m)), None
            )

        with self._cond:
            self._cond.wait_for(lambda: find() is not None, timeout)
            found = find()
        if found is None:
            seen = [(m.topic, m.payload) for m in self.messages[since:]]
            raise AssertionError(f"nothing matching on {topic!r} within {timeout}s; seen {seen}")
        return found

    def publish(self, topic: str, payload: str = "", *, qos: int = 1) -> None:
        self._client.publish(topic, payload, qos=qos).wait_for_publish(3)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def retained_under(prefix: str, settle_s: float = 0.2) -> dict[str, str]:
    """What a *new* subscriber to ``<prefix>/#`` receives as retained messages."""
    found: dict[str, str] = {}
    client = _client("retained")

    def on_message(c: Any, u: Any, message: mqtt.MQTTMessage) -> None:
        if message.retain:
            found[message.topic] = message.payload.decode("utf-8", "replace")

    client.on_message = on_message
    client.connect(BROKER_HOST, BROKER_PORT)
    client.loop_start()
    client.subscribe(f"{prefix}/#", qos=1)
    time.sleep(settle_s)
    client.disconnect()
    client.loop_stop()
    return found


def clear_retained(prefix: str) -> None:
    client = _client("cleaner")
    client.connect(BROKER_HOST, BROKER_PORT)
    client.loop_start()
    for topic in retained_under(prefix):
        client.publish(topic, b"", qos=1, retain=True).wait_for_publish(3)
    client.disconnect()
    client.loop_stop()


@pytest.fixture(scope="session")
def broker() -> tuple[str, int]:
    try:
        socket.create_connection((BROKER_HOST, BROKER_PORT), timeout=2).close()
    except OSError as exc:
        message = f"no MQTT broker on {BROKER_HOST}:{BROKER_PORT}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return BROKER_HOST, BROKER_PORT


@pytest.fixture
def prefix(broker: tuple[str, int]) -> Iterator[str]:
    """A fresh topic prefix; every retained message under it is deleted afterwards."""
    value = f"t{secrets.token_hex(4)}"
    yield value
    clear_retained(value)
    assert retained_under(value) == {}


@pytest.fixture
def probe(prefix: str) -> Iterator[Probe]:
    p = Probe(prefix)
    yield p
    p.close()
