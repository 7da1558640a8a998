"""A monotonic time budget that every long step checks before it starts."""

from __future__ import annotations

import time
from dataclasses import dataclass

from db_init.errors import DeadlineExceededError


@dataclass(frozen=True)
class Deadline:
    """The moment (time.monotonic) by which the run must have finished."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """A deadline `seconds` from now."""
        return cls(time.monotonic() + seconds)

    @classmethod
    def never(cls) -> Deadline:
        """No budget: for interactive use."""
        return cls(float("inf"))

    def remaining(self) -> float:
        """Seconds left (may be negative)."""
        return self.at - time.monotonic()

    def check(self, doing: str) -> None:
        """Raise DeadlineExceededError if the budget is spent before `doing`."""
        if self.remaining() <= 0:
            raise DeadlineExceededError(
                f"time budget ran out before {doing}; nothing from this run was committed "
                "-- raise the Lambda timeout or split the migration"
            )

    def cap_ms(self, limit_ms: int) -> int:
        """`limit_ms`, reduced so it ends before the deadline (at least 1 ms)."""
        left = self.remaining()
        if left == float("inf"):
            return limit_ms
        return max(1, min(limit_ms, int(left * 1000)))
