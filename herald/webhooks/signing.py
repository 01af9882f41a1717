"""Standard Webhooks signing (https://www.standardwebhooks.com), by its reference library:
`webhook-id`, `webhook-timestamp` and one `v1,<base64 HMAC-SHA256>` per live secret."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def message_id(delivery_id: uuid.UUID) -> str:
    """The webhook-id: one per delivery, the same on every attempt, so receivers dedupe."""
    return f"msg_{delivery_id.hex}"


def signed_headers(
    delivery_id: uuid.UUID, body: str, at: datetime, live_secrets: Sequence[str]
) -> dict[str, str]:
    msg_id = message_id(delivery_id)
    signatures = [Webhook(secret).sign(msg_id, at, body) for secret in live_secrets]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        # Space-separated, as the specification allows during a rotation.
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": "Herald-Webhooks/1",
    }
