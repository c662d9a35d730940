"""What systemd sees of the daemon: a STATUS= line while it waits for the broker or the
database, READY=1 once every actor is up, and WATCHDOG=1 only while the core answers.

Every `every_s` seconds the daemon calls `check()`, which asks each gateway a liveness question
through the Supervisor (the question is relayed by it, so an answer proves both alive). A
complete round feeds the watchdog; a core silent for `dead_after_s` makes `check()` return
False and the daemon exits non-zero, so that systemd restarts it (the watchdog, if configured,
also catches a loop that hangs).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from loguru import logger

from protocol.config import Config
from protocol.liveness import Liveness, Verdict, interval
from runtime import systemd

Ask = Callable[[dict[str, Any]], Mapping[str, Any] | None]
GATEWAYS = ("mqtt", "db", "plans", "clock")


class Service:
    def __init__(
        self,
        config: Config,
        ask: Ask,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config, self.ask, self.environ, self.clock = config, ask, environ, clock
        watchdog_s = systemd.watchdog_interval(environ)
        self.every_s = interval(watchdog_s)
        dead_after = config.supervisor.liveness_timeout_seconds
        self.liveness = Liveness(dead_after_s=dead_after, last_ok=clock())
        self.is_ready = False
        self.status_line = ""
        self.status("starting")

    def status(self, line: str) -> None:
        if line != self.status_line:
            self.status_line = line
            systemd.status(line, self.environ)

    def ready(self, equipment: int, devices: int, faulty: int) -> None:
        self.is_ready = True
        line = f"running: {equipment} equipment, {devices} devices, {faulty} that cannot be driven"
        self.status_line = line
        systemd.ready(line, self.environ)

    def check(self) -> bool:
        """One round of liveness questions; False when the core is dead."""
        replies: dict[str, Mapping[str, Any] | None] = {}
        for name in GATEWAYS:
            replies[name] = self._answer({"gateway": name})
            if len(replies) == 2 and not any(replies.values()):
                break  # two silent in a row, nothing heard: it is the Supervisor that is silent
        silent = tuple(name for name, reply in replies.items() if reply is None)
        if len(silent) == len(replies) < len(GATEWAYS) or len(silent) == len(GATEWAYS):
            silent = ("supervisor",)
        now = self.clock()
        was_silent = self.liveness.silent
        # a large inventory may keep the core busy while it starts: the start-up bound applies
        starting = None if self.is_ready else self.config.supervisor.ready_timeout_seconds
        bound = max(self.liveness.dead_after_s, starting or 0.0)
        self.liveness, verdict = self.liveness.round(now, silent, bound)
        if verdict is Verdict.FEED:
            systemd.watchdog(self.environ)
            if was_silent:
                logger.info("core answers again")
        elif verdict is Verdict.DEAD:
            logger.critical("core dead: {}; exiting so that systemd restarts it", self._why(now))
            return False
        elif silent != was_silent:
            logger.warning("core: {}", self._why(now))
        if not self.is_ready:
            self.status(self._waiting(replies))
        return True

    def stopping(self) -> None:
        systemd.stopping(self.environ)

    def _answer(self, request: dict[str, Any]) -> Mapping[str, Any] | None:
        try:
            reply = self.ask(request)
        except Exception as exc:  # a question must never bring the daemon down
            logger.warning("liveness question {} failed: {}", request, exc)
            return None
        return None if reply is None or "error" in reply else reply

    def _why(self, now: float) -> str:
        return self.liveness.describe(now)

    def _waiting(self, replies: Mapping[str, Mapping[str, Any] | None]) -> str:
        m = self.config.mqtt
        waits = []
        if not (replies.get("db") or {}).get("connected", False):
            waits.append("the coordination database")
        if not (replies.get("mqtt") or {}).get("connected", False):
            waits.append(f"the MQTT broker {m.host}:{m.port}")
        if (replies.get("plans") or {}).get("database") == "down":
            waits.append("the EMS database")
        return "starting: waiting for " + " and ".join(waits) if waits else "starting"


def startup_check(config: Config, environ: Mapping[str, str] | None = None) -> bool:
    """Before any actor starts: a permanent error (authentication refused, role, table, column
    or grant missing, unreadable TLS or password file) is one line naming its key, and the
    daemon exits 1 (systemd shows it failed after its start limit). A server that is down is
    not an error: the gateways retry it, and it is said once here."""
    from runtime.preflight import check_online

    systemd.status("starting: checking the databases and the broker", environ)
    report = check_online(config, environ, inventory=False)
    for line in report.unreachable:
        logger.warning("at start-up: {}; retrying in the background", line)
    for line in report.problems:
        logger.critical("cannot start: {}", line)
    return not report.problems
