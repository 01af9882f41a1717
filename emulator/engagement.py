"""How the emulated audience reacts: counters that grow with the emulator clock.

Every post gains a fixed number of each kind of reaction per whole hour of its age, and
every account a fixed number of followers per whole hour since it was made. Nothing is
random: a test that advances the clock by N hours knows each counter exactly
(`post_counts` and `account_counts` below are the whole rule). Each platform's views map
these onto its own field names (Mastodon ``favourites_count``, X ``public_metrics``,
Instagram insights ``views`` ...). Replies that really exist in the emulator are counted on
top of the grown ``comments``, so a thread's head shows its parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from emulator.state import Account, Post

# Reactions a post gains per whole hour of its age.
PER_HOUR: dict[str, int] = {
    "views": 40,  # impressions: times shown
    "reach": 30,  # distinct viewers
    "likes": 3,
    "comments": 1,
    "shares": 2,  # reposts, reblogs, reshares
    "quotes": 1,
    "saves": 1,  # bookmarks, saves
    "clicks": 4,
    "video_views": 20,
}

BASE_FOLLOWERS = 100
FOLLOWERS_PER_HOUR = 5
FOLLOWING = 10


def whole_hours(since: datetime, now: datetime) -> int:
    return max(0, int((now - since).total_seconds() // 3600))


@dataclass(frozen=True)
class AccountCounts:
    followers: int
    following: int


def post_counts(post: Post, now: datetime) -> dict[str, int]:
    """Each counter of `post` at `now` (see PER_HOUR); real replies are added by the views."""
    hours = whole_hours(post.created_at, now)
    return {name: rate * hours for name, rate in PER_HOUR.items()}


def account_counts(account: Account, now: datetime) -> AccountCounts:
    hours = whole_hours(account.created_at, now)
    return AccountCounts(BASE_FOLLOWERS + FOLLOWERS_PER_HOUR * hours, FOLLOWING)
