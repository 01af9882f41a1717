"""The in-memory world of one emulator app: accounts, posts, media, idempotency records.

Each ``create_app()`` builds its own state, so tests that make several apps never share
anything. Handlers run on one event loop and only mutate state between awaits, so most
operations are atomic already; ``lock`` guards the few check-then-act sequences that a
future change could split with an await (idempotent status creation).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request

from emulator.faults import FaultRegistry
from emulator.oauth import OAuthGrants, account_of_access_token
from emulator.ratelimit import FixedWindowCounter
from emulator.requestlog import RequestLog
from emulator.sandbox import sandbox_accounts
from emulator.settings import EmulatorSettings


class Clock:
    """Wall clock with a forward-only offset, so tests can jump past the idempotency hour,
    a rate-limit window or media processing without sleeping."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the emulator clock only moves forward")
        self.offset += timedelta(seconds=seconds)

    def restore(self) -> None:
        self.offset = timedelta(0)


class SnowflakeIds:
    """Mastodon-style ids: milliseconds since the epoch shifted left 16 bits, plus a sequence.

    Numeric strings that grow with time, like the real ones (e.g. "103254962155278888"),
    so clients that compare or paginate by id behave as in production."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last = 0

    def next(self) -> str:
        candidate = int(self._clock.now().timestamp() * 1000) << 16
        self._last = max(candidate, self._last + 1)
        return str(self._last)


@dataclass
class Account:
    platform: str
    id: str
    username: str
    display_name: str
    token: str
    created_at: datetime
    sandbox: bool = False


@dataclass
class MediaItem:
    platform: str
    id: str
    account_id: str
    type: str  # in the platform's vocabulary (Mastodon: image, gifv, video, audio)
    mime_type: str
    data: bytes
    description: str | None
    created_at: datetime
    ready_at: datetime  # processing finishes then; equal to created_at for synchronous types
    meta: dict[str, Any] = field(default_factory=dict)
    post_id: str | None = None  # set while attached to a post
    discarded: bool = False  # deleted together with its post
    # An upload hashed as it arrived instead of kept (TikTok's chunked videos, which may be
    # gigabytes): its SHA-256 and size stand for it, and `data` holds none of it.
    received_sha256: str | None = None
    received_size: int | None = None

    @property
    def sha256(self) -> str:
        return self.received_sha256 or hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return self.received_size if self.received_size is not None else len(self.data)

    def processed(self, now: datetime) -> bool:
        return now >= self.ready_at


@dataclass
class Post:
    platform: str
    id: str
    account_id: str
    text: str
    media_ids: list[str]
    created_at: datetime
    in_reply_to_id: str | None = None
    idempotency_key: str | None = None
    deleted_at: datetime | None = None
    # Platform-specific fields (Mastodon: visibility, spoiler_text, sensitive, language).
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


@dataclass(frozen=True)
class IdempotencyRecord:
    post_id: str
    stored_at: datetime


class AccountConflict(ValueError):
    pass


def platform_account_id(platform: str, username: str, snowflake: str) -> str:
    """Account ids in the platform's own shape: for Bluesky the repo DID, a did:plc derived
    from the username (so the sandbox DID is the same in every emulator run); the numeric
    snowflake everywhere else."""
    if platform == "bluesky":
        seed = f"herald-emulator:bluesky:{username.lower()}"
        digest = hashlib.sha256(seed.encode()).digest()
        return "did:plc:" + base64.b32encode(digest).decode().lower()[:24]
    return snowflake


@dataclass
class Switches:
    """What a test may turn on and off in a running world (the settings are its defaults;
    a reset restores them)."""

    bluesky_appview: bool = True

    @classmethod
    def of(cls, settings: EmulatorSettings) -> Switches:
        return cls(bluesky_appview=settings.bluesky_appview)


class EmulatorState:
    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self.clock = Clock()
        self.ids = SnowflakeIds(self.clock)
        self.lock = asyncio.Lock()
        self.accounts: dict[str, Account] = {}
        self.posts: dict[str, Post] = {}  # insertion order == creation order
        # Indexes over `posts` (same order): answering a status includes its account's
        # counts and its replies, which a scan of every post made cost more with each post.
        self._posts_by_account: dict[str, dict[str, Post]] = {}
        self._replies: dict[str, dict[str, Post]] = {}
        self.media: dict[str, MediaItem] = {}
        self.idempotency: dict[tuple[str, str, str], IdempotencyRecord] = {}
        self.faults = FaultRegistry()
        self.rate_counter = FixedWindowCounter()
        self.requests = RequestLog()
        # Platform-private bookkeeping (sessions, upload sessions, jobs, id sequences); cleared
        # on reset like everything else.
        self.platform_data: dict[str, dict[str, Any]] = {}
        self.oauth = OAuthGrants()
        self.switches = Switches.of(settings)
        self._install_sandbox()

    def now(self) -> datetime:
        return self.clock.now()

    def scratch(self, platform: str) -> dict[str, Any]:
        """The platform's private bookkeeping dict (created on first use)."""
        return self.platform_data.setdefault(platform, {})

    # -- accounts ---------------------------------------------------------------------------

    def _install_sandbox(self) -> None:
        for spec in sandbox_accounts():
            if self.account_by_username(spec.platform, spec.username) is None:
                self.add_account(
                    spec.platform, spec.username, spec.token, spec.display_name, sandbox=True
                )

    def add_account(
        self,
        platform: str,
        username: str,
        token: str | None = None,
        display_name: str | None = None,
        *,
        sandbox: bool = False,
    ) -> Account:
        if self.account_by_username(platform, username) is not None:
            raise AccountConflict(f"{platform} already has an account named {username!r}")
        # Random from the first character: the request log shows only 6 characters of a token.
        token = token or secrets.token_urlsafe(32)
        if any(a.token == token for a in self.accounts.values()):
            raise AccountConflict("that token already belongs to another account")
        account = Account(
            platform=platform,
            id=platform_account_id(platform, username, self.ids.next()),
            username=username,
            display_name=display_name or username,
            token=token,
            created_at=self.now(),
            sandbox=sandbox,
        )
        self.accounts[account.id] = account
        return account

    def account_by_token(self, platform: str, token: str) -> Account | None:
        """The account's fixed token, or an unexpired access token issued through OAuth."""
        for account in self.accounts.values():
            if account.platform == platform and secrets.compare_digest(account.token, token):
                return account
        return account_of_access_token(self, platform, token)

    def account_by_username(self, platform: str, username: str) -> Account | None:
        wanted = username.lower()
        for account in self.accounts.values():
            if account.platform == platform and account.username.lower() == wanted:
                return account
        return None

    def account(self, platform: str, account_id: str) -> Account | None:
        account = self.accounts.get(account_id)
        return account if account is not None and account.platform == platform else None

    # -- posts and media --------------------------------------------------------------------

    def post(self, platform: str, post_id: str) -> Post | None:
        post = self.posts.get(post_id)
        return post if post is not None and post.platform == platform else None

    def add_post(self, post: Post) -> None:
        self.posts[post.id] = post
        self._posts_by_account.setdefault(post.account_id, {})[post.id] = post
        if post.in_reply_to_id is not None:
            self._replies.setdefault(post.in_reply_to_id, {})[post.id] = post
        for media_id in post.media_ids:
            self.media[media_id].post_id = post.id

    def remove_post(self, post_id: str) -> None:
        """Forgets a post entirely (a deleted post normally stays, marked deleted)."""
        post = self.posts.pop(post_id, None)
        if post is None:
            return
        self._posts_by_account.get(post.account_id, {}).pop(post_id, None)
        if post.in_reply_to_id is not None:
            self._replies.get(post.in_reply_to_id, {}).pop(post_id, None)

    def posts_of(self, account_id: str) -> list[Post]:
        """The account's posts, deleted ones included, oldest first."""
        return list(self._posts_by_account.get(account_id, {}).values())

    def replies_to(self, post_id: str) -> list[Post]:
        """Posts made in reply to this one, deleted ones included, oldest first."""
        return list(self._replies.get(post_id, {}).values())

    def media_item(self, platform: str, media_id: str) -> MediaItem | None:
        item = self.media.get(media_id)
        return item if item is not None and item.platform == platform else None

    # -- idempotency ------------------------------------------------------------------------

    def recall_idempotent(self, platform: str, account_id: str, key: str) -> str | None:
        """The post id stored under this key by this account within the TTL, if any."""
        record = self.idempotency.get((platform, account_id, key))
        if record is None:
            return None
        if self.now() - record.stored_at >= timedelta(seconds=self.settings.idempotency_ttl_s):
            del self.idempotency[(platform, account_id, key)]
            return None
        return record.post_id

    def remember_idempotent(self, platform: str, account_id: str, key: str, post_id: str) -> None:
        self.idempotency[(platform, account_id, key)] = IdempotencyRecord(post_id, self.now())

    # -- reset ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to a fresh world; sandbox accounts keep their ids and tokens."""
        self.posts.clear()
        self._posts_by_account.clear()
        self._replies.clear()
        self.media.clear()
        self.idempotency.clear()
        self.faults.clear()
        self.rate_counter.clear()
        self.requests.clear()
        self.platform_data.clear()
        self.oauth.clear()
        self.switches = Switches.of(self.settings)
        self.accounts = {k: a for k, a in self.accounts.items() if a.sandbox}
        self.clock.offset = timedelta(0)
        self._install_sandbox()


def state_of(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state
