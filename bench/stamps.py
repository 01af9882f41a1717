"""Timestamps as the API takes them and as the emulator stamps them (milliseconds, `Z`)."""

from __future__ import annotations

from datetime import datetime


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
