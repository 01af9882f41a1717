"""A webhook receiver: a real HTTP server that keeps every request it gets and answers each
with the next status the test queued (200 once the queue is empty)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.servers import free_port, serve_in_thread


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    # Statuses to answer, in order, per path; then 200.
    answers: dict[str, list[int]] = field(default_factory=dict)
    # How long each answer takes (a slow receiver keeps deliveries in flight), and per path
    # where one path is slower than the rest.
    delay_s: float = 0.0
    path_delays_s: dict[str, float] = field(default_factory=dict)

    def answer(self, path: str, *statuses: int) -> None:
        self.answers.setdefault(path, []).extend(statuses)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def wait_for(
        self, path: str, count: int, timeout_s: float = 30.0, event_type: str | None = None
    ) -> list[Received]:
        """The requests to `path` (of `event_type`), once there are `count` of them."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = [
                r for r in self.at(path) if event_type is None or r.event["type"] == event_type
            ]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{path} got {len(found)} of {count} {event_type or 'requests'} "
                    f"in {timeout_s} s: {[r.event['type'] for r in self.at(path)]}"
                )
            await asyncio.sleep(0.05)

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        delay_s = self.path_delays_s.get(request.url.path, self.delay_s)
        if delay_s:
            await asyncio.sleep(delay_s)
        self.received.append(Received(request.url.path, dict(request.headers), body))
        queued = self.answers.get(request.url.path)
        status = queued.pop(0) if queued else 200
        # A redirect points somewhere the sender must not follow it to.
        headers = {"location": "/redirected"} if 300 <= status < 400 else None
        return Response(f"answered {status}", status_code=status, headers=headers)


@contextlib.contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/{path:path}", receiver._handle, methods=["POST"])])
    port = free_port()
    with serve_in_thread(app, port) as url:
        receiver.url = url
        yield receiver
