"""PlanReader: reads the EMS plans and hands each equipment its decision for the current slot.

Reads at every quarter-hour boundary (+ `boundary_delay_seconds`), every `poll_seconds`, and at
once on a NOTIFY on `ems.notify_channel` when the EMS database has the trigger of
`deploy/sql/ems_notify.sql`. Sends `EmsDecision` when an equipment's decision for the current slot
appears or changes, and to every equipment at each boundary (from the plans at hand, so that a
slow database never delays a boundary). The database work runs in `actors/plan_session.py` on a
worker thread (`runtime/blocking.py`), one read in flight at a time; the LISTEN connection has its
own thread (in-process) or is watched with `ThespianWatch` (multiprocTCPBase). The plans are kept
on disk, so that a database outage (or a restart during one) still applies them slot by slot
until they run out.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
from loguru import logger
from thespian.actors import (
    ActorExitRequest,
    ActorTypeDispatcher,
    ThespianWatch,
    WakeupMessage,
    WatchMessage,
)

from actors.chunked import ChunkedSends
from actors.plan_labels import PlanLabels
from actors.plan_session import PlanSession, listen_loop, save_plans
from actors.vitals import Vital
from protocol import ems
from protocol.config import Config
from protocol.introspection import next_decisions
from protocol.messages import (
    Configure,
    EmsDecision,
    Introspect,
    IntrospectReply,
    JobFailed,
    PlansNotified,
    PlansRead,
    PlansSource,
    PlanTargets,
    Shutdown,
)
from protocol.partition import state_file
from runtime.blocking import NotifyThread, Offload

JOB_TIMEOUT_S = 90.0  # a read still running after this is stuck on a server that stopped answering


class PlanReader(Vital, PlanLabels, ChunkedSends, ActorTypeDispatcher):
    def __init__(self) -> None:
        super().__init__()
        self.config: Config | None = None
        self.session: PlanSession | None = None
        self.offload: Offload | None = None
        self.listener: NotifyThread | None = None
        self.book: ems.PlanBook = {}
        self.label_askers = []
        self.targets: dict[int, Any] = {}
        self.sent: dict[int, ems.Decision] = {}
        self.dispatched_slot: int | None = None  # the slot of the last look at the whole book
        self.last_id = 0
        self.full_read_needed = True
        self.targets_version = 0  # a full read covers the targets of the version it started with
        self.reading_version = 0
        self.reading_since: float | None = None
        self.read_again = False
        self.down_since: float | None = None
        self.last_read_at: float | None = None
        self.problems_seen: set[str] = set()
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
        self.session = PlanSession(message.config)
        self.offload = Offload(self, "plan-reader")
        if self.offload.threaded and message.config.ems.notify_channel:
            address, pump = self.myAddress, self.offload.pump
            assert pump is not None
            self.listener = NotifyThread(
                "plan-listener",
                listen_loop(message.config, lambda: pump.post(address, PlansNotified())),
            )
            pump.on_close(self.listener.close)
        self.book = self._load_file()
        self.wakeupAfter(timedelta(seconds=0), payload="first")
        self._schedule_poll()

    def receiveMsg_PlansNotified(self, message: PlansNotified, sender: Any) -> None:
        """The EMS announced new rows: read them now rather than at the next poll."""
        self._read()

    def receiveMsg_WatchMessage(self, message: WatchMessage, sender: Any) -> None:
        if self.session is not None and self.session.notified():
            self._read()

    def receiveMsg_PlanTargets(self, message: PlanTargets, sender: Any) -> None:
        added = [e for e, _ in message.targets if e not in self.targets]
        # a new actor for an equipment (respawned after a crash) gets the decision at hand
        renewed = {e for e, actor in message.targets if self.targets.get(e, actor) != actor}
        self.targets = dict(message.targets)
        self.sent = {e: d for e, d in self.sent.items() if e in self.targets and e not in renewed}
        if added:
            self.full_read_needed = True
            self.targets_version += 1
        self._dispatch(time.time())
        self._read()

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender: Any) -> None:
        now = time.time()
        if message.payload == "boundary":
            self._dispatch(now)  # from the plans at hand, never late
        self._read()
        if message.payload in ("boundary", "first"):
            self._schedule_boundary(now)
        else:
            self._schedule_poll()

    def receiveMsg_PlansRead(self, message: PlansRead, sender: Any) -> None:
        self.reading_since = None
        now = time.time()
        before = self.book
        if message.error is not None:
            self._down(message.error, now)
            self.book = ems.prune(self.book, now)
        else:
            self._up(now)
            self._merge(message, now)
        fresh = None if message.full or message.error else {p.machine_id for p in message.plans}
        self._dispatch(now, fresh)
        if self.label_askers and self.book != before:
            self.plans_changed(before, now)
        if self.read_again:
            self._read()

    def receiveMsg_JobFailed(self, message: JobFailed, sender: Any) -> None:
        self.receiveMsg_PlansRead(PlansRead(error=message.error), sender)

    def receiveMsg_Introspect(self, message: Introspect, sender: Any) -> None:
        now = time.time()
        if message.equipment is not None:  # its next planned decisions
            decisions = next_decisions(self.book.get(message.equipment, ()), now)
            return self.send(message.reply_to or sender, IntrospectReply({"decisions": decisions}))
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

    def receiveMsg_Shutdown(self, message: Shutdown, sender: Any) -> None:
        self._close()

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender: Any) -> None:
        self._close()

    # --- scheduling ----------------------------------------------------------------------------

    def _schedule_boundary(self, now: float) -> None:
        delay = self._config().ems.boundary_delay_seconds
        self.wakeupAfter(
            timedelta(seconds=max(0.0, ems.next_boundary(now) + delay - now)), payload="boundary"
        )

    def _schedule_poll(self) -> None:
        self.wakeupAfter(timedelta(seconds=self._config().ems.poll_seconds), payload="poll")

    # --- reading -------------------------------------------------------------------------------

    def _read(self) -> None:
        """Start a read unless one is in flight (then one more follows it)."""
        if not self.targets or self.session is None or self.offload is None:
            return
        now = time.time()
        if self.reading_since is not None:
            self.read_again = True
            if now - self.reading_since > JOB_TIMEOUT_S:
                logger.error(
                    "EMS database: no answer for {:.0f} s, reconnecting", now - self.reading_since
                )
                self.session.abort()
            return
        self.read_again = False
        self.reading_since, self.reading_version = now, self.targets_version
        session, machines, full, last_id = (
            self.session,
            sorted(self.targets),
            self.full_read_needed,
            self.last_id,
        )
        listen = not self.offload.threaded  # inline: the read connection also LISTENs
        self.offload.run(lambda: session.read(machines, full, last_id, now, listen))

    def _merge(self, read: PlansRead, now: float) -> None:
        if read.full and self.reading_version == self.targets_version:
            self.full_read_needed = False
        self.last_id = max(self.last_id, read.last_id) if not read.full else read.last_id
        for problem in read.problems:
            if problem not in self.problems_seen:
                self.problems_seen.add(problem)
                logger.warning("EMS plan ignored: {}", problem)
        before = self.book
        self.book = ems.merge(self.book, list(read.plans), now)
        self.last_read_at = now
        if self.book != before and self.offload is not None:
            path, data = self._path(), ems.encode_book(self.book)
            self.offload.run(lambda: save_plans(path, data))

    def _dispatch(self, now: float, machines: set[int] | None = None) -> None:
        """Send each equipment its decision once per slot, and again when it changes within the
        slot (a new plan). A decision names its slot, so the first dispatch after a boundary
        sends it (a poll's, or the boundary's a few seconds later): every slot re-asserts the
        state of a continuous load once, never twice.

        Plans start and run out on slot boundaries, so within the slot of the last dispatch only
        the `machines` with new plans can have a new decision: the others are not looked at."""
        slot = int(now // ems.SLOT_SECONDS)
        book = self.book
        if machines is None or slot != self.dispatched_slot:
            self.dispatched_slot = slot
        else:
            book = {m: book[m] for m in machines if m in book}
        out = []
        for equipment, decision in ems.decisions(book, now).items():
            actor = self.targets.get(equipment)
            if actor is not None and self.sent.get(equipment) != decision:
                self.sent[equipment] = decision
                order = EmsDecision(
                    equipment, decision.on, decision.slot_start, decision.plan_id, now
                )
                out.append((actor, order))
        self.send_in_chunks(out)

    def _watch(self) -> ThespianWatch | None:
        fd = self.session.fileno() if self.session is not None else None
        if fd is None or self.config is None:
            return None
        return ThespianWatch([fd])

    def _close(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        offload, self.offload = self.offload, None
        if offload is not None and self.session is not None:
            session = self.session
            offload.run(session.close)
            offload.close(timeout=1.0)

    def _down(self, error: str, now: float) -> None:
        self.full_read_needed = True
        if self.down_since is None:
            self.down_since = now
            runs_out = ems.last_decision_time(self.book)
            until = time.strftime("%Y-%m-%d %H:%M", time.localtime(runs_out)) if runs_out else "now"
            logger.error(
                "EMS plans unreadable ({}): applying the cached plans until {}", error, until
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
        supervisor = self._config().supervisor
        return Path(supervisor.state_dir) / state_file("plans.json", supervisor.share)

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
