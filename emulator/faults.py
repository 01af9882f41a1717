"""Fault injection: a registry of armed faults and the middleware that fires them.

A fault matches requests by platform, an optional path substring (of the path after the
platform prefix) and an optional method. When it fires it first sleeps ``delay_s`` and then,
if ``status`` is set, answers that status with the platform's own error body.

``phase="before"`` fires before the platform sees the request, like a proxy or overloaded
front end refusing it. ``phase="after"`` lets the platform fully process the request (the
status is created and stored) and only then replaces or delays the answer: "the platform did
it but the client never learned", which is what at-most-once publishing must survive.

``lands_after_s`` (with ``phase="before"`` and a ``status``) answers the status at once and
carries the request out that many seconds later, unseen: a gateway that gave up while the
platform went on, so the work lands after the client has moved on (and after any look it takes).
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator.asgi import read_body, replaying, run_captured, send_json
from emulator.platform import KNOWN_PLATFORMS, PlatformEmulator, split_platform_path

if TYPE_CHECKING:
    from emulator.state import EmulatorState

Phase = Literal["before", "after"]
# ASGI scope key under which fired fault ids travel out to the request log.
FIRED_FAULTS_KEY = "emulator.fired_faults"


class FaultSpec(BaseModel):
    """Body of POST /_emulator/faults."""

    platform: str
    status: int | None = Field(default=None, ge=100, le=599)
    delay_s: float = Field(default=0.0, ge=0.0, le=600.0)
    retry_after: int | None = Field(default=None, ge=0)
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    count: int | None = Field(default=None, ge=1)
    path: str | None = None
    method: str | None = None
    phase: Phase = "before"
    lands_after_s: float | None = Field(default=None, ge=0.0, le=600.0)
    # Let this many matching requests through before the fault may fire (the second part of a
    # thread, not the first).
    skip: int = Field(default=0, ge=0)
    # Not in the original contract: overrides the platform's default error message.
    message: str | None = None

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str) -> str:
        if value not in KNOWN_PLATFORMS:
            raise ValueError(f"unknown platform {value!r}; known: {', '.join(KNOWN_PLATFORMS)}")
        return value

    @model_validator(mode="after")
    def _lands_only_after_an_answer(self) -> FaultSpec:
        if self.lands_after_s is not None and (self.phase != "before" or self.status is None):
            raise ValueError("lands_after_s needs phase 'before' and a status to answer first")
        return self

    @field_validator("method")
    @classmethod
    def _upper_method(cls, value: str | None) -> str | None:
        return value.upper() if value else None


@dataclass
class Fault:
    id: str
    spec: FaultSpec
    remaining: int | None
    fired: int = 0
    skipped: int = 0

    def matches(self, platform: str, path: str, method: str, phase: Phase) -> bool:
        spec = self.spec
        return (
            spec.platform == platform
            and spec.phase == phase
            and (spec.method is None or spec.method == method.upper())
            and (spec.path is None or spec.path in path)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **self.spec.model_dump(),
            "remaining": self.remaining,
            "fired": self.fired,
        }


class FaultRegistry:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        # A private generator: seeding it makes probabilistic faults reproducible without
        # touching the global random state of whoever runs the emulator in-process.
        self._random = random.Random()

    def add(self, spec: FaultSpec) -> Fault:
        fault = Fault(id=f"fault-{next(self._ids)}", spec=spec, remaining=spec.count)
        self._faults.append(fault)
        return fault

    def seed(self, seed: int) -> None:
        self._random.seed(seed)

    def active(self) -> list[Fault]:
        return list(self._faults)

    def remove(self, fault_id: str) -> bool:
        before = len(self._faults)
        self._faults = [f for f in self._faults if f.id != fault_id]
        return len(self._faults) != before

    def clear(self) -> None:
        self._faults.clear()

    def take(self, platform: str, path: str, method: str, phase: Phase) -> Fault | None:
        """The first armed fault that matches and wins its dice roll; spends one of its count."""
        for fault in list(self._faults):
            if not fault.matches(platform, path, method, phase):
                continue
            if fault.skipped < fault.spec.skip:
                fault.skipped += 1
                continue
            # Only roll for partial probabilities so a certain fault never consumes randomness
            # (keeps seeded sequences stable when certain faults are mixed in).
            probability = fault.spec.probability
            if probability < 1.0 and self._random.random() >= probability:
                continue
            fault.fired += 1
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
            return fault
        return None


class FaultMiddleware:
    """Applies armed faults to platform requests (control and root paths are never faulted)."""

    def __init__(
        self, app: ASGIApp, state: EmulatorState, platforms: Mapping[str, PlatformEmulator]
    ) -> None:
        self.app = app
        self.state = state
        self.platforms = platforms
        # Requests carried out after their answer (lands_after_s); held so they are not collected.
        self._landing: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        split = (
            split_platform_path(scope["path"], self.platforms) if scope["type"] == "http" else None
        )
        if split is None:
            await self.app(scope, receive, send)
            return
        platform, subpath = split
        method = scope["method"]
        faults = self.state.faults

        before = faults.take(platform.name, subpath, method, "before")
        if before is not None:
            _note_fault(scope, before)
            if before.spec.delay_s:
                await asyncio.sleep(before.spec.delay_s)
            if before.spec.status is not None:
                if before.spec.lands_after_s is not None:
                    await self._land_later(scope, receive, before.spec.lands_after_s)
                await self._answer(send, platform, before)
                return

        # Only hold the answer back when an "after" fault could apply; otherwise stream it.
        if not any(f.spec.phase == "after" for f in faults.active()):
            await self.app(scope, receive, send)
            return
        captured = await run_captured(self.app, scope, receive)
        after = faults.take(platform.name, subpath, method, "after")
        if after is not None:
            _note_fault(scope, after)
            if after.spec.delay_s:
                await asyncio.sleep(after.spec.delay_s)
            if after.spec.status is not None:
                await self._answer(send, platform, after)
                return
        await captured.replay(send)

    async def _land_later(self, scope: Scope, receive: Receive, delay_s: float) -> None:
        """Reads the request now and has the platform carry it out after `delay_s`."""
        body = await read_body(receive)

        async def land() -> None:
            await asyncio.sleep(delay_s)
            await run_captured(self.app, dict(scope), replaying(body))

        task = asyncio.create_task(land())
        self._landing.add(task)
        task.add_done_callback(self._landing.discard)

    async def _answer(self, send: Send, platform: PlatformEmulator, fault: Fault) -> None:
        status = fault.spec.status
        assert status is not None
        body = platform.error_body(status, fault.spec.message)
        await send_json(send, status, body, platform.fault_headers(self.state, fault))


def _note_fault(scope: Scope, fault: Fault) -> None:
    """Leaves the fired fault's id in the scope for the request log."""
    scope.setdefault(FIRED_FAULTS_KEY, []).append(fault.id)
