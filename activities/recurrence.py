"""Recurrence activities: turn a fire time into a post (at most once), end finished series."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from temporalio import activity
from temporalio.client import Client

from herald.db.engine import SessionFactory
from herald.db.models import Post, Recurrence
from herald.db.types import utcnow
from herald.payloads import OccurrenceRequest, OccurrenceResult
from herald.posts.creation import copy_post
from herald.principal import system_principal
from herald.recurrence import is_occurrence
from herald.status import Origin
from herald.temporal import recurrence_schedule_id


class RecurrenceActivities:
    def __init__(self, sessions: SessionFactory, client: Client) -> None:
        self._sessions = sessions
        self._client = client

    @activity.defn(name="create_occurrence")
    async def create_occurrence(self, request: OccurrenceRequest) -> OccurrenceResult:
        fired = request.fired_at.replace(microsecond=0).isoformat()
        async with self._sessions() as session, session.begin():
            series = await session.scalar(
                select(Recurrence)
                .where(Recurrence.id == uuid.UUID(request.recurrence_id))
                .with_for_update()
            )
            if series is None:
                return OccurrenceResult(ended=True)
            finished = series.count is not None and series.occurrences >= series.count
            if finished or fired in series.fired or not is_occurrence(series, request.fired_at):
                return OccurrenceResult(ended=finished)
            template = await session.get(Post, series.post_id)
            if template is None:
                return OccurrenceResult(ended=True)
            # The template as it is now: edits change future occurrences only.
            actor = system_principal(series.workspace_id, f"recurrence:{series.id}")
            copy = copy_post(
                session, template, actor, utcnow(), utcnow(), Origin.RECURRENCE, series.id
            )
            series.occurrences += 1
            series.fired = [*series.fired[-50:], fired]
            ended = series.count is not None and series.occurrences >= series.count
            result = OccurrenceResult(
                post_id=str(copy.id),
                workspace_id=str(copy.workspace_id),
                platforms=sorted({t.platform for t in copy.targets}),
                ended=ended,
            )
        if ended:
            await self._client.get_schedule_handle(
                recurrence_schedule_id(request.recurrence_id)
            ).pause(note=f"ended after {series.count} occurrences")
        return result
