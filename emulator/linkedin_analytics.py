"""LinkedIn member analytics: ``GET /rest/memberCreatorPostAnalytics`` and
``GET /rest/memberFollowersCount``.

Follows learn.microsoft.com "Member Post Statistics" and "Member Follower Count":
``memberCreatorPostAnalytics?q=entity&entity=(share:urn%3Ali%3Ashare%3A1)&queryType=IMPRESSION
&aggregation=TOTAL`` answers ``{"elements": [{"count": n, "metricType": {...: "IMPRESSION"}}]}``
for one metric per call (IMPRESSION, MEMBERS_REACHED, RESHARE, REACTION, COMMENT, POST_SAVE);
``memberFollowersCount?q=me`` answers ``{"elements": [{"memberFollowersCount": n}]}``. Counts
grow with the emulator clock (emulator/engagement.py).

Deviations: only ``aggregation=TOTAL`` (DAILY answers 400); the ``me`` finder of post
analytics (all posts) and date ranges of follower counts are not emulated.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from emulator.engagement import account_counts, post_counts
from emulator.linkedin_common import PLATFORM, Member, Versioned, not_found, rest_error
from emulator.platform import PlatformError
from emulator.state import Post, state_of

METRIC_TYPE_KEY = "com.linkedin.adsexternalapi.memberanalytics.v1.CreatorPostAnalyticsMetricTypeV1"
QUERY_TYPES = {
    "IMPRESSION": "views",
    "MEMBERS_REACHED": "reach",
    "RESHARE": "shares",
    "REACTION": "likes",
    "COMMENT": "comments",
    "POST_SAVE": "saves",
}

router = APIRouter()


def bad_parameter(message: str) -> PlatformError:
    return rest_error(400, "ILLEGAL_ARGUMENT", message)


def _entity_urn(entity: str) -> str:
    """``(share:urn:li:share:1)`` or ``(ugcPost:urn:li:ugcPost:1)``, Rest.li 2.0 syntax."""
    inner = entity.strip()
    if not (inner.startswith("(") and inner.endswith(")")) or ":" not in inner:
        raise bad_parameter(f"Invalid entity {entity!r}")
    kind, urn = inner[1:-1].split(":", 1)
    if kind not in ("share", "ugcPost"):
        raise bad_parameter(f"Unsupported entity type {kind!r}")
    return urn


@router.get("/rest/memberCreatorPostAnalytics", dependencies=[Versioned])
async def member_post_analytics(
    request: Request,
    account: Member,
    q: str,
    queryType: str,
    entity: str | None = None,
    aggregation: str = "TOTAL",
) -> dict[str, Any]:
    state = state_of(request)
    if q != "entity" or entity is None:
        raise bad_parameter("Only the entity finder is available here")
    if queryType not in QUERY_TYPES:
        raise bad_parameter(f"Invalid queryType {queryType!r}")
    if aggregation != "TOTAL":
        raise bad_parameter("Only TOTAL aggregation is emulated")
    post = state.post(PLATFORM, _entity_urn(entity))
    if post is None or post.deleted or post.account_id != account.id:
        raise not_found(f"Post {entity}")
    count = post_counts(post, state.now())[QUERY_TYPES[queryType]]
    if queryType == "COMMENT":
        count += _live_comments(state.posts.values(), post)
    return {"elements": [{"count": count, "metricType": {METRIC_TYPE_KEY: queryType}}]}


def _live_comments(posts: Any, post: Post) -> int:
    return sum(
        1 for p in posts if p.platform == PLATFORM and p.in_reply_to_id == post.id and not p.deleted
    )


@router.get("/rest/memberFollowersCount", dependencies=[Versioned])
async def member_followers_count(request: Request, account: Member, q: str) -> dict[str, Any]:
    if q != "me":
        raise bad_parameter("Only the me finder is available")
    audience = account_counts(account, state_of(request).now())
    return {"elements": [{"memberFollowersCount": audience.followers}]}
