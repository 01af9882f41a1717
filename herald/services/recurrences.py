"""Recurring series: the row (system of record) and its Temporal Schedule (`recurrence/{id}`),
kept in step. Operators see, pause and trigger the schedule in the Temporal UI."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, field_serializer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from herald import temporal as names
from herald.db.models import Post, Recurrence
from herald.errors import HeraldError
from herald.payloads import OccurrenceInput
from herald.principal import Principal
from herald.recurrence import RecurrenceBody, next_runs, schedule_spec
from herald.schemas.posts import rfc3339
from herald.services import audit
from herald.temporal import engine_call, recurrence_schedule_id


class RecurrenceOut(BaseModel):
    id: uuid.UUID
    post_id: uuid.UUID
    freq: str
    interval: int
    by_weekday: list[int]
    by_month_day: list[int]
    time: str
    timezone: str
    start_at: datetime
    until: datetime | None
    count: int | None
    paused: bool
    next_runs: list[datetime]
    occurrences: int
    status: str

    @field_serializer("start_at", "until")
    def _time(self, value: datetime | None) -> str | None:
        return rfc3339(value)

    @field_serializer("next_runs")
    def _times(self, values: list[datetime]) -> list[str | None]:
        return [rfc3339(v) for v in values]

    @classmethod
    def of(cls, series: Recurrence, now: datetime) -> RecurrenceOut:
        upcoming = next_runs(series, now)
        ended = (series.count is not None and series.occurrences >= series.count) or not upcoming
        return cls(
            id=series.id,
            post_id=series.post_id,
            freq=series.freq,
            interval=series.interval,
            by_weekday=series.by_weekday,
            by_month_day=series.by_month_day,
            time=series.time,
            timezone=series.timezone,
            start_at=series.start_at,
            until=series.until,
            count=series.count,
            paused=series.paused,
            next_runs=[] if ended else upcoming,
            occurrences=series.occurrences,
            status="ended" if ended else ("paused" if series.paused else "active"),
        )


async def get_series(session: AsyncSession, post: Post) -> Recurrence | None:
    return await session.scalar(select(Recurrence).where(Recurrence.post_id == post.id))


def _apply(series: Recurrence, body: RecurrenceBody, now: datetime) -> None:
    series.freq, series.interval, series.time = body.freq, body.interval, body.time
    series.by_weekday, series.by_month_day = body.by_weekday, body.by_month_day
    series.timezone, series.until, series.count = body.timezone, body.until, body.count
    series.start_at = body.start_at or series.start_at or now
    series.paused = body.paused
    # The body checks the two when it names both; a PATCH may name only `until`.
    if series.until is not None and series.until <= series.start_at:
        raise HeraldError.invalid("until", "until must be after start_at")


def _schedule(series: Recurrence, task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            names.RECURRENCE_OCCURRENCE_WORKFLOW,
            OccurrenceInput(recurrence_id=str(series.id)),
            id=f"{recurrence_schedule_id(series.id)}/occurrence",
            task_queue=task_queue,
        ),
        spec=schedule_spec(series),
        # A late or overlapping action still makes its post; the activity dedupes fire times.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
        state=ScheduleState(
            paused=series.paused, note="paused through the API" if series.paused else None
        ),
    )


def _audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    series: Recurrence,
    body: RecurrenceBody | None,
) -> None:
    audit.record(
        session,
        principal,
        action,
        "recurrence",
        series.id,
        {"post_id": series.post_id, **(body.model_dump(mode="json") if body else {})},
    )


async def create_series(
    session: AsyncSession,
    principal: Principal,
    client: Client,
    task_queue: str,
    post: Post,
    body: RecurrenceBody,
    now: datetime,
) -> Recurrence:
    if await get_series(session, post) is not None:
        raise HeraldError.conflict("the post already has a recurrence; PATCH it instead")
    series = Recurrence(
        id=uuid.uuid4(), workspace_id=post.workspace_id, post_id=post.id, occurrences=0, fired=[]
    )
    _apply(series, body, now)
    if not next_runs(series, now):
        raise HeraldError.invalid("until", "the series would never run")
    session.add(series)
    post.recurrence_id = series.id
    await session.flush()
    _audit(session, principal, "recurrence.created", series, body)
    with engine_call():
        await client.create_schedule(
            recurrence_schedule_id(series.id), _schedule(series, task_queue)
        )
    return series


async def update_series(
    session: AsyncSession,
    principal: Principal,
    client: Client,
    task_queue: str,
    series: Recurrence,
    body: RecurrenceBody,
    now: datetime,
) -> Recurrence:
    _apply(series, body, now)
    _audit(session, principal, "recurrence.updated", series, body)
    schedule = _schedule(series, task_queue)

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    with engine_call():
        await client.get_schedule_handle(recurrence_schedule_id(series.id)).update(replace)
    return series


async def delete_series(
    session: AsyncSession, principal: Principal, client: Client, series: Recurrence, post: Post
) -> None:
    with engine_call(missing_ok=True):
        await client.get_schedule_handle(recurrence_schedule_id(series.id)).delete()
    post.recurrence_id = None
    _audit(session, principal, "recurrence.deleted", series, None)
    await session.delete(series)
