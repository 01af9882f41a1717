"""Per-platform validation of a post, from each adapter's own rules (no side effects)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Post
from herald.errors import ErrorCode, HeraldError
from herald.posts.checks import check_media, expand_groups
from herald.principal import Principal
from herald.repositories.accounts import get_accounts
from herald.repositories.media import get_media_many
from herald.schemas.posts import PostCreate
from platforms.base import MediaItem, request_from
from platforms.registry import AdapterRegistry, UnknownPlatform


class Problem(BaseModel):
    code: str
    message: str
    path: str


class TargetValidation(BaseModel):
    account_id: uuid.UUID
    platform: str
    valid: bool
    problems: list[Problem]


class ValidationOut(BaseModel):
    valid: bool
    targets: list[TargetValidation]


@dataclass(frozen=True)
class TargetDraft:
    """What one target would publish: its own content or the post's."""

    index: int
    account_id: uuid.UUID
    platform: str
    text: str
    own_content: bool
    options: dict[str, object] = field(default_factory=dict)
    media: list[MediaFacts] = field(default_factory=list)
    own_media: bool = False


@dataclass(frozen=True)
class MediaFacts:
    """What validation needs of an attachment: its type and the per-platform verdicts."""

    media_id: str
    mime_type: str
    suitability: dict[str, Any]


def validate_targets(adapters: AdapterRegistry, drafts: list[TargetDraft]) -> ValidationOut:
    results = []
    for draft in drafts:
        try:
            adapter = adapters.get(draft.platform)
        except UnknownPlatform:
            problems = [
                Problem(
                    code="unsupported_platform",
                    message=f"publishing to {draft.platform} is not available yet",
                    path=f"targets.{draft.index}.account_id",
                )
            ]
        else:
            request = request_from(
                draft.text,
                "",
                [MediaItem(m.media_id, m.mime_type, "", b"") for m in draft.media],
                dict(draft.options),
            )
            problems = [
                Problem(code=p.code, message=p.message, path=_path(draft, p.path))
                for p in adapter.validate(request)
            ]
            problems += _media_problems(draft)
        results.append(
            TargetValidation(
                account_id=draft.account_id,
                platform=draft.platform,
                valid=not problems,
                problems=problems,
            )
        )
    return ValidationOut(valid=all(r.valid for r in results), targets=results)


def _path(draft: TargetDraft, path: str) -> str:
    """Where in the request a problem lies: the target's override, or the post's field."""
    own = {"content": draft.own_content, "media_ids": draft.own_media}
    field_name = path.split(".", 1)[0]
    if field_name in own and not own[field_name]:
        return path
    return f"targets.{draft.index}.{path}"


def _media_problems(draft: TargetDraft) -> list[Problem]:
    base = f"targets.{draft.index}.media_ids" if draft.own_media else "media_ids"
    problems = []
    for position, media in enumerate(draft.media):
        verdict = media.suitability.get(draft.platform, {})
        for reason in verdict.get("problems", []):
            problems.append(
                Problem(
                    code="media_unsuitable",
                    message=f"{draft.platform} cannot take this media: {reason}",
                    path=f"{base}.{position}",
                )
            )
    return problems


async def _media_facts(
    session: AsyncSession, workspace_id: uuid.UUID, ids: list[str]
) -> dict[str, MediaFacts]:
    found = await get_media_many(session, workspace_id, [uuid.UUID(i) for i in set(ids)])
    return {
        str(m.id): MediaFacts(str(m.id), m.mime_type or m.declared_mime_type, m.suitability)
        for m in found.values()
    }


async def validate_request(
    session: AsyncSession, principal: Principal, adapters: AdapterRegistry, body: PostCreate
) -> ValidationOut:
    """Validates a create body as it would publish; unknown accounts and media that are not
    the workspace's or not ready are a 400, as on create."""
    problems = await check_media(session, principal, body)
    if problems:
        raise HeraldError(ErrorCode.VALIDATION_ERROR, problems[0].message, problems)
    targets = await expand_groups(session, principal, body.targets)
    accounts = await get_accounts(session, principal.workspace_id, [t.account for t in targets])
    media_ids = [str(m) for m in body.media_ids] + [
        str(m) for t in targets for m in (t.media_ids or [])
    ]
    facts = await _media_facts(session, principal.workspace_id, media_ids)
    drafts = []
    for index, target in enumerate(targets):
        account = accounts.get(target.account)
        if account is None:
            raise HeraldError.invalid(
                f"targets.{index}.account_id", "no such account in this workspace"
            )
        own = target.media_ids if target.media_ids is not None else None
        chosen = [str(m) for m in (own if own is not None else body.media_ids)]
        drafts.append(
            TargetDraft(
                index=index,
                account_id=account.id,
                platform=account.platform,
                text=target.content if target.content is not None else body.content,
                own_content=target.content is not None,
                options=target.options,
                media=[facts[m] for m in chosen if m in facts],
                own_media=own is not None,
            )
        )
    return validate_targets(adapters, drafts)


async def validate_stored(
    session: AsyncSession, adapters: AdapterRegistry, post: Post
) -> ValidationOut:
    ids = list(post.media_ids) + [m for t in post.targets for m in (t.media_ids or [])]
    facts = await _media_facts(session, post.workspace_id, ids)
    drafts = [
        TargetDraft(
            index=t.position,
            account_id=t.account_id,
            platform=t.platform,
            text=t.content if t.content is not None else post.content,
            own_content=t.content is not None,
            options=t.options,
            media=[
                facts[m]
                for m in (t.media_ids if t.media_ids is not None else post.media_ids)
                if m in facts
            ],
            own_media=t.media_ids is not None,
        )
        for t in post.targets
    ]
    return validate_targets(adapters, drafts)
