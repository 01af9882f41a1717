"""Validating a post without creating it (`/v1/posts/validate`) and a stored one (its
`/validation`): the platform rules of herald.posts.platform_checks, with no side effects."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Post
from herald.errors import ErrorCode, HeraldError
from herald.posts.checks import check_media, expand_groups
from herald.posts.platform_checks import PlatformRules, request_drafts, stored_drafts
from herald.principal import Principal
from herald.repositories.accounts import get_accounts
from herald.schemas.posts import PostCreate
from herald.schemas.validation import ValidationOut


async def validate_request(
    session: AsyncSession, principal: Principal, rules: PlatformRules, body: PostCreate
) -> ValidationOut:
    """Validates a create body as it would publish; unknown accounts and media that are not
    the workspace's or not ready are a 400, as on create."""
    problems = await check_media(session, principal, body)
    if problems:
        raise HeraldError(ErrorCode.VALIDATION_ERROR, problems[0].message, problems)
    body = body.model_copy(
        update={"targets": await expand_groups(session, principal, body.targets)}
    )
    accounts = await get_accounts(
        session, principal.workspace_id, [t.account for t in body.targets]
    )
    for index, target in enumerate(body.targets):
        if target.account not in accounts:
            raise HeraldError.invalid(
                f"targets.{index}.account_id", "no such account in this workspace"
            )
    platforms = {a.id: a.platform for a in accounts.values()}
    drafts = await request_drafts(session, principal.workspace_id, body, platforms)
    return await rules.check(drafts, accounts)


async def validate_stored(session: AsyncSession, rules: PlatformRules, post: Post) -> ValidationOut:
    accounts = await get_accounts(session, post.workspace_id, [t.account_id for t in post.targets])
    return await rules.check(await stored_drafts(session, post), accounts)
