"""Now, for code that compares times with stored expiries (access and refresh tokens,
invitations): tests move it forward instead of sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta

from herald.db.types import utcnow


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return utcnow() + self.offset
