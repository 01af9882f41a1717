"""Checking that a webhook came from Herald, with the Standard Webhooks reference library."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from herald_client.errors import HeraldAPIError

INVALID_SIGNATURE = "INVALID_SIGNATURE"


def verify_webhook(headers: Mapping[str, str], body: bytes | str, secret: str) -> dict[str, Any]:
    """The event (`{"type", "timestamp", "data"}`) when `body` is signed with `secret` (the
    endpoint's `whsec_...`) and its timestamp is within five minutes; else HeraldAPIError with
    code INVALID_SIGNATURE. Pass the body exactly as received, before any JSON parsing.
    Deduplicate on `headers["webhook-id"]`: delivery is at least once."""
    try:
        event = Webhook(secret).verify(body, dict(headers))
    except WebhookVerificationError as error:
        raise HeraldAPIError(INVALID_SIGNATURE, str(error)) from error
    if not isinstance(event, dict):
        raise HeraldAPIError(INVALID_SIGNATURE, "the body is not a JSON object")
    return event
