"""The /_emulator control API: what tests use to set up, inspect and break the platforms.

Platform-neutral on purpose: the same shapes for every platform, so a test can assert what
"the platform" holds without knowing its API.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field, field_validator

from emulator.faults import FaultSpec
from emulator.oauth import revoke_all
from emulator.platform import KNOWN_PLATFORMS, PlatformEmulator
from emulator.state import AccountConflict, EmulatorState, MediaItem, Post, state_of
from emulator.timefmt import rfc3339

router = APIRouter()

_USERNAME = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z")


def _known(platform: str) -> str:
    if platform not in KNOWN_PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; known: {', '.join(KNOWN_PLATFORMS)}")
    return platform


class AccountBody(BaseModel):
    platform: str
    username: str
    token: str | None = None
    display_name: str | None = None  # not in the original contract; defaults to username

    @field_validator("platform")
    @classmethod
    def _platform(cls, value: str) -> str:
        return _known(value)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not _USERNAME.match(value):
            raise ValueError("username: letters, digits, _ . - (at most 64)")
        return value


class SeedBody(BaseModel):
    seed: int


class ClockBody(BaseModel):
    seconds: float = Field(ge=0)


class SwitchesBody(BaseModel):
    """Body of PATCH /_emulator/switches: only the switches named change."""

    bluesky_appview: bool | None = None


def _platforms(request: Request) -> dict[str, PlatformEmulator]:
    platforms: dict[str, PlatformEmulator] = request.app.state.platforms
    return platforms


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _media_json(request: Request, state: EmulatorState, media: MediaItem) -> dict[str, Any]:
    platform = _platforms(request).get(media.platform)
    ready = media.processed(state.now()) and not media.discarded
    return {
        "id": media.id,
        "type": media.type,
        "mime_type": media.mime_type,
        "url": platform.media_url(_base(request), media) if platform and ready else None,
        "description": media.description,
        "sha256": media.sha256,
        "size": media.size,
    }


def _post_json(request: Request, state: EmulatorState, post: Post) -> dict[str, Any]:
    account = state.accounts.get(post.account_id)
    return {
        "platform": post.platform,
        "account": account.username if account else None,
        "id": post.id,
        "text": post.text,
        "media": [
            _media_json(request, state, state.media[m]) for m in post.media_ids if m in state.media
        ],
        "created_at": rfc3339(post.created_at),
        "in_reply_to_id": post.in_reply_to_id,
        "idempotency_key": post.idempotency_key,
        "deleted": post.deleted,
    }


@router.get("/posts")
async def list_posts(
    request: Request,
    platform: str | None = None,
    account: str | None = None,
    include_deleted: bool = True,
) -> dict[str, Any]:
    state = state_of(request)
    posts = []
    for post in state.posts.values():
        if platform is not None and post.platform != platform:
            continue
        if not include_deleted and post.deleted:
            continue
        owner = state.accounts.get(post.account_id)
        if account is not None and (owner is None or owner.username.lower() != account.lower()):
            continue
        posts.append(_post_json(request, state, post))
    return {"data": posts}


@router.post("/reset")
async def reset(request: Request) -> dict[str, Any]:
    state_of(request).reset()
    return {"ok": True}


@router.post("/accounts")
async def create_account(request: Request, body: AccountBody) -> dict[str, Any]:
    state = state_of(request)
    try:
        account = state.add_account(body.platform, body.username, body.token, body.display_name)
    except AccountConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    return {
        "platform": account.platform,
        "id": account.id,
        "username": account.username,
        "token": account.token,
    }


@router.get("/accounts")
async def list_accounts(request: Request, platform: str | None = None) -> dict[str, Any]:
    state = state_of(request)
    return {
        "data": [
            {
                "platform": a.platform,
                "id": a.id,
                "username": a.username,
                "display_name": a.display_name,
                "token": a.token,
                "sandbox": a.sandbox,
            }
            for a in state.accounts.values()
            if platform is None or a.platform == platform
        ]
    }


@router.post("/accounts/{platform}/{username}/revoke")
async def revoke_grants(request: Request, platform: str, username: str) -> dict[str, Any]:
    """Invalidates every OAuth token issued to the account, as a user revoking the app would;
    its fixed sandbox token keeps working."""
    state = state_of(request)
    account = state.account_by_username(platform, username)
    if account is None:
        raise HTTPException(status_code=404, detail=f"no {platform} account {username!r}")
    revoke_all(state, platform, account.id)
    return {"ok": True}


@router.post("/faults")
async def add_fault(request: Request, spec: FaultSpec) -> dict[str, Any]:
    fault = state_of(request).faults.add(spec)
    return {"id": fault.id}


@router.get("/faults")
async def list_faults(request: Request) -> dict[str, Any]:
    return {"data": [f.to_json() for f in state_of(request).faults.active()]}


@router.delete("/faults")
async def clear_faults(request: Request) -> dict[str, Any]:
    state_of(request).faults.clear()
    return {"ok": True}


@router.delete("/faults/{fault_id}")
async def remove_fault(request: Request, fault_id: str) -> dict[str, Any]:
    if not state_of(request).faults.remove(fault_id):
        raise HTTPException(status_code=404, detail=f"no active fault {fault_id!r}")
    return {"ok": True}


@router.post("/faults/seed")
async def seed_faults(request: Request, body: SeedBody) -> dict[str, Any]:
    state_of(request).faults.seed(body.seed)
    return {"ok": True}


@router.get("/requests")
async def list_requests(
    request: Request,
    platform: str | None = None,
    path: str | None = None,  # substring of the request path
    method: str | None = None,
) -> dict[str, Any]:
    records = state_of(request).requests.records()
    return {
        "data": [
            r.to_json()
            for r in records
            if (platform is None or r.platform == platform)
            and (path is None or path in r.path)
            and (method is None or r.method == method.upper())
        ]
    }


@router.delete("/requests")
async def clear_requests(request: Request) -> dict[str, Any]:
    state_of(request).requests.clear()
    return {"ok": True}


@router.get("/switches")
async def get_switches(request: Request) -> dict[str, Any]:
    return asdict(state_of(request).switches)


@router.patch("/switches")
async def set_switches(request: Request, body: SwitchesBody) -> dict[str, Any]:
    """Turns parts of the world on or off, e.g. ``{"bluesky_appview": false}``: the Bluesky
    side becomes a PDS without an AppView. A reset restores the settings' defaults."""
    switches = state_of(request).switches
    for name, value in body.model_dump(exclude_none=True).items():
        setattr(switches, name, value)
    return asdict(switches)


@router.post("/clock")
async def advance_clock(request: Request, body: ClockBody) -> dict[str, Any]:
    """Moves the emulator's clock forward (idempotency TTL, rate windows, media processing)."""
    state = state_of(request)
    state.clock.advance(body.seconds)
    return {"now": rfc3339(state.now())}


@router.delete("/clock")
async def restore_clock(request: Request) -> dict[str, Any]:
    """Back to the real time, so a test that jumped ahead leaves a shared emulator as it was."""
    state = state_of(request)
    state.clock.restore()
    return {"now": rfc3339(state.now())}
