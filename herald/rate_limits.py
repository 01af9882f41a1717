"""An account's rate limit: the reset a platform named in a 429, while it lasts."""

from __future__ import annotations

from datetime import datetime

from herald.db.models import SocialAccount


def rate_limit_wait(account: SocialAccount, now: datetime) -> datetime | None:
    """The end of the rate limit the platform last named for the account, while it lasts."""
    until = account.rate_limited_until
    return until if until is not None and until > now else None
