"""The capture format (`elfe-capture`, version 1): what `record` writes and `replay` reads.

JSON Lines. The first line is the header, the others are tagged by `kind`:

- `{"format": "elfe-capture", "version": 1, "started_at": ..., "base_topic": ..., ...}`;
- `mqtt`: one MQTT message as the broker delivered it: `time` (epoch seconds, float), `topic`,
  `payload` (text when it is UTF-8, else base64 with `"encoding": "base64"`), `qos`, `retain`;
- `plan`: one row appended to the EMS table `result` (`id`, `machine_id`,
  `first_valid_timestamp`, the 96 `decisions`, `machine_type`);
- `row`: one change of a coordination row: `table`, `key` (its `id`), `op`
  (`insert`/`update`/`delete`) and the changed `columns` (every column for an insert);
- `end`: the time the capture stopped (the replay runs until then).

Pure: encoding and decoding only. The decoder never raises: a bad line is skipped and reported
with its number and the reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from collections.abc import Iterable
from typing import Any, Literal

import msgspec

from protocol.devices import codec_named
from protocol.ems import SLOTS
from protocol.model import EquipmentSpec
from protocol.snapshot import Table
from protocol.stimulus import VIRIYA_FILTER

FORMAT = "elfe-capture"
VERSION = 1
MAX_LINE = 1024 * 1024  # a capture line is a message of at most 64 KiB, encoded

Scalar = int | float | str | bool | None


class Header(msgspec.Struct, kw_only=True):
    format: str
    version: int
    started_at: float
    base_topic: str
    subscriptions: tuple[str, ...] = ()
    schema: str = "bdd_coordination_schema"
    ems_table: str = "result"
    ems_notify: bool = False  # the EMS table has the NOTIFY trigger: new plans apply at once
    config_digest: str = ""  # sha256 of `config`
    config: dict[str, Any] = {}  # the recorder's configuration without its secrets
    recorder: str = ""  # the program that wrote the capture, with its version


class Mqtt(msgspec.Struct, tag="mqtt", tag_field="kind", kw_only=True):
    time: float
    topic: str
    payload: str
    encoding: Literal["utf-8", "base64"] = "utf-8"
    qos: int = 0
    retain: bool = False

    def data(self) -> bytes:
        """The payload bytes (validated by the decoder, so this never raises on a decoded line)."""
        if self.encoding == "base64":
            return base64.b64decode(self.payload, validate=True)
        return self.payload.encode("utf-8")


class PlanRow(msgspec.Struct, tag="plan", tag_field="kind", kw_only=True):
    time: float
    id: int
    machine_id: int
    first_valid_timestamp: int
    decisions: tuple[int, ...]
    machine_type: int = 0


class RowChange(msgspec.Struct, tag="row", tag_field="kind", kw_only=True):
    time: float
    table: str
    key: int | str
    op: Literal["insert", "update", "delete"] = "update"
    columns: dict[str, Scalar] = {}


class End(msgspec.Struct, tag="end", tag_field="kind", kw_only=True):
    time: float


Line = Mqtt | PlanRow | RowChange | End


class Problem(msgspec.Struct, frozen=True):
    line: int  # 1-based line number in the file
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class Capture(msgspec.Struct):
    header: Header | None
    lines: list[Line]
    problems: list[Problem]


_encoder = msgspec.json.Encoder()
_header_decoder = msgspec.json.Decoder(Header)
_line_decoder = msgspec.json.Decoder(Line)


def mqtt_line(time: float, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> Mqtt:
    """A message as it goes into a capture: text when the payload is UTF-8, else base64."""
    try:
        return Mqtt(time=time, topic=topic, payload=payload.decode("utf-8"), qos=qos, retain=retain)
    except UnicodeDecodeError:
        text = base64.b64encode(payload).decode("ascii")
        return Mqtt(time=time, topic=topic, payload=text, encoding="base64", qos=qos, retain=retain)


def encode(item: Header | Line) -> bytes:
    """One line of the file, newline included."""
    return _encoder.encode(item) + b"\n"


def public_config(config: Any) -> dict[str, Any]:
    """The configuration without what names the servers' accounts (DSNs, MQTT user; a Config
    holds no password): what a capture may hold, so that a replay runs with the recorded
    settings."""
    data: dict[str, Any] = msgspec.to_builtins(config, str_keys=True)
    for section, key in (
        ("coordination", "dsn"),
        ("ems", "dsn"),
        ("mqtt", "username"),
    ):
        if isinstance(data.get(section), dict):
            data[section].pop(key, None)
    return data


def config_digest(config: Any) -> str:
    """A digest of the configuration without its secrets, to tell two captures apart."""
    return hashlib.sha256(msgspec.json.encode(public_config(config), order="sorted")).hexdigest()


def decode(lines: Iterable[bytes | str]) -> Capture:
    """Decode a whole capture; never raises. Lines that cannot be used are reported and skipped;
    without a valid header the capture is empty, with one problem on line 1."""
    header: Header | None = None
    decoded: list[Line] = []
    problems: list[Problem] = []
    for number, raw in enumerate(lines, start=1):
        data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
        if number == 1:
            header, problem = _decode_header(data)
            if problem is not None:
                problems.append(Problem(1, problem))
                return Capture(None, [], problems)
            continue
        if not data.strip():
            continue  # a blank line (e.g. the final newline) says nothing
        line, problem = decode_line(data)
        if problem is not None:
            problems.append(Problem(number, problem))
        elif line is not None:
            decoded.append(line)
    if header is None:
        problems.append(Problem(1, "empty file: no elfe-capture header"))
    return Capture(header, decoded, problems)


def _decode_header(data: bytes) -> tuple[Header | None, str | None]:
    try:
        header = _header_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return None, f"not an elfe-capture header: {_short(exc)}"
    if header.format != FORMAT:
        return None, f"format is {header.format!r}, expected {FORMAT!r}"
    if header.version != VERSION:
        return None, f"version {header.version} is not supported (this program reads {VERSION})"
    if not math.isfinite(header.started_at):
        return None, "started_at is not a finite number"
    return header, None


def decode_line(data: bytes) -> tuple[Line | None, str | None]:
    """One line after the header: (line, None) or (None, why it cannot be used)."""
    if len(data) > MAX_LINE:
        return None, f"line of {len(data)} bytes exceeds {MAX_LINE}"
    try:
        line = _line_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return None, _short(exc)
    if not math.isfinite(line.time) or line.time < 0:
        return None, f"time {line.time!r} is not a valid epoch time"
    if isinstance(line, Mqtt):
        return _check_mqtt(line)
    if isinstance(line, PlanRow) and any(d not in (0, 1) for d in line.decisions):
        return None, f"plan {line.id}: decisions must be 0 or 1"
    return line, None


def _check_mqtt(line: Mqtt) -> tuple[Line | None, str | None]:
    if not line.topic or "+" in line.topic or "#" in line.topic or "\x00" in line.topic:
        return None, f"invalid topic {line.topic!r}"
    if line.qos not in (0, 1, 2):
        return None, f"qos {line.qos} is not 0, 1 or 2"
    if line.encoding == "base64":
        try:
            base64.b64decode(line.payload, validate=True)
        except (binascii.Error, ValueError):
            return None, "payload is not valid base64"
    else:
        try:
            line.payload.encode("utf-8")
        except UnicodeEncodeError:
            return None, "payload is not valid UTF-8 text"
    return line, None


def _short(exc: Exception) -> str:
    return str(exc).replace("\n", " ")[:200]


def plan_lines(plans: Table, at: float) -> list[PlanRow]:
    """EMS rows as capture lines (a row that is not a plan is left out)."""
    lines = []
    for record in plans.records():
        try:
            decisions = tuple(int(record[f"decisions_{i}"]) for i in range(SLOTS))  # type: ignore[arg-type]
            lines.append(
                PlanRow(
                    time=at,
                    id=int(record["id"]),  # type: ignore[arg-type]
                    machine_id=int(record["machine_id"]),  # type: ignore[arg-type]
                    first_valid_timestamp=int(record["first_valid_timestamp"]),  # type: ignore[arg-type]
                    decisions=decisions,
                    machine_type=int(record.get("machine_type") or 0),  # type: ignore[arg-type]
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return lines


def row_changes(before: dict[str, Table], after: dict[str, Table], at: float) -> list[RowChange]:
    """What changed between two reads of the same tables, by `id`: inserts with every column,
    updates with the changed columns, deletes with none."""
    changes: list[RowChange] = []
    for name in sorted(set(before) | set(after)):
        old = {r["id"]: r for r in before[name].records()} if name in before else {}
        new = {r["id"]: r for r in after[name].records()} if name in after else {}
        for key in sorted(set(old) | set(new), key=lambda k: (str(type(k)), k)):
            if key is None or isinstance(key, float | bool):
                continue
            if key not in old:
                changes.append(
                    RowChange(time=at, table=name, key=key, op="insert", columns=new[key])
                )
            elif key not in new:
                changes.append(RowChange(time=at, table=name, key=key, op="delete"))
            else:
                diff = {c: v for c, v in new[key].items() if old[key].get(c) != v}
                if diff:
                    changes.append(RowChange(time=at, table=name, key=key, columns=diff))
    return changes


def subscriptions(specs: Iterable[EquipmentSpec], base_topic: str) -> tuple[str, ...]:
    """Every topic filter a recording needs: what each device publishes (its codec's
    subscriptions), what the supervisor publishes to it (commands and state queries), the
    stimuli, and everything under the supervisor's base topic. A filter another one already
    covers is left out, so that the broker delivers each message once."""
    wanted = {VIRIYA_FILTER, f"{base_topic}/#"}
    for spec in specs:
        for device in spec.devices:
            codec = codec_named(device.codec)
            wanted.update(codec.subscriptions(device))
            wanted.add(device.command_topic)
            outbound = list(codec.refresh(device))
            for action in ("ON", "OFF", "PRESS"):
                try:
                    outbound.extend(codec.encode(device, action, "record"))
                except ValueError:
                    continue
            wanted.update(out.topic for out in outbound)
    return tuple(sorted(f for f in wanted if not any(g != f and _covers(g, f) for g in wanted)))


def _covers(general: str, specific: str) -> bool:
    """Whether every topic `specific` matches is matched by `general` (both MQTT filters)."""
    g, s = general.split("/"), specific.split("/")
    for i, level in enumerate(g):
        if level == "#":
            return True
        if i >= len(s) or (level != "+" and level != s[i]) or (level != "+" and s[i] == "#"):
            return False
        if level == "+" and s[i] == "#":
            return False
    return len(g) == len(s)
