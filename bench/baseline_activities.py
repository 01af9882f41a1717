"""Activities of the baselines: the platform work alone, without Herald's database or API."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
from temporalio import activity


@dataclass
class Destination:
    instance_url: str
    token: str


@dataclass
class PostStatusInput:
    instance_url: str  # e.g. http://127.0.0.1:8300/mastodon
    token: str
    text: str
    idempotency_key: str


class BaselineActivities:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    @activity.defn(name="bench_post_status")
    async def post_status(self, input: PostStatusInput) -> str:
        """One POST /api/v1/statuses, as Herald's Mastodon adapter makes it."""
        response = await self._http.post(
            f"{input.instance_url}/api/v1/statuses",
            json={"status": input.text, "visibility": "public"},
            headers={
                "Authorization": f"Bearer {input.token}",
                "Idempotency-Key": input.idempotency_key,
            },
        )
        response.raise_for_status()
        return str(response.json()["id"])

    @activity.defn(name="bench_prepare")
    async def prepare(self, destinations: list[Destination]) -> list[Destination]:
        """The batch step of the fan-out, without a database: hands the destinations back."""
        return destinations

    @activity.defn(name="bench_record_time")
    async def record_time(self) -> float:
        return time.time()
