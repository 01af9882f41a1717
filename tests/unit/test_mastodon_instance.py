"""Where each kind of Mastodon-compatible server states its limits, and what Herald does when a
server states none or cannot be asked."""

from __future__ import annotations

import httpx

from platforms.base import DOCUMENTED_LIMITS, ServerLimits, request_from
from platforms.mastodon import MastodonAdapter
from platforms.mastodon_instance import InstanceLimits, limits_from_instance

MASTODON_4 = {
    "domain": "example.social",
    "configuration": {
        "statuses": {
            "max_characters": 1000,
            "max_media_attachments": 6,
            "characters_reserved_per_url": 30,
        },
        "media_attachments": {
            "supported_mime_types": ["image/png", "video/mp4"],
            "image_size_limit": 10_000_000,
            "video_size_limit": 40_000_000,
        },
    },
}
# Mastodon 3.x and GoToSocial: the same keys in the v1 document.
MASTODON_3_V1 = {"uri": "old.social", "configuration": {"statuses": {"max_characters": 700}}}
# Pleroma and Akkoma: top-level keys in the v1 document.
PLEROMA_V1 = {"uri": "pleroma.example", "max_toot_chars": 5000, "upload_limit": 16_000_000}


def test_each_server_kinds_document_is_read() -> None:
    assert limits_from_instance(MASTODON_4) == ServerLimits(
        max_characters=1000,
        max_media=6,
        characters_per_url=30,
        media_types=frozenset({"image/png", "video/mp4"}),
        image_size_limit=10_000_000,
        video_size_limit=40_000_000,
    )
    assert limits_from_instance(MASTODON_3_V1) == ServerLimits(max_characters=700)
    assert limits_from_instance(PLEROMA_V1) == ServerLimits(
        max_characters=5000, image_size_limit=16_000_000, video_size_limit=16_000_000
    )
    odd = {"configuration": {"statuses": {"max_characters": "lots", "max_media_attachments": 0}}}
    assert limits_from_instance(odd) == DOCUMENTED_LIMITS


def _server(answers: dict[str, httpx.Response], asked: list[str]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return answers.get(request.url.path, httpx.Response(404, json={"error": "Not found"}))

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


async def test_v1_is_asked_when_v2_is_missing_and_answers_are_kept() -> None:
    asked: list[str] = []
    v1 = {"/api/v1/instance": httpx.Response(200, json=PLEROMA_V1)}
    async with _server(v1, asked) as http:
        instances = InstanceLimits(http)
        first = await instances.of("https://pleroma.example/")
        again = await instances.of("https://pleroma.example")
    assert first.max_characters == again.max_characters == 5000
    assert asked == ["/api/v2/instance", "/api/v1/instance"]  # once: the answer is kept


async def test_a_server_that_states_nothing_keeps_mastodons_defaults() -> None:
    asked: list[str] = []
    async with _server({}, asked) as http:
        assert await InstanceLimits(http).of("https://quiet.example") == DOCUMENTED_LIMITS


async def test_validation_counts_by_the_instances_numbers() -> None:
    async with httpx.AsyncClient() as http:
        adapter = MastodonAdapter(http)
    limits = limits_from_instance(MASTODON_4)
    # A URL counts as the instance reserves (30 here), the content warning counts too.
    text = "x" * 960 + " https://example.com/a/very/long/path/indeed"
    assert adapter.validate(request_from(text, "k", [], {}), limits) == []
    [long] = adapter.validate(request_from(text, "k", [], {"spoiler_text": "w" * 20}), limits)
    assert long.message == "1011 characters with the content warning; this instance allows 1000"
    assert [p.code for p in adapter.validate(request_from(text, "k", [], {}))] == ["text_too_long"]
