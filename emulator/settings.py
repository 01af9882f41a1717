"""Knobs of one emulator app, from keyword arguments or EMULATOR_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class EmulatorSettings:
    # How long an asynchronously processed upload (video, gifv, audio) stays "processing".
    # Real instances take seconds to minutes; one second keeps the 202→206→200 path
    # exercised without slowing tests down.
    processing_s: float = 1.0
    # Mastodon's defaults (config/initializers/rack_attack.rb): 300 API calls per token per
    # 5 minutes; 30 media uploads and 30 status deletions per account per 30 minutes.
    rate_limit: int = 300
    rate_period_s: int = 300
    media_rate_limit: int = 30
    media_rate_period_s: int = 1800
    delete_rate_limit: int = 30
    delete_rate_period_s: int = 1800
    # Mastodon keeps an Idempotency-Key for one hour (PostStatusService, redis setex 3600).
    idempotency_ttl_s: int = 3600
    max_characters: int = 500

    # -- Bluesky (PDS defaults; docs.bsky.app advanced-guides/rate-limits) --------------------
    # Access JWTs live 120 minutes, refresh JWTs 90 days; a rotated refresh token still works
    # for a 2-hour grace period (AccountManager.rotateRefreshToken).
    # OAuth platforms (emulator/oauth.py): access tokens last an hour of emulator clock.
    oauth_access_ttl_s: int = 3600
    oauth_refresh_ttl_s: int = 180 * 86400
    bluesky_access_ttl_s: int = 7200
    bluesky_refresh_ttl_s: int = 90 * 86400
    bluesky_refresh_grace_s: int = 7200
    # Overall API requests: 3000 per 5 minutes per IP.
    bluesky_rate_limit: int = 3000
    bluesky_rate_period_s: int = 300
    # createSession: 30 per 5 minutes and 300 per day, per account.
    bluesky_session_rate_limit: int = 30
    bluesky_session_daily_limit: int = 300
    # Repo writes: 5000 points per hour, 35000 per day per DID (create 3, delete 1).
    bluesky_write_points_hour: int = 5000
    bluesky_write_points_day: int = 35000
    # PDS_BLOB_UPLOAD_LIMIT (the app-level limits, e.g. 1 MB images, apply at createRecord).
    bluesky_blob_upload_limit: int = 100 * 1024 * 1024
    # Whether an AppView stands behind the PDS. Without one (a small community's or a test
    # network's PDS) every app.bsky.* call answers 502 UpstreamFailure, as the reference PDS
    # does; the control API's switches change it at run time.
    bluesky_appview: bool = True

    # -- X (API v2, per-user 15-minute windows; pay-tier values differ) -----------------------
    x_rate_period_s: int = 900
    x_tweet_rate_limit: int = 100
    x_delete_rate_limit: int = 50
    x_me_rate_limit: int = 75
    x_read_rate_limit: int = 900
    x_media_rate_limit: int = 500
    x_max_weighted_length: int = 280
    # How far back an identical Tweet by the same user counts as duplicate content.
    x_duplicate_window_s: int = 86400
    # Uploaded media ids stay usable this long (expires_after_secs).
    x_media_expiry_s: int = 86400

    # -- TikTok (Content Posting / Display API references; per user access token) -----------
    tiktok_rate_period_s: int = 60
    tiktok_init_rate_limit: int = 6
    tiktok_creator_info_rate_limit: int = 20
    tiktok_status_rate_limit: int = 30
    tiktok_display_rate_limit: int = 600
    # Direct posts per creator per 24 hours ("around 15"), pending inbox shares likewise.
    tiktok_daily_post_cap: int = 15
    tiktok_pending_share_cap: int = 5
    # What creator_info reports; real creators have 60 to 600 seconds.
    tiktok_max_video_post_duration_sec: int = 300
    # Login Kit access tokens are valid for 24 hours.
    tiktok_access_ttl_s: int = 86400

    # -- Threads (developers.facebook.com/docs/threads: overview, posts, long-lived tokens) -----
    # Per profile and 24 hours: 250 published posts, 1000 replies, 100 deletions; API calls
    # per app-user pair: 4800 * impressions (10 at least), counted here in fixed 24-hour windows.
    threads_post_quota: int = 250
    threads_reply_quota: int = 1000
    threads_delete_quota: int = 100
    threads_call_limit: int = 48000
    threads_quota_period_s: int = 86400
    threads_max_characters: int = 500
    threads_max_carousel: int = 20
    # Long-lived tokens last 60 days and can be refreshed once at least 24 hours old.
    threads_long_lived_ttl_s: int = 60 * 86400
    threads_refresh_min_age_s: int = 86400
    # Unpublished containers expire after 24 hours.
    threads_container_ttl_s: int = 86400

    # -- LinkedIn (learn.microsoft.com: rate limits, programmatic refresh tokens) ------------
    # Daily limits per member and application, reset at midnight UTC; the real numbers are
    # per endpoint and shown only in the developer portal (150 member shares a day is usual).
    linkedin_post_daily_limit: int = 150
    linkedin_member_daily_limit: int = 100000
    # Access tokens last 60 days, refresh tokens a year (never extended by refreshing).
    linkedin_access_ttl_s: int = 60 * 86400
    linkedin_refresh_ttl_s: int = 365 * 86400
    linkedin_max_commentary: int = 3000
    # How far back an identical commentary by the same author is refused as DUPLICATE_POST.
    linkedin_duplicate_window_s: int = 86400

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> EmulatorSettings:
        """Defaults, then EMULATOR_<FIELD> variables (e.g. EMULATOR_PROCESSING_S), then overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = env.get(f"EMULATOR_{item.name.upper()}")
            if raw is None:
                continue
            if item.type == "bool":
                values[item.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            else:
                values[item.name] = float(raw) if item.type == "float" else int(raw)
        return replace(cls(**values), **overrides)
