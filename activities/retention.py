"""The retention schedule's pass: prunes what is settled and older than `retention_s`."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio import activity

from herald.db.engine import SessionFactory
from herald.db.types import utcnow
from herald.payloads import RetentionReport
from herald.services.retention import prune_once

log = logging.getLogger(__name__)


class RetentionActivities:
    def __init__(self, sessions: SessionFactory, retention_s: float) -> None:
        self._sessions = sessions
        self._retention = timedelta(seconds=retention_s)

    @activity.defn(name="prune_outbox")
    async def prune_outbox(self) -> RetentionReport:
        """Batch after batch, each its own transaction (no long write lock), until a pass
        finds nothing more to prune."""
        cutoff = utcnow() - self._retention
        report = RetentionReport()
        while True:
            activity.heartbeat()
            async with self._sessions() as session, session.begin():
                pruned = await prune_once(session, cutoff)
            report.deliveries += pruned.deliveries
            report.events += pruned.events
            report.notifications += pruned.notifications
            if pruned.total == 0:
                break
        if report.deliveries or report.events or report.notifications:
            log.info("retention pruned %s", report)
        return report
