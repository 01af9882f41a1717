"""Queue slot times in the account's time zone, across DST changes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from itertools import islice

from herald.db.models import AccountQueue
from herald.services.queues import upcoming_slots


def _queue(zone: str, *slots: tuple[int, str]) -> AccountQueue:
    return AccountQueue(
        account_id=uuid.uuid4(),
        timezone=zone,
        slots=[{"weekday": w, "time": t} for w, t in slots],
    )


def test_slots_keep_their_local_time_across_spring_forward() -> None:
    # Europe/Berlin moves from +01:00 to +02:00 on Sunday 2026-03-29.
    queue = _queue("Europe/Berlin", *((day, "09:00") for day in range(7)))
    after = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)
    slots = list(islice(upcoming_slots(queue, after), 4))
    assert slots == [
        datetime(2026, 3, 28, 8, 0, tzinfo=UTC),  # Sat 09:00 CET
        datetime(2026, 3, 29, 7, 0, tzinfo=UTC),  # Sun 09:00 CEST
        datetime(2026, 3, 30, 7, 0, tzinfo=UTC),
        datetime(2026, 3, 31, 7, 0, tzinfo=UTC),
    ]


def test_a_slot_inside_the_gap_moves_past_it_and_an_ambiguous_one_takes_the_first() -> None:
    queue = _queue("Europe/Berlin", (6, "02:30"))  # Sundays
    spring = next(upcoming_slots(queue, datetime(2026, 3, 28, tzinfo=UTC)))
    assert spring == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST, just after the gap
    autumn = next(upcoming_slots(queue, datetime(2026, 10, 24, tzinfo=UTC)))
    assert autumn == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the first 02:30 (CEST)


def test_weekdays_are_monday_based_and_slots_are_ordered() -> None:
    queue = _queue("America/New_York", (0, "18:00"), (0, "08:15"), (2, "12:00"))
    after = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # Sunday evening in New York
    slots = list(islice(upcoming_slots(queue, after), 3))
    assert slots == [
        datetime(2026, 11, 23, 13, 15, tzinfo=UTC),  # Mon 08:15 EST
        datetime(2026, 11, 23, 23, 0, tzinfo=UTC),  # Mon 18:00 EST
        datetime(2026, 11, 25, 17, 0, tzinfo=UTC),  # Wed 12:00 EST
    ]


def test_no_slots_means_no_times() -> None:
    assert list(upcoming_slots(_queue("UTC"), datetime(2026, 1, 1, tzinfo=UTC))) == []
