"""The analytics CSV (RFC 4180, UTF-8, CRLF line ends, a header row): one row per post target
and UTC day, and one per account and day, each the subject's last sample of that day. Rows
are made as the samples stream by (ordered by subject, then time), so memory does not grow
with the export."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime

from herald.analytics.rules import POST_COUNTERS, engagement

COLUMNS = (
    "date",
    "kind",
    "account_id",
    "platform",
    "post_id",
    "target_id",
    "platform_post_id",
    "sampled_at",
    *POST_COUNTERS,
    "engagement",
    "followers",
)


@dataclass(frozen=True)
class ExportSample:
    """One sample as the export reads it (a row of the export query)."""

    subject_id: str
    kind: str
    account_id: str
    platform: str
    post_id: str | None
    target_id: str | None
    platform_post_id: str | None
    sampled_at: datetime
    counters: dict[str, int | None]


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _row(sample: ExportSample) -> list[str]:
    counters = sample.counters
    return [
        sample.sampled_at.date().isoformat(),
        sample.kind,
        sample.account_id,
        sample.platform,
        _cell(sample.post_id),
        _cell(sample.target_id),
        _cell(sample.platform_post_id),
        sample.sampled_at.isoformat().replace("+00:00", "Z"),
        *(_cell(counters.get(name)) for name in POST_COUNTERS),
        _cell(engagement(counters) if sample.kind == "post" else None),
        _cell(counters.get("followers")),
    ]


async def daily_rows(samples: AsyncIterable[ExportSample]) -> AsyncIterator[list[str]]:
    """The last sample of each (subject, day), from samples ordered by subject and time."""
    held: ExportSample | None = None
    async for sample in samples:
        if held is not None and (
            held.subject_id != sample.subject_id
            or held.kind != sample.kind
            or held.sampled_at.date() != sample.sampled_at.date()
        ):
            yield _row(held)
        held = sample
    if held is not None:
        yield _row(held)


def encode(rows: Iterable[list[str]]) -> str:
    """Rows as RFC 4180 text (quoted where needed, CRLF after every record)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue()
