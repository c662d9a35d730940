"""The DbGateway's writes not yet written, kept in the state directory (`protocol/pending.py`).

The file is rewritten atomically (a temporary file, then rename) when what waits changes while
the database is unreachable (or a job has been on its way for more than a second), at most once
a second, and removed once everything it held is written. At start-up it is read back once.
"""

from __future__ import annotations

import contextlib
from collections import deque
from pathlib import Path

from loguru import logger

from protocol import pending
from protocol.batching import WriteQueue
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
            "{} transitions, {} observed states and {} declarations left by the previous run are"
            " written first",
            len(batch.transitions),
            len(batch.observed),
            len(batch.declarations),
        )
        return batch

    def due(self, now: float) -> bool:
        return now - self.saved_at >= SAVE_EVERY_S

    def save(self, batch: WriteBatch, now: float) -> None:
        self.saved_at = now
        if (
            not (batch.transitions or batch.observed or batch.telemetry or batch.events)
            and not batch.declarations
        ):
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


class PendingWrites:
    """The DbGateway's queue as it is kept on disk, and its bound (`protocol/pending.py`)."""

    def __init__(self, path: Path) -> None:
        self.store = PendingStore(path)
        self.unsaved = False  # the queue changed since the pending writes were last kept
        self.merged = self.dropped_at_bound = 0

    def restore(self, queue: WriteQueue) -> None:
        """An earlier run's writes go before any newer one."""
        left = self.store.load()
        if left is not None:
            queue.give_back(left)
            self.unsaved = True

    def changed(self, queue: WriteQueue) -> None:
        """The queue changed: remember to keep it, and keep it within its bound."""
        self.unsaved = True
        if len(queue.transitions) <= pending.MAX_QUEUED_TRANSITIONS:
            return
        kept, merged, dropped = pending.bound(queue.transitions, pending.MAX_QUEUED_TRANSITIONS)
        queue.transitions = deque(kept)
        self.merged += merged
        self.dropped_at_bound += dropped
        logger.error(
            "coordination database: {} transitions waiting, {} merged per equipment, {} dropped",
            len(kept) + merged + dropped,
            merged,
            dropped,
        )

    def keep(self, now: float, queue: WriteQueue, in_flight: WriteBatch | None) -> None:
        """Rewrite the file (at most once a second) while the database does not answer."""
        if (self.unsaved or not self.store.on_disk) and self.store.due(now):
            self.store.save(pending.pending(in_flight, queue), now)
            self.unsaved = False

    def written(self, queue: WriteQueue, now: float) -> None:
        """A batch was written: the file holds what is left, or goes."""
        if self.store.on_disk:
            self.store.save(pending.pending(None, queue), now)

    def counters(self) -> dict[str, object]:
        return {
            "pending_file": self.store.on_disk,
            "merged_at_bound": self.merged,
            "dropped_at_bound": self.dropped_at_bound,
        }
