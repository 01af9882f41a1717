"""Each target of a post checked by its platform's rules, under the limits the account's server
states: the one check behind `/v1/posts/validate`, a post's `/validation`, and every create,
edit and schedule of a post that is not a draft (those refuse a post that would fail)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from herald.crypto import CredentialCipher
from herald.db.models import Post, SocialAccount
from herald.errors import ErrorCode, ErrorDetail, HeraldError
from herald.repositories.media import get_media_many
from herald.schemas.posts import PostCreate
from herald.schemas.validation import Problem, TargetValidation, ValidationOut
from platforms.base import (
    COMMON_OPTIONS,
    DOCUMENTED_LIMITS,
    MediaItem,
    PlatformAdapter,
    ValidationProblem,
    request_from,
)
from platforms.content import UnreadContent
from platforms.registry import AdapterRegistry, UnknownPlatform


@dataclass(frozen=True)
class MediaFacts:
    """What validation needs of an attachment: its type, size and per-platform verdicts."""

    media_id: str
    mime_type: str
    size: int | None
    suitability: dict[str, Any]


@dataclass(frozen=True)
class TargetDraft:
    """What one target would publish: its own content or the post's."""

    index: int
    account_id: uuid.UUID
    platform: str
    text: str
    own_content: bool
    options: dict[str, Any] = field(default_factory=dict)
    media: list[MediaFacts] = field(default_factory=list)
    own_media: bool = False


async def media_facts(
    session: AsyncSession, workspace_id: uuid.UUID, ids: list[str]
) -> dict[str, MediaFacts]:
    if not ids:
        return {}
    found = await get_media_many(session, workspace_id, [uuid.UUID(i) for i in set(ids)])
    return {
        str(m.id): MediaFacts(str(m.id), m.mime_type or m.declared_mime_type, m.size, m.suitability)
        for m in found.values()
    }


async def request_drafts(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    body: PostCreate,
    platforms: Mapping[uuid.UUID, str],
) -> list[TargetDraft]:
    """The targets of a request whose groups are expanded and whose accounts are known
    (`platforms`: each account's platform)."""
    media_ids = [str(m) for m in body.media_ids] + [
        str(m) for t in body.targets for m in (t.media_ids or [])
    ]
    facts = await media_facts(session, workspace_id, media_ids)
    drafts = []
    for index, target in enumerate(body.targets):
        own = target.media_ids
        chosen = [str(m) for m in (own if own is not None else body.media_ids)]
        drafts.append(
            TargetDraft(
                index=index,
                account_id=target.account,
                platform=platforms[target.account],
                text=target.content if target.content is not None else body.content,
                own_content=target.content is not None,
                options=target.options,
                media=[facts[m] for m in chosen if m in facts],
                own_media=own is not None,
            )
        )
    return drafts


async def stored_drafts(session: AsyncSession, post: Post) -> list[TargetDraft]:
    ids = list(post.media_ids) + [m for t in post.targets for m in (t.media_ids or [])]
    facts = await media_facts(session, post.workspace_id, ids)
    return [
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


class PlatformRules:
    def __init__(self, adapters: AdapterRegistry, cipher: CredentialCipher) -> None:
        self._adapters = adapters
        self._cipher = cipher

    async def check(
        self, drafts: list[TargetDraft], accounts: Mapping[uuid.UUID, SocialAccount]
    ) -> ValidationOut:
        results = []
        for draft in drafts:
            problems = await self._problems(draft, accounts.get(draft.account_id))
            results.append(
                TargetValidation(
                    account_id=draft.account_id,
                    platform=draft.platform,
                    valid=not problems,
                    problems=problems,
                )
            )
        return ValidationOut(valid=all(r.valid for r in results), targets=results)

    async def refuse_invalid(
        self, drafts: list[TargetDraft], accounts: Mapping[uuid.UUID, SocialAccount]
    ) -> None:
        """A 400 naming each problem's target (`targets.1.content`) and platform, as a create
        that would only fail at publish time must answer."""
        out = await self.check(drafts, accounts)
        details = [
            ErrorDetail(
                _target_path(target_index, problem.path), f"{t.platform}: {problem.message}"
            )
            for target_index, t in zip((d.index for d in drafts), out.targets, strict=True)
            for problem in t.problems
        ]
        if details:
            raise HeraldError(ErrorCode.VALIDATION_ERROR, details[0].message, details)

    async def _problems(self, draft: TargetDraft, account: SocialAccount | None) -> list[Problem]:
        try:
            adapter = self._adapters.get(draft.platform)
        except UnknownPlatform:
            return [
                Problem(
                    code="unsupported_platform",
                    message=f"publishing to {draft.platform} is not available yet",
                    path=f"targets.{draft.index}.account_id",
                )
            ]
        limits = (
            await adapter.server_limits(self._cipher.context_of(account))
            if account is not None
            else DOCUMENTED_LIMITS
        )
        request = request_from(
            draft.text,
            "",
            [
                MediaItem(m.media_id, m.mime_type, "", UnreadContent(m.size or 0))
                for m in draft.media
            ],
            dict(draft.options),
        )
        found = adapter.validate(request, limits)
        found += _unknown_options(adapter, draft.options, found)
        return [
            Problem(code=p.code, message=p.message, path=_request_path(draft, p.path))
            for p in found
        ] + _media_problems(draft)


def _unknown_options(
    adapter: PlatformAdapter, options: Mapping[str, Any], found: list[ValidationProblem]
) -> list[ValidationProblem]:
    """An option the platform does not read is refused, not dropped (a typo would otherwise
    publish without what was asked); one the adapter already explained is not named twice."""
    named = {p.path.split(".")[1] for p in found if p.path.startswith("options.")}
    known = adapter.option_names | COMMON_OPTIONS
    takes = ", ".join(sorted(known))
    return [
        ValidationProblem(
            "unknown_option",
            f"{adapter.platform} has no option {key!r} (it takes: {takes})",
            f"options.{key}",
        )
        for key in options
        if key not in known and key not in named
    ]


def _request_path(draft: TargetDraft, path: str) -> str:
    """Where in the request a problem lies: the target's override, or the post's field."""
    own = {"content": draft.own_content, "media_ids": draft.own_media}
    field_name = path.split(".", 1)[0]
    if field_name in own and not own[field_name]:
        return path
    return f"targets.{draft.index}.{path}"


def _target_path(index: int, path: str) -> str:
    return path if path.startswith("targets.") else f"targets.{index}.{path}"


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
