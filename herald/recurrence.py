"""Recurrence rules: the request body, the dates it names (dateutil's RFC 5545 rules, in the
series' own time zone so DST keeps the wall-clock time), and the Temporal Schedule spec.

The Schedule fires on the calendar pattern (every day, given weekdays, given month days); the
occurrence activity keeps only fire times the full rule names (interval, count, until), so
"every 2 weeks" and "exactly 3 times" hold without Temporal knowing about them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, Self
from zoneinfo import ZoneInfo

from dateutil import rrule
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from temporalio.client import ScheduleCalendarSpec, ScheduleRange, ScheduleSpec

from herald.db.models import Recurrence
from herald.instants import to_utc
from herald.timezones import known_zone

FREQUENCIES: dict[str, Literal[0, 1, 2, 3, 4, 5, 6]] = {
    "daily": rrule.DAILY,
    "weekly": rrule.WEEKLY,
    "monthly": rrule.MONTHLY,
}
# A fire time within this of a rule's date is that date (schedules fire on the second).
MATCH_WINDOW = timedelta(minutes=1)


class RecurrenceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    freq: Literal["daily", "weekly", "monthly"]
    interval: int = Field(default=1, ge=1, le=366)
    by_weekday: list[int] = Field(default_factory=list, description="0 = Monday … 6 = Sunday")
    by_month_day: list[int] = Field(default_factory=list)
    time: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM local time")
    timezone: str = "UTC"
    start_at: datetime | None = None
    until: datetime | None = None
    count: int | None = Field(default=None, ge=1, le=10_000)
    paused: bool = False

    @field_validator("by_weekday")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(not 0 <= d <= 6 for d in value):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return sorted(set(value))

    @field_validator("by_month_day")
    @classmethod
    def _month_days(cls, value: list[int]) -> list[int]:
        if any(not 1 <= d <= 31 for d in value):
            raise ValueError("month days are 1 to 31")
        return sorted(set(value))

    _zone = field_validator("timezone")(known_zone)

    @field_validator("start_at", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return to_utc(value) if value else None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.by_weekday and self.freq != "weekly":
            raise ValueError("by_weekday applies to weekly series")
        if self.by_month_day and self.freq != "monthly":
            raise ValueError("by_month_day applies to monthly series")
        if self.until and self.start_at and self.until <= self.start_at:
            raise ValueError("until must be after start_at")
        return self


def _local_time(value: str) -> time:
    hour, minute = (int(part) for part in value.split(":"))
    return time(hour, minute)


def _weekdays(series: Recurrence, start: date) -> list[int]:
    return list(series.by_weekday) or [start.weekday()]


def _month_days(series: Recurrence, start: date) -> list[int]:
    return list(series.by_month_day) or [start.day]


def rule(series: Recurrence) -> rrule.rrule:
    zone = ZoneInfo(series.timezone)
    start = series.start_at.astimezone(zone)
    first = datetime.combine(start.date(), _local_time(series.time), tzinfo=zone)
    if first < start:
        first += timedelta(days=1)  # the first wall-clock slot at or after start_at
    return rrule.rrule(
        FREQUENCIES[series.freq],
        dtstart=first,
        interval=series.interval,
        byweekday=_weekdays(series, first.date()) if series.freq == "weekly" else None,
        bymonthday=_month_days(series, first.date()) if series.freq == "monthly" else None,
        count=series.count,
        until=series.until.astimezone(zone) if series.until else None,
    )


def next_runs(series: Recurrence, after: datetime, limit: int = 5) -> list[datetime]:
    """Upcoming occurrences (UTC) after `after`, skipping those already made."""
    runs: list[datetime] = []
    for index, local in enumerate(rule(series)):
        if series.count and index < series.occurrences:
            continue
        instant = local.astimezone(UTC)
        if instant > after:
            runs.append(instant)
        if len(runs) == limit:
            break
    return runs


def is_occurrence(series: Recurrence, fired_at: datetime) -> bool:
    local = fired_at.astimezone(ZoneInfo(series.timezone))
    return bool(rule(series).between(local - MATCH_WINDOW, local + MATCH_WINDOW, inc=True))


def schedule_spec(series: Recurrence) -> ScheduleSpec:
    """The calendar pattern the Schedule fires on, in the series' time zone."""
    at = _local_time(series.time)
    start = series.start_at.astimezone(ZoneInfo(series.timezone)).date()
    calendar = ScheduleCalendarSpec(
        hour=[ScheduleRange(at.hour)],
        minute=[ScheduleRange(at.minute)],
        second=[ScheduleRange(0)],
    )
    if series.freq == "weekly":
        # Temporal counts weekdays from Sunday = 0.
        days = [ScheduleRange((d + 1) % 7) for d in _weekdays(series, start)]
        calendar = ScheduleCalendarSpec(
            hour=calendar.hour, minute=calendar.minute, second=calendar.second, day_of_week=days
        )
    elif series.freq == "monthly":
        days = [ScheduleRange(d) for d in _month_days(series, start)]
        calendar = ScheduleCalendarSpec(
            hour=calendar.hour, minute=calendar.minute, second=calendar.second, day_of_month=days
        )
    return ScheduleSpec(
        calendars=[calendar],
        time_zone_name=series.timezone,
        start_at=series.start_at,
        end_at=series.until,
    )
