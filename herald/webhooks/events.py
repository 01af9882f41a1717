"""The event types a webhook endpoint can subscribe to (API.md "Webhooks")."""

from __future__ import annotations

from collections.abc import Iterable

EVENT_TYPES = (
    "post.created",
    "post.scheduled",
    "post.published",
    "post.partial",
    "post.failed",
    "post.cancelled",
    "post.approval_requested",
    "post.approved",
    "post.rejected",
    "account.connected",
    "account.disconnected",
    "account.expired",
    "media.uploaded",
    "media.failed",
    "mirror.post_detected",
    "webhook.test",
    "webhook.disabled",
    "invitation.created",
)
EVERY_EVENT = "*"


def unknown_events(names: Iterable[str]) -> list[str]:
    return [n for n in names if n != EVERY_EVENT and n not in EVENT_TYPES]


def subscribed(events: list[str], event_type: str) -> bool:
    return EVERY_EVENT in events or event_type in events
