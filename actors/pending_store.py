"""The DbGateway's writes not yet written, kept in the state directory (`protocol/pending.py`).

The file is rewritten atomically (a temporary file, then rename) when what waits changes while
the database is unreachable (or a job has been on its way for more than a second), at most once
a second, and removed once everything it held is written. At start-up it is read back once.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from loguru import logger

from protocol import pending
from protocol.config import Config
from protocol.messages import WriteBatch
from protocol.partition import state_file

SAVE_EVERY_S = 1.0


def pending_path(config: Config) -> Path:
    supervisor = config.supervisor
    return Path(supervisor.state_dir) / state_file("pending-writes.json", supervisor.share)


class PendingStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.saved_at = float("-inf")
        self.on_disk = path.exists()
        self.failed = False

    def load(self) -> WriteBatch | None:
        """The writes an earlier run left (None when there are none)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.error("cannot read the pending writes {}: {}", self.path, exc)
            return None
        batch = pending.decode(data)
        if isinstance(batch, str):
            logger.error("ignoring the pending writes {}: {}", self.path, batch)
            with contextlib.suppress(OSError):  # kept for a look, never read again
                self.path.replace(self.path.with_suffix(".damaged"))
            return None
        logger.warning(
            "{} transitions and {} observed states left by the previous run are written first",
            len(batch.transitions),
            len(batch.observed),
        )
        return batch

    def due(self, now: float) -> bool:
        return now - self.saved_at >= SAVE_EVERY_S

    def save(self, batch: WriteBatch, now: float) -> None:
        self.saved_at = now
        if not (batch.transitions or batch.observed or batch.telemetry or batch.events):
            self.clear()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_bytes(pending.encode(batch, now))
            tmp.replace(self.path)
            self.on_disk, self.failed = True, False
        except OSError as exc:
            if not self.failed:
                logger.error("cannot keep the pending writes in {}: {}", self.path, exc)
            self.failed = True

    def clear(self) -> None:
        if self.on_disk:
            self.path.unlink(missing_ok=True)
            self.on_disk = False
