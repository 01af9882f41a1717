"""Graph API insights (Facebook Page posts, Instagram media): ``GET /{object-id}/insights
?metric=a,b`` answers ``{"data": [{name, period, values: [{value}], title, description, id}]}``
with today's metric names; a metric the platform has retired or never had is Graph's
``(#100) ... must be a valid insights metric`` error. Values follow emulator/engagement.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from emulator.graph_common import graph_error
from emulator.platform import PlatformError

# A metric's value from the post's grown counters and its real comment count.
Metric = Callable[[dict[str, int], int], Any]


def _counter(name: str) -> Metric:
    return lambda grown, _comments: grown[name]


FACEBOOK_POST_METRICS: Mapping[str, Metric] = {
    # "views" replaced "impressions" on 2025-11-15 (post_impressions* are retired).
    "post_media_view": _counter("views"),
    "post_total_media_view_unique": _counter("reach"),
    "post_reactions_by_type_total": lambda grown, _c: {"like": grown["likes"]},
    "post_clicks": _counter("clicks"),
    "post_video_views": _counter("video_views"),
}

INSTAGRAM_MEDIA_METRICS: Mapping[str, Metric] = {
    # "views" replaced impressions, plays and video_views (retired in v22.0, 2025).
    "views": _counter("views"),
    "reach": _counter("reach"),
    "likes": _counter("likes"),
    "comments": lambda grown, comments: grown["comments"] + comments,
    "shares": _counter("shares"),
    "saved": _counter("saves"),
    "total_interactions": lambda grown, comments: (
        grown["likes"] + grown["comments"] + comments + grown["shares"] + grown["saves"]
    ),
}


def requested_metrics(raw: str | None, known: Mapping[str, Metric]) -> list[str]:
    metrics = [m.strip() for m in (raw or "").split(",") if m.strip()]
    if not metrics:
        raise graph_error("(#100) The parameter metric is required", 100, type_="OAuthException")
    for metric in metrics:
        if metric not in known:
            raise unknown_metric(metric)
    return metrics


def unknown_metric(metric: str) -> PlatformError:
    return graph_error(
        f"(#100) metric[0] must be one of the following values: {metric} is not a valid "
        "insights metric",
        100,
        type_="OAuthException",
    )


def insights_body(
    object_id: str,
    metrics: list[str],
    known: Mapping[str, Metric],
    grown: dict[str, int],
    comments: int,
) -> dict[str, Any]:
    return {
        "data": [
            {
                "name": name,
                "period": "lifetime",
                "values": [{"value": known[name](grown, comments)}],
                "title": name.replace("_", " ").capitalize(),
                "description": f"Lifetime {name.replace('_', ' ')}",
                "id": f"{object_id}/insights/{name}/lifetime",
            }
            for name in metrics
        ]
    }
