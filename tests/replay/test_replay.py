"""The replay: the shipped examples against their golden output, determinism, `--expect`,
faults reproducing the reliability behaviours, and the view at a virtual time."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from protocol import capture, faults
from replay.command import load
from replay.engine import Replay

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
EXAMPLES = sorted(p.name for p in HERE.iterdir() if (p / "capture.jsonl").exists())


@functools.cache
def replay(name: str, spec: str = "") -> list[dict[str, object]]:
    """The output of one replay (computed once per test session: the tests only read it)."""
    recorded, snapshot = load(HERE / name)
    assert recorded.header is not None and recorded.problems == []
    fault_list = faults.parse(spec, recorded.header.started_at) if spec else []
    run = Replay(recorded, snapshot, fault_list)
    run.run()
    return [json.loads(line) for line in run.out.lines]


def cli(*args: str, seed: str = "0") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    command = [sys.executable, str(ROOT / "supervisor.py"), "replay", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, timeout=120, env=env)


def test_the_four_examples_are_shipped() -> None:
    assert EXAMPLES == [
        "hot-water-tank",
        "screen-session",
        "socorel-local-manual",
        "washing-machines",
    ]


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_replays_its_golden_output(name: str) -> None:
    done = cli(str(HERE / name), "--expect")  # DIR/expected.jsonl
    assert done.returncode == 0, done.stderr.decode()


@pytest.mark.parametrize("name", ["socorel-local-manual", "screen-session"])
def test_two_runs_are_byte_identical_whatever_the_hash_seed(name: str) -> None:
    directory = str(HERE / name)
    first, second = cli(directory, seed="1"), cli(directory, seed="2")
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout
    assert first.stdout.count(b"\n") > 20


def test_expect_fails_with_a_readable_diff_on_a_changed_golden(tmp_path: Path) -> None:
    source = HERE / "socorel-local-manual"
    golden = (source / "expected.jsonl").read_text().splitlines(keepends=True)
    changed = tmp_path / "expected.jsonl"
    changed.write_text("".join(golden[:5] + golden[6:]))
    done = cli(str(source), "--expect", str(changed))
    assert done.returncode == 1
    report = done.stderr.decode()
    assert f"the replay differs from {changed}" in report
    assert "\n+" + golden[5] in report


def test_an_unusable_directory_is_named(tmp_path: Path) -> None:
    shutil.copy(HERE / "socorel-local-manual" / "snapshot.json", tmp_path / "snapshot.json")
    (tmp_path / "capture.jsonl").write_text('{"format": "pcap"}\n')
    done = cli(str(tmp_path))
    assert done.returncode == 2
    assert b"capture.jsonl: line 1: " in done.stderr
    assert cli(str(tmp_path / "nowhere")).returncode == 2
    bad_fault = cli(str(HERE / "socorel-local-manual"), "--faults", "explode everything")
    assert bad_fault.returncode == 2 and b"unknown kind 'explode'" in bad_fault.stderr


# --- what the examples show ------------------------------------------------------------------


def states(lines: list[dict[str, object]], equipment: int) -> list[tuple[str, dict]]:
    return [
        (str(line["time"])[11:19], line["columns"])  # type: ignore[misc]
        for line in lines
        if line["kind"] == "state" and line["equipment"] == equipment
    ]


def test_washers_one_started_by_the_ems_the_other_by_the_deadline_guard() -> None:
    lines = replay("washing-machines")
    events = [(line["equipment"], line["reason"]) for line in lines if line["kind"] == "event"]
    assert (1, "EMS plan 100: on for slot 1796025600") in events
    assert any(e == 4 and str(r).startswith("deadline:") for e, r in events)
    starts = [
        (str(line["time"])[11:19], line["topic"])
        for line in lines
        if line["kind"] == "publish" and line["payload"] == "on"
    ]
    assert starts == [
        ("08:00:00", "shellies/shellyplug-s-A101/relay/0/command"),
        ("16:15:00", "shellies/shellyplug-s-A104/relay/0/command"),  # 18:00 - 90 min - 15 min
    ]


def test_the_tank_follows_its_slots_and_its_plug_going_offline() -> None:
    lines = replay("hot-water-tank")
    tank = states(lines, 2)
    assert ("10:00:01", {"etat_controle_id": 60}) in tank  # the LWT: offline
    # no acknowledgement awaited while it is offline; the 10:15 slot re-asserts ON, unanswered
    # four times (10:15:00, :15, :40, 10:16:35): err
    errs = [t for t, c in tank if c.get("etat_commande_id") == 30]
    assert errs == ["10:16:45"]
    assert any(t.startswith("11:00") and c.get("etat_commande_id") == 11 for t, c in tank)
    consignes = [(t, c["ems_consigne_marche"]) for t, c in tank if "ems_consigne_marche" in c]
    assert consignes[0] == ("00:01:00", True)  # the plan came at 00:00:30, read at the poll
    assert ("06:00:00", False) in consignes and ("22:00:00", True) in consignes


@pytest.mark.parametrize(
    ("name", "topic", "boundaries"),
    [
        ("hot-water-tank", "cmnd/A102/POWER", [*range(1, 40), *range(45, 96)]),  # plug online
        ("screen-session", "cmnd/A102/POWER", range(69, 80)),  # 17:15 to 19:45
        ("socorel-local-manual", "Socorel/123456789/sortie3", [37, 38, 39, 44, 45, 46, 47]),
    ],
)
def test_a_continuous_load_is_ordered_once_per_slot_boundary(
    name: str, topic: str, boundaries: list[int]
) -> None:
    """The plan poll and the boundary dispatch (5 s later) do not both order it: one
    re-assertion per slot, at the boundary."""
    orders = [
        str(line["time"])[11:23]
        for line in replay(name)
        if line["kind"] == "publish" and line["topic"] == topic and line["payload"]
    ]
    for boundary in boundaries:
        hour, minute = divmod(boundary * 15, 60)
        slot = f"{hour:02d}:{minute:02d}"
        next_hour, next_minute = divmod(boundary * 15 + 15, 60)
        within = [t for t in orders if slot <= t < f"{next_hour:02d}:{next_minute:02d}"]
        assert within == [f"{slot}:00.000"], (slot, within)


def test_the_socorel_output_goes_to_70_and_back() -> None:
    modes = [
        (t, c["equipement_pilote_ou_mesure_mode_id"])
        for t, c in states(replay("socorel-local-manual"), 12)
        if "equipement_pilote_ou_mesure_mode_id" in c
    ]
    assert [m for _, m in modes] == [70, 30]
    assert modes[0][0].startswith("10:00") and modes[1][0].startswith("10:45")


def jsonl(lines: list[dict[str, object]], node: str) -> list[tuple[str, list[dict]]]:
    """The commands drawn on screen `node`: (time, the jsonl lines of one publish)."""
    return [
        (str(line["time"])[11:23], [json.loads(x) for x in str(line["payload"]).split("\n")])
        for line in lines
        if line["kind"] == "publish" and line["topic"] == f"hasp/{node}/command/jsonl"
    ]


def pages(drawn: list[dict]) -> set[int]:
    return {int(x["page"]) for x in drawn}


def test_the_screens_are_drawn_in_full_when_they_come_online_or_reboot() -> None:
    lines = replay("screen-session")
    g101, g102 = jsonl(lines, "g101"), jsonl(lines, "g102")
    # both online at start: every page of the household (washer 3, tank 6, summary 8, link 9)
    for screen in (g101, g102):
        assert screen[0][0] == "17:00:00.250" and pages(screen[0][1]) == {3, 6, 8, 9}
        assert {"page": 9, "id": 8, "text": "ecran connecté"} in screen[0][1]
    indicators = [
        (str(line["time"])[11:19], line["payload"])
        for line in lines
        if line["kind"] == "publish" and line["topic"] == "INDICATEURS/refresh"
    ]
    # g102 offline 18:30-18:40, g101 rebooted at 19:00 without an offline (a new uptime)
    assert indicators == [
        ("17:00:00", "g101"),
        ("17:00:00", "g102"),
        ("18:40:00", "g102"),
        ("19:00:00", "g101"),
    ]
    assert [t for t, drawn in g102 if pages(drawn) == {3, 6, 8, 9}] == [
        "17:00:00.250",
        "18:40:00.050",
    ]
    assert [t for t, drawn in g101 if pages(drawn) == {3, 6, 8, 9}] == [
        "17:00:00.250",
        "19:00:00.050",
    ]
    assert not [t for t, _ in g102 if "18:30" <= t < "18:40"]  # nothing while it is offline


def test_a_touch_on_the_pilot_switch_writes_the_mode_and_redraws_every_screen() -> None:
    lines = replay("screen-session")
    modes = [
        (t, c["equipement_pilote_ou_mesure_mode_id"])
        for t, c in states(lines, 1)
        if "equipement_pilote_ou_mesure_mode_id" in c and t < "18:00"
    ]
    assert modes == [("17:30:00", 20), ("17:45:00", 30)]  # touched on g101
    for node in ("g101", "g102"):
        redrawn = dict(jsonl(lines, node))
        manual, piloted = redrawn["17:30:00.050"], redrawn["17:45:00.050"]
        assert {"page": 3, "id": 10, "bg_color": "#FF0000"} in manual
        assert {"page": 8, "id": 13, "bg_color": "#FF0000"} in manual  # the summary LED
        assert {"page": 3, "id": 3, "val": 1} in piloted
        assert {"page": 8, "id": 13, "bg_color": "#00FF00"} in piloted
        assert pages(manual) == {3, 8}  # only the washer's page and the summary


def test_an_end_time_set_on_a_screen_is_written_and_moves_the_guarded_start() -> None:
    lines = replay("screen-session")
    deadline = int(datetime(2026, 11, 30, 20, 0, tzinfo=UTC).timestamp())  # 21h in Paris
    declarations = [line for line in lines if line["kind"] == "declaration"]
    assert declarations == [
        {
            "time": "2026-11-30T18:00:00.000Z",
            "kind": "declaration",
            "equipment": 1,
            "table": "equipement_pilote_machine_generique",
            "columns": {"timestamp_de_fin_souhaite": deadline},
        }
    ]
    assert ("18:00:00", {"timestamp_derniere_programmation": deadline - 7200}) in states(lines, 1)
    for node in ("g101", "g102"):  # the end hour, redrawn on both screens
        assert {"page": 3, "id": 8, "val": 21} in dict(jsonl(lines, node))["18:00:00.050"]
    starts = [
        (str(line["time"])[11:19], line["reason"])
        for line in lines
        if line["kind"] == "event" and line["equipment"] == 1 and line["to"] == 21
    ]  # 20:00 - 90 min cycle - 15 min margin
    assert starts == [("18:15:00", f"deadline: the household wants it finished by {deadline}")]


# --- faults ------------------------------------------------------------------------------------


def test_a_lost_ack_is_retried_and_a_duplicate_changes_nothing() -> None:
    normal = replay("washing-machines")
    # the relay's answer and its power both lost: a start verified by power needs no retry
    lost = replay("washing-machines", "drop shellies/shellyplug-s-A101/# 07:59-08:02")
    assert [line for line in lost if line["kind"] == "publish" and line["payload"] == "on"] != [
        line for line in normal if line["kind"] == "publish" and line["payload"] == "on"
    ]
    doubled = replay("washing-machines", "duplicate shellies/#")
    assert [line for line in doubled if line["kind"] != "publish"] == [
        line for line in normal if line["kind"] != "publish"
    ]


def test_a_broker_outage_publishes_the_will_and_reasserts_on_return() -> None:
    lines = replay("hot-water-tank", "broker 13:05-13:20")
    status = [
        (str(line["time"])[11:19], json.loads(str(line["payload"]))["state"], line.get("reason"))
        for line in lines
        if line["kind"] == "publish" and str(line["topic"]).endswith("/status")
    ]
    assert ("13:05:00", "offline", "will (connection lost)") in status
    back = [t for t, state, _ in status if state == "online" and t > "13:05:00"]
    assert back and back[0] <= "13:21:00"
    orders = [
        str(line["time"])[11:19]
        for line in lines
        if line["kind"] == "publish" and line["topic"] == "cmnd/A102/POWER"
    ]
    assert not [t for t in orders if "13:05:00" < t < "13:20:00"]  # nothing leaves meanwhile
    assert any(back[0] <= t < "13:22:00" for t in orders)  # re-asserted once reconnected


def test_a_database_outage_delays_the_writes_in_order_and_loses_none() -> None:
    normal = [line for line in replay("hot-water-tank") if line["kind"] == "state"]
    outage = [
        line for line in replay("hot-water-tank", "database 05:50-06:30") if line["kind"] == "state"
    ]
    late = [line for line in outage if "06:00" <= str(line["time"])[11:16] < "06:30"]
    assert not late  # nothing written while the database is down
    assert [line["columns"] for line in outage if str(line["time"]) > "2026-11-30T06:30"] == [
        line["columns"] for line in normal if str(line["time"]) > "2026-11-30T06:00"
    ]


def test_a_clock_jump_is_seen_by_the_supervisor() -> None:
    lines = replay("socorel-local-manual", "clock 3600@09:30")
    assert any(str(line["time"]).startswith("2026-11-30T12:") for line in lines)


# --- the view at a virtual time ----------------------------------------------------------------


def test_inspect_at_shows_the_equipment_then() -> None:
    done = cli(str(HERE / "socorel-local-manual"), "--inspect-at", "10:30", "--equipment", "12")
    assert done.returncode == 0, done.stderr.decode()
    view = json.loads(done.stdout)
    assert view["time"] == "2026-11-30T10:30:00.000Z"
    assert view["state"]["mode"] == 70
    extras = view["inside"]
    assert extras["next_decisions"][0] == {
        "slot": "2026-11-30T10:45:00.000Z",
        "on": True,
        "plan": 100,
    }
    assert 0 <= extras["report_age_s"]["S123"] <= 30  # the PLC reports every 30 s
    overview = json.loads(cli(str(HERE / "hot-water-tank"), "--inspect-at", "10:05:03").stdout)
    assert overview["equipment"]["2"]["name"] == "Ballon ECS"
    assert overview["gateways"]["mqtt"]["connected"] is True
    tree = overview["actors"]["supervisor"]  # the actor tree, on the virtual clock
    assert tree["uptime_s"] == 10 * 3600 + 5 * 60 + 3  # started at 00:00
    assert tree["children"]["equipment 2"]["messages"] > 100  # ten hours of reports
    timers = json.loads(
        cli(str(HERE / "hot-water-tank"), "--inspect-at", "10:00:03", "--equipment", "2").stdout
    )["inside"]["timers"]
    assert timers and all(t["in_s"] > 0 for t in timers)  # the acknowledgement is awaited
    assert any("manuel" in str(e.get("reason")) or e.get("to_state") for e in view["events"])


def test_a_late_ack_is_retried_and_reordered_reports_change_nothing() -> None:
    def ons(lines: list[dict[str, object]]) -> list[str]:
        return [
            str(line["time"])[11:19]
            for line in lines
            if line["kind"] == "publish"
            and line["topic"] == "shellies/shellyplug-s-A101/relay/0/command"
            and line["payload"] == "on"
        ]

    assert ons(replay("washing-machines")) == ["08:00:00"]
    late = replay("washing-machines", "delay shellies/shellyplug-s-A101/relay/# 30 07:59-08:01")
    # no answer within the 10 s ack timeout: sent again 5 s later, never a third time
    assert ons(late) == ["08:00:00", "08:00:15"]

    def transitions(lines: list[dict[str, object]]) -> list[tuple[object, ...]]:
        return [(e["equipment"], e["from"], e["to"]) for e in lines if e["kind"] == "event"]

    # power reports swapped pairwise: the same transitions (the cycle end may move by a report)
    reordered = replay("washing-machines", "reorder shellies/shellyplug-s-A104/relay/0/power")
    assert transitions(reordered) == transitions(replay("washing-machines"))


def test_a_paced_replay_writes_the_same_output() -> None:
    directory = HERE / "socorel-local-manual"
    paced = cli(str(directory), "--speed", "20000", "--expect", str(directory / "expected.jsonl"))
    assert paced.returncode == 0, paced.stderr.decode()  # 3 h at 20 000 x: about half a second
    assert cli(str(directory), "--speed", "fast").returncode == 2


# --- recorded row changes ----------------------------------------------------------------------


def test_a_recorded_deadline_change_moves_the_guarded_start() -> None:
    recorded, snapshot = load(HERE / "washing-machines")
    assert recorded.header is not None
    ten = recorded.header.started_at + 3 * 3600  # 10:00
    fifteen = int(ten + 5 * 3600)
    change = capture.RowChange(
        time=ten,
        table="equipement_pilote_machine_generique",
        key=4,
        columns={"timestamp_de_fin_souhaite": fifteen},
    )
    own = capture.RowChange(  # the recorded run's own write: not an input, not applied
        time=ten, table="equipement_pilote_ou_mesure", key=4, columns={"etat_commande_id": 30}
    )
    lines = sorted([*recorded.lines, change, own], key=lambda line: line.time)
    run = Replay(capture.Capture(recorded.header, lines, []), snapshot)
    run.run()
    starts = [
        (str(line["time"])[11:19], line["reason"])
        for line in map(json.loads, run.out.lines)
        if line["kind"] == "event" and line["equipment"] == 4 and line["to"] == 21
    ]
    # 15:00 - 90 min cycle - 15 min margin, seen at the next inventory read (every 300 s); the
    # recorded plug still reports what it did in the recorded day (switched on at 16:15)
    assert starts[0] == ("13:15:00", f"deadline: the household wants it finished by {fifteen}")
    # nothing happened to it at 10:00 (the recorded etat_commande_id is not applied either)
    between = [
        line
        for line in map(json.loads, run.out.lines)
        if line["equipment" if "equipment" in line else "kind"] == 4
        and "10:00:00" <= str(line["time"])[11:19] < "13:15:00"
    ]
    assert between == []
