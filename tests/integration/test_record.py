"""`elfe-supervisor record` and `snapshot` against a running supervisor, simulated plugs, a real
Mosquitto and PostgreSQL: the capture holds what happened, line by line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from protocol import capture
from protocol import snapshot as snapshots
from protocol.ids import CommandState as CS
from protocol.ids import Mode
from tests.site import ROOT, Site, cli, supervisor_running, wait_until

pytestmark = pytest.mark.integration

WASHER = 1
PLUG = "shellies/shellyplug-s-A101"


def start_recording(site: Site, tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, Path]:
    config = site.write_config(site.config(), tmp_path / "site.toml")
    out = tmp_path / "capture.jsonl"
    command = [sys.executable, str(ROOT / "supervisor.py"), "record", "--config", str(config)]
    command += ["--out", str(out), "--poll", "0.3", *extra]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)

    def started() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"record exited: {process.communicate()[1]}")
        return out.exists() and len(out.read_bytes().splitlines()) > 1

    wait_until(started, timeout=15, what="the recorder's header and its first messages")
    return process, out


def read(out: Path) -> capture.Capture:
    decoded = capture.decode(out.read_bytes().splitlines())
    assert decoded.problems == []
    assert decoded.header is not None
    return decoded


def test_record_captures_the_ems_start_of_the_washer_line_by_line(
    site: Site, tmp_path: Path
) -> None:
    snapshot_file = tmp_path / "snapshot.json"
    prefix = site.prefix
    with site.household() as household, supervisor_running(site.config()):
        process, out = start_recording(site, tmp_path, "--snapshot", str(snapshot_file))
        try:
            time.sleep(0.5)
            plan_id = site.add_plan(WASHER, [1])
            wait_until(lambda: household["shellyplug-s-A101"].relay_on, what="the plug on")
            wait_until(
                lambda: site.equipment(WASHER)["command"] == CS.MANUEL_PILOTE_ON,
                what="start verified",
            )
            time.sleep(1.0)  # one more database poll
        finally:
            process.send_signal(signal.SIGTERM)
            _, errors = process.communicate(timeout=15)
    assert process.returncode == 0, errors

    decoded = read(out)
    header = decoded.header
    assert header is not None and header.format == "elfe-capture" and header.version == 1
    assert header.base_topic == site.base_topic
    assert f"{site.base_topic}/#" in header.subscriptions
    assert f"{prefix}/{PLUG}/relay/0" in header.subscriptions
    assert site.dsn not in out.read_text()  # no secret, no DSN
    lines = decoded.lines
    times = [line.time for line in lines]
    assert times == sorted(times)
    assert isinstance(lines[-1], capture.End)

    messages = [line for line in lines if isinstance(line, capture.Mqtt)]
    status = [m for m in messages if m.topic == f"{site.base_topic}/status"]
    assert status and status[0].retain and json.loads(status[0].payload)["state"] == "online"
    # the supervisor's order, then the plug's answer
    command = next(
        i
        for i, m in enumerate(messages)
        if m.topic == f"{prefix}/{PLUG}/relay/0/command" and m.payload == "on"
    )
    assert any(
        m.topic == f"{prefix}/{PLUG}/relay/0" and m.payload == "on" for m in messages[command:]
    )
    # the plan as the EMS wrote it, before the order
    plans = [line for line in lines if isinstance(line, capture.PlanRow)]
    assert [(p.id, p.machine_id, p.decisions[0]) for p in plans] == [(plan_id, WASHER, 1)]
    # the supervisor's writes, as row changes of the washer
    changes = [
        line
        for line in lines
        if isinstance(line, capture.RowChange)
        and line.table == "equipement_pilote_ou_mesure"
        and line.key == WASHER
    ]
    modes = [
        c.columns["equipement_pilote_ou_mesure_mode_id"]
        for c in changes
        if "equipement_pilote_ou_mesure_mode_id" in c.columns
    ]
    assert modes[-1] == Mode.MANUEL
    commands = [c.columns["etat_commande_id"] for c in changes if "etat_commande_id" in c.columns]
    assert CS.MANUEL_PILOTE_ON in commands

    snapshot = snapshots.decode(snapshot_file.read_bytes())
    equipment = snapshot.tables["equipement_pilote_ou_mesure"].records()
    assert [r["id"] for r in equipment] == [1, 2, 3]
    assert "equipement_domotique_shellyplugs_shellycloud_v1" in snapshot.tables
    assert snapshot.taken_at == header.started_at

    # the round trip: the replay of what was recorded starts the washer as the supervisor did
    assert out == tmp_path / "capture.jsonl" and snapshot_file == tmp_path / "snapshot.json"
    done = cli("replay", str(tmp_path), "--out", str(tmp_path / "replayed.jsonl"))
    assert done.returncode == 0, done.stderr
    replayed = [json.loads(line) for line in (tmp_path / "replayed.jsonl").read_text().splitlines()]
    command_topic = f"{prefix}/{PLUG}/relay/0/command"
    ons = [r for r in replayed if r["kind"] == "publish" and r["topic"] == command_topic]
    assert [r["payload"] for r in ons][-1] == "on"
    recorded_on = messages[command].time
    replayed_on = datetime.fromisoformat(ons[-1]["time"].replace("Z", "+00:00")).timestamp()
    assert abs(replayed_on - recorded_on) < 1.5
    writes = [r for r in replayed if r["kind"] == "state" and r["equipment"] == WASHER]
    assert any(
        r["columns"].get("equipement_pilote_ou_mesure_mode_id") == Mode.MANUEL for r in writes
    )


def test_snapshot_writes_the_rows_and_the_plans(site: Site, tmp_path: Path) -> None:
    plan_id = site.add_plan(WASHER, [1, 0, 1])
    config = site.write_config(site.config(), tmp_path / "site.toml")
    out = tmp_path / "snapshot.json"
    done = cli("snapshot", "--config", str(config), "--out", str(out))
    assert done.returncode == 0, done.stderr
    snapshot = snapshots.decode(out.read_bytes())
    assert snapshot.format == "elfe-snapshot" and snapshot.version == 1
    devices = snapshot.tables["equipement_domotique"].records()
    assert {d["id"] for d in devices} == {"A101", "A102", "A103", "G101"}
    plans = snapshot.result.records()
    assert [(p["id"], p["machine_id"], p["decisions_2"]) for p in plans] == [(plan_id, WASHER, 1)]


def test_record_without_a_database_says_so(tmp_path: Path, site: Site) -> None:
    config = site.config(coordination={"dsn": "postgresql://nobody@127.0.0.1:1/none"})
    path = site.write_config(config, tmp_path / "site.toml")
    done = cli(
        "record", "--config", str(path), "--out", str(tmp_path / "c.jsonl"), "--seconds", "1"
    )
    assert done.returncode == 1
    assert "cannot start recording" in done.stderr


def test_record_stops_by_itself_after_the_given_seconds(site: Site, tmp_path: Path) -> None:
    path = site.write_config(site.config(), tmp_path / "site.toml")
    out = tmp_path / "c.jsonl"
    done = cli("record", "--config", str(path), "--out", str(out), "--seconds", "1")
    assert done.returncode == 0, done.stderr
    decoded = read(out)
    assert decoded.header is not None and isinstance(decoded.lines[-1], capture.End)
    assert decoded.lines[-1].time - decoded.header.started_at < 10
