"""Herald's Python client: `HeraldClient` (sync) and `AsyncHeraldClient`, typed models,
idempotent retries, cursor iterators, `wait_for`, and `verify_webhook`."""

from herald_client._async.client import AsyncHeraldClient
from herald_client._sync.client import HeraldClient
from herald_client.errors import ErrorDetail, HeraldAPIError
from herald_client.models import (
    POST_TERMINAL_STATUSES,
    Account,
    Media,
    Page,
    Post,
    Target,
    Validation,
    WebhookCreated,
)
from herald_client.retry import RetryPolicy
from herald_client.webhooks import verify_webhook

__all__ = [
    "POST_TERMINAL_STATUSES",
    "Account",
    "AsyncHeraldClient",
    "ErrorDetail",
    "HeraldAPIError",
    "HeraldClient",
    "Media",
    "Page",
    "Post",
    "RetryPolicy",
    "Target",
    "Validation",
    "WebhookCreated",
    "verify_webhook",
]
