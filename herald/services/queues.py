"""Posting queues: an account's weekly slots in its IANA time zone, and the claims that stop two
posts from taking one slot. Slot times are computed per local date, so they follow DST."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import AccountQueue, Post, PostTarget, QueueSlotClaim
from herald.errors import HeraldError
from herald.principal import Principal
from herald.services import audit
from herald.timezones import known_zone

# How far ahead to look for a free slot before giving up (a year of weekly slots).
LOOKAHEAD_DAYS = 366


class Slot(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    time: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, local time")


class QueueBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(description="IANA time zone, e.g. Europe/Berlin")
    slots: list[Slot] = Field(max_length=500)

    _zone = field_validator("timezone")(known_zone)


def _local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time. In a DST gap the wall clock does not exist;
    the instant then falls just after the gap (02:30 on a spring-forward night is 03:30)."""
    naive = datetime.combine(day, at)
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def upcoming_slots(queue: AccountQueue, after: datetime) -> Iterator[datetime]:
    """Slot instants strictly after `after`, in order, for up to LOOKAHEAD_DAYS."""
    zone = ZoneInfo(queue.timezone)
    by_weekday: dict[int, list[time]] = {}
    for slot in queue.slots:
        hour, minute = (int(part) for part in str(slot["time"]).split(":"))
        by_weekday.setdefault(int(slot["weekday"]), []).append(time(hour, minute))
    if not by_weekday:
        return
    first_day = after.astimezone(zone).date()
    for offset in range(LOOKAHEAD_DAYS + 1):
        day = first_day + timedelta(days=offset)
        for at in sorted(set(by_weekday.get(day.weekday(), []))):
            instant = _local_instant(day, at, zone)
            if instant > after:
                yield instant


async def get_queue(session: AsyncSession, account_id: uuid.UUID) -> AccountQueue | None:
    return await session.get(AccountQueue, account_id)


async def set_queue(
    session: AsyncSession, principal: Principal, account_id: uuid.UUID, body: QueueBody
) -> AccountQueue:
    queue = await session.get(AccountQueue, account_id)
    if queue is None:
        queue = AccountQueue(account_id=account_id, timezone=body.timezone, slots=[])
        session.add(queue)
    queue.timezone = body.timezone
    queue.slots = [slot.model_dump() for slot in body.slots]
    audit.record(
        session,
        principal,
        "account.queue_set",
        "account",
        account_id,
        {"timezone": queue.timezone, "slots": queue.slots},
    )
    return queue


async def _taken(session: AsyncSession, account_id: uuid.UUID, after: datetime) -> set[datetime]:
    rows = await session.execute(
        select(QueueSlotClaim.slot_at).where(
            QueueSlotClaim.account_id == account_id, QueueSlotClaim.slot_at > after
        )
    )
    return set(rows.scalars())


async def next_free_slot(
    session: AsyncSession, account_id: uuid.UUID, after: datetime
) -> datetime | None:
    queue = await get_queue(session, account_id)
    if queue is None:
        return None
    taken = await _taken(session, account_id, after)
    return next((slot for slot in upcoming_slots(queue, after) if slot not in taken), None)


async def claim_next_slot(
    session: AsyncSession, target: PostTarget, after: datetime, path: str
) -> datetime:
    """Takes the account's next free slot for this target. The unique (account, slot) key
    decides races: a concurrent request that took the same slot makes us try the next one."""
    queue = await get_queue(session, target.account_id)
    if queue is None or not queue.slots:
        raise HeraldError.invalid(path, "the account has no queue slots; PUT its queue first")
    taken = await _taken(session, target.account_id, after)
    for slot in upcoming_slots(queue, after):
        if slot in taken:
            continue
        try:
            async with session.begin_nested():
                session.add(
                    QueueSlotClaim(account_id=target.account_id, slot_at=slot, target_id=target.id)
                )
        except IntegrityError:
            continue
        return slot
    raise HeraldError.conflict("the account's queue has no free slot within a year")


async def release_queue_slots(session: AsyncSession, post: Post) -> None:
    """Frees the queue slots a post's targets held, e.g. when it is cancelled or rescheduled."""
    ids = [t.id for t in post.targets]
    if ids:
        await session.execute(delete(QueueSlotClaim).where(QueueSlotClaim.target_id.in_(ids)))
