"""Rate-limited warnings, pure: at most one warning per key (an MQTT topic) per period."""

from __future__ import annotations


class WarnLimiter:
    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.warned: dict[str, float] = {}  # key -> time of its last warning
        self.suppressed: dict[str, int] = {}  # key -> warnings held back since then

    def allow(self, key: str, now: float) -> int | None:
        """None: stay silent; else warn now, mentioning this many held back since the last."""
        last = self.warned.get(key)
        if last is not None and now - last < self.every_s:
            self.suppressed[key] = self.suppressed.get(key, 0) + 1
            return None
        self.warned[key] = now
        return self.suppressed.pop(key, 0)

    def suffix(self, key: str, now: float) -> str | None:
        """None: stay silent; else warn now, ending the line with this (what was held back)."""
        held_back = self.allow(key, now)
        if held_back is None:
            return None
        return f" ({held_back} more since the last warning)" if held_back else ""
