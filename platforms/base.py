"""The one interface every platform adapter implements, and its classified errors."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
    media_id: str
    mime_type: str
    filename: str
    data: bytes
    description: str | None = None


@dataclass(frozen=True)
class PublishRequest:
    text: str
    idempotency_key: str
    media: list[MediaItem] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PublishedPost:
    platform_post_id: str
    url: str | None
    published_at: datetime | None = None


@dataclass(frozen=True)
class AccountIdentity:
    """Who a set of credentials acts as, according to the platform."""

    platform_account_id: str
    username: str
    display_name: str | None = None
    avatar_url: str | None = None


@dataclass(frozen=True)
class SourcePost:
    """A post read from an account (mirrors), reduced to what filters and copies need."""

    id: str
    created_at: datetime
    text: str
    kind: str  # text | image | video | quote
    hashtags: tuple[str, ...] = ()
    url: str | None = None
    media_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidationProblem:
    code: str
    message: str
    path: str


class PlatformAdapter(ABC):
    platform: str

    @abstractmethod
    def validate(self, request: PublishRequest) -> list[ValidationProblem]:
        """Pure per-platform rules; no I/O."""

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
