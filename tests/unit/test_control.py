"""The control socket's protocol: one JSON request line -> one JSON reply line."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from protocol.messages import Introspect
from runtime import control


def test_the_socket_lives_in_the_state_directory_one_per_partition() -> None:
    assert control.control_path("/var/lib/elfe") == Path("/var/lib/elfe/control.sock")
    assert control.control_path("/var/lib/elfe", 2) == Path("/var/lib/elfe/control-2.sock")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{}", Introspect()),
        (b"", Introspect()),
        (b'{"equipment": 12}', Introspect(equipment=12)),
        (b'{"gateway": "mqtt"}', Introspect(gateway="mqtt")),
        (b'{"gateway": "displays"}', Introspect(gateway="displays")),
        (b'{"screen": "g101"}', Introspect(gateway="displays", screen="g101")),
        (
            b'{"screen": "g101", "refresh": true}',
            Introspect(gateway="displays", screen="g101", refresh=True),
        ),
    ],
)
def test_requests_become_introspection_messages(line: bytes, message: Introspect) -> None:
    assert control.introspect_message(control.parse_request(line)) == message


@pytest.mark.parametrize(
    ("line", "culprit"),
    [
        (b"[1]", "not a JSON object"),
        (b"{not json", "not one JSON object"),
        (b'{"equipment": "12"}', "equipment must be an integer"),
        (b'{"equipment": true}', "equipment must be an integer"),
        (b'{"gateway": "redis"}', "gateway must be one of"),
        (b'{"shutdown": true}', "unknown request key(s): shutdown"),
        (b'{"screen": 7}', "screen must be a node name"),
        (b'{"refresh": true}', "goes with a screen"),
        (b'{"screen": "g101", "refresh": 1}', "refresh is true or false"),
        (b'{"actors": "all"}', "actors is true or false"),
        (b"\xff", "not one JSON object"),
    ],
)
def test_a_bad_request_gets_one_line_naming_the_culprit(line: bytes, culprit: str) -> None:
    def handler(request: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("never called")

    reply = control.answer(handler, line)
    assert reply.endswith(b"\n") and reply.count(b"\n") == 1
    assert culprit in json.loads(reply)["error"]


def test_a_failing_handler_still_gets_a_reply() -> None:
    def handler(request: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")

    assert json.loads(control.answer(handler, b"{}")) == {"error": "RuntimeError: boom"}


def test_the_socket_is_created_for_its_owner_only_and_answers(tmp_path: Path) -> None:
    path = control.control_path(tmp_path / "state", 0)
    path.parent.mkdir()
    path.write_text("left by a crashed daemon")
    assert not control.answers(path)
    server = control.ThreadControl(path, lambda request: {"echo": request})
    try:
        assert control.answers(path)
        assert stat.S_ISSOCK(path.stat().st_mode) and stat.S_IMODE(path.stat().st_mode) == 0o600
        assert control.request(path, {"equipment": 3}) == {"echo": {"equipment": 3}}
        assert "error" in control.request(path, {"gateway": "x"})
    finally:
        server.close()
    assert not path.exists()
    with pytest.raises(OSError):
        control.request(path, {})
