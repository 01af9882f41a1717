"""Inputs and outputs of workflows, updates and activities (pydantic, via the data converter)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from herald.status import ApprovalStatus, PostPhase, PostStatus, TargetStatus


class PostWorkflowInput(BaseModel):
    post_id: str
    # None: every target still waiting; a list: only these (retry and fix runs).
    target_ids: list[str] | None = None
    # Set by the workflow for load_post_plan: a post already due starts publishing in the same
    # transaction (one activity and one write fewer); the answer then carries the batch.
    start_if_due: bool = False
    # The API's hint that the post was created to publish now: load it for writing at once.
    expect_due: bool = False
    # Set by every start the API makes: the run takes the lean publishing path without asking
    # `workflow.patched`, whose marker costs each post a history event and a search-attribute
    # upsert (TemporalChangeVersion). Histories recorded without it still replay as before.
    lean_publish: bool = False
    # Set by every start the API makes: the database steps (loading the plan, starting a
    # batch, recording a decision or a schedule change) run as local activities, in the worker
    # that holds the workflow task, each leaving one marker instead of three events and a task
    # the server dispatches. Histories recorded without it replay their regular activities.
    local_steps: bool = False
    # Set by every start the API makes: each batch's first attempts run as one activity per
    # platform (`publish_targets`), not one per target; a target that must be tried again
    # goes on alone (`publish_target`). Histories recorded without it replay one per target.
    batch_publish: bool = False


class TargetRef(BaseModel):
    id: str
    platform: str
    # Marked publishing, with its attempt counted, by this very batch: its first publish
    # attempt needs no claim (nothing can have reached the platform for it yet).
    fresh: bool = False


class PublishBatch(BaseModel):
    """Targets now marked publishing, and when the next waiting one is due (None: no more)."""

    targets: list[TargetRef]
    next_due: datetime | None
    # Every target's platform: edits before publishing may have changed them since the start.
    platforms: list[str] = Field(default_factory=list)


class RetrySchedule(BaseModel):
    """Waits between a target's publish attempts (settings publish_retry_*); the defaults are
    what runs recorded before the schedule was configurable used."""

    initial_s: float = Field(default=2.0, gt=0)
    backoff: float = Field(default=2.0, ge=1)
    max_s: float = Field(default=120.0, gt=0)


class PostPlan(BaseModel):
    post_id: str
    workspace_id: str
    phase: PostPhase
    status: PostStatus
    scheduled_at: datetime | None
    targets: list[TargetRef]
    # 0: no cap on attempts (the deadline decides). Runs recorded before deadlines existed
    # always carry a cap of at least 1 and no deadline.
    max_attempts: int = Field(ge=0)
    publish_retry: RetrySchedule = Field(default_factory=RetrySchedule)
    # How long after the batch began a target may keep retrying retryable errors.
    publish_deadline_s: float | None = None
    # When the earliest waiting target is due (targets in queue slots have their own times).
    next_due: datetime | None = None
    # Approval: who wrote it (may not approve it) and how long a decision may take.
    author_id: str = ""
    approval_timeout_s: float | None = None
    # Present when load_post_plan already started publishing (start_if_due).
    batch: PublishBatch | None = None


class StartPublishing(BaseModel):
    post_id: str
    now: datetime
    # Publish every waiting target regardless of its time (publish now, retry, fix).
    publish_all: bool = False
    target_ids: list[str] | None = None


class PublishTargetInput(BaseModel):
    post_id: str
    target_id: str
    fresh: bool = False


class PublishBatchInput(BaseModel):
    """The first attempts of a batch's targets on one platform, made together."""

    post_id: str
    targets: list[TargetRef]
    # For the time of a target's next attempt, shown while it waits (the batch's own retries
    # are only for a worker that died mid-batch).
    publish_retry: RetrySchedule = Field(default_factory=RetrySchedule)


class TargetOutcome(BaseModel):
    target_id: str
    status: TargetStatus
    platform_post_id: str | None = None
    platform_post_url: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    # The post's status right after this outcome was stored (under the post's lock): the
    # outcome stored last sees the final status, so the workflow needs no extra activity.
    post_status: PostStatus | None = None


class TargetAttempt(BaseModel):
    """One target's attempt in a batch: its outcome, or the error it must be tried again
    after (`retry`: Temporal may try again; `retry_after_s`: not before, when the platform or
    the account's rate limit names a wait)."""

    target_id: str
    outcome: TargetOutcome | None = None
    error_code: str | None = None
    error_message: str | None = None
    retry: bool = True
    retry_after_s: float | None = None


class TargetFailure(BaseModel):
    target_id: str
    code: str
    message: str
    retryable: bool


class ScheduleChangeKind(StrEnum):
    RESCHEDULE = "reschedule"
    PUBLISH_NOW = "publish_now"
    CANCEL = "cancel"


class ChangedBy(BaseModel):
    """Who asked for a change a workflow makes (for its audit row). Runs recorded before the
    audit log carry none."""

    actor_type: str | None = None
    actor_id: str | None = None


class ScheduleChange(ChangedBy):
    post_id: str
    kind: ScheduleChangeKind
    scheduled_at: datetime | None = None


class RescheduleRequest(ChangedBy):
    scheduled_at: datetime


class ScheduleRequest(ChangedBy):
    """Publish now or cancel."""


class PostRunResult(BaseModel):
    post_id: str
    status: PostStatus
    outcomes: list[TargetOutcome] = Field(default_factory=list)


class PostWorkflowState(BaseModel):
    stage: str
    scheduled_at: datetime | None
    outcomes: list[TargetOutcome]


class UnpublishInput(BaseModel):
    post_id: str


class MediaImportInput(BaseModel):
    """`expected_mime_type` (`image/png`, or `image/*` for the kind alone), when the URL's
    source says what it serves (a mirrored post's attachment): bytes of another kind fail."""

    media_id: str
    url: str
    expected_mime_type: str | None = None


class MediaValidationInput(BaseModel):
    validation_id: str


class ApprovalDecision(BaseModel):
    actor_id: str
    actor_type: str = "user"
    reason: str | None = None


class ApprovalChange(BaseModel):
    post_id: str
    decision: ApprovalStatus
    # None: Herald's own decision (the approval timed out).
    actor_id: str | None = None
    actor_type: str | None = None
    reason: str | None = None


class OccurrenceInput(BaseModel):
    recurrence_id: str


class OccurrenceRequest(BaseModel):
    recurrence_id: str
    fired_at: datetime


class OccurrenceResult(BaseModel):
    """The post made for this fire time (None when the rule skips it), and whether the series
    has now ended (its schedule is then paused)."""

    post_id: str | None = None
    workspace_id: str | None = None
    platforms: list[str] = Field(default_factory=list)
    ended: bool = False


class MirrorInput(BaseModel):
    mirror_id: str
    poll_interval_s: float = 60.0


class StartedPost(BaseModel):
    post_id: str
    workspace_id: str
    platforms: list[str]


class MirroredPostInput(BaseModel):
    """A source post whose media a mirror imports before it makes the copy (one
    `mirror-post/{mirror_post_id}` workflow each): the record and its media's imports."""

    mirror_post_id: str
    media: list[MediaImportInput] = Field(default_factory=list)


class MirroredPost(BaseModel):
    """The copy made once the media settled: the post to start, or None (failed, or made
    before)."""

    started: StartedPost | None = None


class MirrorPoll(BaseModel):
    """What one poll did: posts to start, source posts whose media still await import (new
    ones, and any an interrupted poll left behind), and whether the mirror still exists and is
    active."""

    exists: bool = True
    active: bool = True
    started: list[StartedPost] = Field(default_factory=list)
    imports: list[MirroredPostInput] = Field(default_factory=list)


class Disagreement(BaseModel):
    post_id: str
    db_status: str
    workflow_status: str


class ReconcileReport(BaseModel):
    checked: int = 0
    # Of those, the posts Temporal did not list as running, each described on its own.
    described: int = 0
    started: list[str] = Field(default_factory=list)
    disagreements: list[Disagreement] = Field(default_factory=list)
    # OAuth accounts whose token workflow was made sure to run.
    token_accounts_checked: int = 0
    # Active accounts that had no analytics schedule and were given one.
    analytics_schedules_made: int = 0
    # Media validations and analytics exports whose lost start was made (their workflow ids).
    jobs_started: list[str] = Field(default_factory=list)


class AccountTokensInput(BaseModel):
    account_id: str
    # Refresh this long before the access token expires.
    refresh_margin_s: float = 600.0


class TokenPlan(BaseModel):
    """When the account's access token expires; `watch` False ends the workflow."""

    watch: bool
    expires_at: datetime | None = None


class TokenRefreshResult(BaseModel):
    refreshed: bool
    expired: bool
    expires_at: datetime | None = None
    message: str | None = None


class WebhookRetryInput(BaseModel):
    """A delivery whose first attempt failed, and how long until its next one."""

    delivery_id: str
    wait_s: float
    attempt_timeout_s: float = 10.0


class WebhookDispatchInput(BaseModel):
    session_s: float
    heartbeat_s: float = 30.0


class RetentionReport(BaseModel):
    deliveries: int = 0
    events: int = 0
    notifications: int = 0


class AnalyticsSyncInput(BaseModel):
    account_id: str
    # Backfill: every published post of the account, due or not (POST /backfill).
    backfill: bool = False


class AnalyticsPlanRequest(BaseModel):
    account_id: str
    at: datetime
    backfill: bool = False


class AnalyticsPlan(BaseModel):
    """What one sync samples; `pause_reason` set: nothing, the schedule is paused instead."""

    platform: str | None = None
    target_ids: list[str] = Field(default_factory=list)
    pause_reason: str | None = None
    # The end of a rate limit the platform named for the account (a publish or an earlier
    # sync met it): the sync waits it out before calling.
    wait_until: datetime | None = None


class AnalyticsSampleRequest(BaseModel):
    account_id: str
    target_ids: list[str]
    # The sync's own instant: every reading it writes carries it, so a retried sample skips
    # what an earlier attempt stored.
    sampled_at: datetime


class AnalyticsSampleResult(BaseModel):
    account_sampled: bool = False
    targets_sampled: int = 0
    # Posts the platform would not report on (deleted there, private, no AppView ...).
    targets_refused: int = 0
    # The platform refused the account's credentials: the schedule is paused with this.
    expired: str | None = None


class AnalyticsPause(BaseModel):
    account_id: str
    note: str


class AnalyticsSyncReport(BaseModel):
    account_sampled: bool = False
    targets_sampled: int = 0
    targets_refused: int = 0
    paused: str | None = None


class AnalyticsExportInput(BaseModel):
    export_id: str
