"""The one interface every platform adapter implements, and its classified errors."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from platforms.content import MediaContent
from platforms.metrics import Metrics


class PlatformError(Exception):
    """Base of the classified errors; `code` and `message` are the platform's own."""

    retryable = True

    def __init__(self, message: str, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


class RateLimited(PlatformError):
    def __init__(
        self, message: str, retry_after_s: float | None, code: str | None = None, status: int = 429
    ) -> None:
        super().__init__(message, code, status)
        self.retry_after_s = retry_after_s


class Transient(PlatformError):
    """Network errors, timeouts and 5xx: the outcome of a write may be unknown."""


class AuthExpired(PlatformError):
    """The token no longer works; refresh once, then fail the target."""


class Rejected(PlatformError):
    """Permanent: the platform refused this content; retrying cannot help."""

    retryable = False


class Duplicate(Rejected):
    """The platform refused the content as a repeat of a post the account already holds. After
    an attempt whose answer was lost, that post is most likely the one the attempt made."""


class NotAvailable(Rejected):
    """The platform, or this server of it, does not offer what was asked (a Bluesky PDS
    without an AppView has no post metrics): not a fault of the request or of the server, and
    asking again will not change it."""


@dataclass(frozen=True)
class AccountContext:
    """What an adapter needs to act as one account: decrypted credentials and settings."""

    account_id: str
    username: str
    platform_account_id: str | None
    credentials: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MediaItem:
    """One attachment: its `content` for platforms that take uploads (read from storage as it
    is sent; validation gets its size alone), and `url`, a signed link valid for a few hours,
    for platforms that fetch media themselves (Instagram, Threads, TikTok's PULL_FROM_URL)."""

    media_id: str
    mime_type: str
    filename: str
    content: MediaContent
    description: str | None = None
    url: str | None = None

    @property
    def size(self) -> int:
        return self.content.size


class PublishProgress:
    """How far a publish made of several platform calls got (TikTok: init, then chunks, then
    status), so that the next attempt carries on from there instead of starting over. The
    adapter reads `saved` and calls `save` once the platform has acknowledged a step; `save(None)`
    forgets a publish that cannot be continued. This default keeps it with the request object;
    the caller may keep it anywhere that outlives the process (Herald keeps it with the target)."""

    def __init__(self, saved: dict[str, Any] | None = None) -> None:
        self.saved = saved

    async def save(self, state: dict[str, Any] | None) -> None:
        self.saved = state


@dataclass(frozen=True)
class PublishRequest:
    """One target's content. `thread` holds the parts after the first (each a reply to the one
    before, from `options.thread`); `first_comment` is a comment under the post
    (`options.first_comment`) on platforms that have comments rather than threads."""

    text: str
    idempotency_key: str
    media: list[MediaItem] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    thread: list[str] = field(default_factory=list)
    first_comment: str | None = None
    progress: PublishProgress = field(default_factory=PublishProgress, compare=False, repr=False)
    # When the first attempt at this publish began: the same on every attempt, so a platform
    # that names records by time (Bluesky) names a retried one as the first attempt did.
    started_at: datetime | None = None


def thread_from_options(options: dict[str, Any]) -> list[str]:
    """`options.thread`: the parts after the first, as strings or `{"text": ...}` objects."""
    parts = options.get("thread") or []
    if not isinstance(parts, list):
        return []
    texts = [p.get("text") if isinstance(p, dict) else p for p in parts]
    return [str(t) for t in texts if isinstance(t, str) and t.strip()]


def first_comment_from_options(options: dict[str, Any]) -> str | None:
    comment = options.get("first_comment")
    return comment if isinstance(comment, str) and comment.strip() else None


# Options Herald itself reads for every platform (as opposed to an adapter's `option_names`).
COMMON_OPTIONS = frozenset({"media_descriptions"})


def media_descriptions(options: dict[str, Any]) -> dict[str, str]:
    """`options.media_descriptions`: alt text by media id (`{"<media id>": "a red door"}`),
    sent as each attachment's description on platforms that take one (Mastodon, Bluesky)."""
    found = options.get("media_descriptions")
    if not isinstance(found, dict):
        return {}
    return {str(k): v.strip() for k, v in found.items() if isinstance(v, str) and v.strip()}


def request_from(
    text: str,
    idempotency_key: str,
    media: list[MediaItem],
    options: dict[str, Any],
    progress: PublishProgress | None = None,
    started_at: datetime | None = None,
) -> PublishRequest:
    return PublishRequest(
        text=text,
        idempotency_key=idempotency_key,
        media=media,
        options=options,
        thread=thread_from_options(options),
        first_comment=first_comment_from_options(options),
        progress=progress or PublishProgress(),
        started_at=started_at,
    )


@dataclass(frozen=True)
class PublishedPost:
    """`platform_post_id` is the head of a thread; `extra_post_ids` the replies or comment made
    with it (deleted with it on unpublish)."""

    platform_post_id: str
    url: str | None
    published_at: datetime | None = None
    extra_post_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlatformApp:
    """Where a platform's API lives and Herald's OAuth app there (from settings; the emulator in
    `herald dev` and tests). Credential platforms (Mastodon, Bluesky) take their base URL per
    account instead and ignore `api_url`."""

    api_url: str
    authorize_url: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None


@dataclass(frozen=True)
class OAuthStart:
    """What `authorization_url` needs: the callback, the single-use state and the PKCE
    challenge (S256 of the verifier Herald keeps until the callback)."""

    redirect_uri: str
    state: str
    code_challenge: str
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class OAuthGrant:
    """Tokens from a code exchange or a refresh, as the credentials stored for the account.
    `credentials` is what `AccountContext.credentials` will hold (access token, refresh token,
    page token ...); `expires_at` is when the access token stops working, if it does."""

    credentials: dict[str, Any]
    expires_at: datetime | None = None


@dataclass(frozen=True)
class AccountIdentity:
    """Who a set of credentials acts as, according to the platform."""

    platform_account_id: str
    username: str
    display_name: str | None = None
    avatar_url: str | None = None


@dataclass(frozen=True)
class SourceMedia:
    """One image or video of a source post, as a mirror imports it: where the platform serves
    the original (a URL Herald's media import fetches, through its size limits, type sniffing
    and address policy), the type the platform says it is (`image/jpeg`, or only `image/*`
    where the platform names the kind alone) and its alt text, where the platform has one."""

    url: str
    mime_type: str
    alt: str | None = None

    @property
    def kind(self) -> str:
        """image | video | other (audio, documents: nothing Herald's media library takes)."""
        kind = self.mime_type.split("/", 1)[0]
        return kind if kind in ("image", "video") else "other"


@dataclass(frozen=True)
class SourcePost:
    """A post read from an account (mirrors), reduced to what filters and copies need.
    `media` is what a mirror may carry to its targets; `media_urls` every attachment link the
    platform showed (thumbnails and covers too), kept for the record only."""

    id: str
    created_at: datetime
    text: str
    kind: str  # text | image | video | quote
    hashtags: tuple[str, ...] = ()
    url: str | None = None
    media_urls: tuple[str, ...] = ()
    media: tuple[SourceMedia, ...] = ()


@dataclass(frozen=True)
class ServerLimits:
    """What one server says it accepts (a Mastodon instance's configuration). None: the
    platform's documented default applies."""

    max_characters: int | None = None
    max_media: int | None = None
    characters_per_url: int | None = None
    media_types: frozenset[str] | None = None
    image_size_limit: int | None = None
    video_size_limit: int | None = None


DOCUMENTED_LIMITS = ServerLimits()


@dataclass(frozen=True)
class ValidationProblem:
    code: str
    message: str
    path: str


class PlatformAdapter(ABC):
    platform: str
    # OAuth platforms connect through /v1/accounts/connect; the others take credentials.
    uses_oauth: bool = False

    # The `options` keys this platform reads; any other key is a validation problem (a typo
    # must not be dropped silently).
    option_names: frozenset[str] = frozenset()

    @abstractmethod
    def validate(
        self, request: PublishRequest, limits: ServerLimits = DOCUMENTED_LIMITS
    ) -> list[ValidationProblem]:
        """Pure per-platform rules, under the limits the account's server states; no I/O."""

    async def server_limits(self, account: AccountContext) -> ServerLimits:
        """The limits the account's server publishes about itself (cached by the adapter);
        platforms whose limits are fixed keep the documented ones."""
        return DOCUMENTED_LIMITS

    @abstractmethod
    async def publish(self, account: AccountContext, request: PublishRequest) -> PublishedPost: ...

    @abstractmethod
    async def find_existing(
        self, account: AccountContext, request: PublishRequest, since: datetime
    ) -> PublishedPost | None:
        """A post this account made since `since` that matches the request, if any."""

    @abstractmethod
    async def delete(self, account: AccountContext, platform_post_id: str) -> None: ...

    @abstractmethod
    async def list_recent(
        self, account: AccountContext, after: str | None, limit: int
    ) -> list[SourcePost]:
        """The account's own posts, oldest first: those after the cursor `after` (a post id),
        or the newest `limit` when there is no cursor yet."""

    @abstractmethod
    async def verify(self, account: AccountContext) -> AccountIdentity:
        """Checks the credentials with the platform (`POST /v1/accounts`, `/test`)."""

    @abstractmethod
    async def fetch_metrics(self, account: AccountContext, platform_post_id: str) -> Metrics:
        """Counters the platform reports for one post, normalised (platforms/metrics.py)."""

    @abstractmethod
    async def fetch_account_metrics(self, account: AccountContext) -> Metrics:
        """The account's own counters: `followers` normalised; following and post counts
        among the raw numbers."""

    async def list_pages(self, account: AccountContext) -> list[dict[str, Any]]:
        """Pages (or similar) the account may publish as, each with ``id``, ``name`` and its
        ``access_token``; platforms without pages refuse."""
        raise Rejected(f"{self.platform} accounts have no pages to choose from")

    def authorization_url(self, start: OAuthStart) -> str:
        """The platform page the user is sent to, to grant Herald access."""
        raise Rejected(f"{self.platform} accounts connect with credentials, not OAuth")

    async def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> OAuthGrant:
        """Trades the callback's code (and the PKCE verifier) for tokens."""
        raise Rejected(f"{self.platform} accounts connect with credentials, not OAuth")

    async def refresh(self, account: AccountContext) -> OAuthGrant:
        """New tokens before the old ones expire; AuthExpired when the grant is gone."""
        raise Rejected(f"{self.platform} tokens are not refreshed by Herald")
