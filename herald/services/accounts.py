"""Connecting credential-based accounts (Mastodon token, Bluesky app password), testing them
and disconnecting them. Secrets are encrypted before they are stored and never leave this
module in any answer."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.adapters import adapter_for
from herald.crypto import CredentialCipher
from herald.db.models import SocialAccount
from herald.db.types import utcnow
from herald.errors import ErrorCode, ErrorDetail, HeraldError
from herald.principal import Principal
from herald.repositories.brands import get_brand
from herald.services import audit
from herald.services.events import account_event
from herald.services.plan_limits import PlanDefaults, PlanLimit, refuse_beyond
from herald.status import AccountStatus
from platforms.base import AccountContext, AccountIdentity, AuthExpired, PlatformError, Rejected
from platforms.outbound import AddressNotAllowed, OutboundPolicy, check_url
from platforms.registry import AdapterRegistry


class MastodonCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instance_url: HttpUrl
    access_token: str = Field(min_length=1, max_length=2000)


class BlueskyCredentials(BaseModel):
    """An app password for a handle or DID on a PDS (bsky.social unless told otherwise)."""

    model_config = ConfigDict(extra="forbid")

    identifier: str = Field(min_length=1, max_length=2048)
    app_password: str = Field(min_length=1, max_length=2000)
    service_url: HttpUrl = HttpUrl("https://bsky.social")


CREDENTIALS: dict[str, type[BaseModel]] = {
    "mastodon": MastodonCredentials,
    "bluesky": BlueskyCredentials,
}
# The field naming the server a credential platform's account lives on (checked against SSRF).
BASE_URL_FIELDS = ("instance_url", "service_url")


def _base_url_field(credentials: dict[str, Any]) -> str | None:
    return next((name for name in BASE_URL_FIELDS if name in credentials), None)


class ConnectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand_id: uuid.UUID
    platform: str
    credentials: dict[str, Any]
    settings: dict[str, Any] = Field(default_factory=dict)


def _credentials(platform: str, raw: dict[str, Any]) -> dict[str, Any]:
    model = CREDENTIALS.get(platform)
    if model is None:
        raise HeraldError.invalid(
            "platform", f"{platform} accounts connect through OAuth, or are not supported yet"
        )
    try:
        parsed = model.model_validate(raw)
    except ValidationError as err:
        details = [
            ErrorDetail("credentials." + ".".join(str(p) for p in e["loc"]), str(e["msg"]))
            for e in err.errors()
        ]
        raise HeraldError(ErrorCode.VALIDATION_ERROR, details[0].message, details) from err
    values = parsed.model_dump(mode="json")
    field = _base_url_field(values)
    if field is not None:
        values[field] = str(values[field]).rstrip("/")
    return values


async def verify_with_platform(
    adapters: AdapterRegistry, platform: str, credentials: dict[str, Any], policy: OutboundPolicy
) -> AccountIdentity:
    """Asks the platform who these credentials are; a refusal is the caller's 400."""
    field = _base_url_field(credentials)
    if field is not None:
        try:
            await check_url(str(credentials[field]), policy)
        except AddressNotAllowed as err:
            raise HeraldError.invalid(
                f"credentials.{field}",
                f"{err.message} (HERALD_PLATFORM_ALLOW_HOSTS may name it)",
            ) from err
        except Rejected as err:
            raise HeraldError.invalid(f"credentials.{field}", err.message) from err
    context = AccountContext("", "", None, credentials)
    try:
        return await adapter_for(adapters, platform).verify(context)
    except (AuthExpired, Rejected) as err:
        raise HeraldError.invalid(
            "credentials", f"{platform} refused these credentials: {err.message}"
        ) from err
    except PlatformError as err:
        raise HeraldError.platform_unreachable(platform, err.message) from err


async def connect_account(
    session: AsyncSession,
    principal: Principal,
    adapters: AdapterRegistry,
    cipher: CredentialCipher,
    body: ConnectBody,
    policy: OutboundPolicy,
    plan: PlanDefaults,
) -> SocialAccount:
    credentials = _credentials(body.platform, body.credentials)
    if await get_brand(session, principal.workspace_id, body.brand_id) is None:
        raise HeraldError.invalid("brand_id", "no such brand in this workspace")
    identity = await verify_with_platform(adapters, body.platform, credentials, policy)
    existing = await session.scalar(
        select(SocialAccount).where(
            SocialAccount.workspace_id == principal.workspace_id,
            SocialAccount.platform == body.platform,
            SocialAccount.platform_account_id == identity.platform_account_id,
            SocialAccount.status != AccountStatus.REVOKED,
        )
    )
    if existing is not None:
        raise HeraldError.conflict(
            f"@{identity.username} is already connected as account {existing.id}"
        )
    await refuse_beyond(session, plan, principal.workspace_id, PlanLimit.ACCOUNTS, utcnow())
    account = SocialAccount(
        workspace_id=principal.workspace_id,
        brand_id=body.brand_id,
        platform=body.platform,
        username=identity.username,
        display_name=identity.display_name,
        avatar_url=identity.avatar_url,
        platform_account_id=identity.platform_account_id,
        status=AccountStatus.ACTIVE,
        credentials_encrypted=cipher.encrypt(credentials),
        settings=body.settings,
    )
    session.add(account)
    await session.flush()
    account_event(session, account, "account.connected")
    audit.record(session, principal, "account.connected", "account", account.id, _facts(account))
    return account


def _facts(account: SocialAccount) -> dict[str, object]:
    return {
        "platform": account.platform,
        "username": account.username,
        "brand_id": account.brand_id,
        "status": account.status,
    }


class TokenWorkflows(Protocol):
    async def account_tokens_changed(self, account_id: uuid.UUID) -> None: ...

    async def stop_analytics(self, account_id: uuid.UUID) -> None: ...


async def recheck_account(
    session: AsyncSession,
    principal: Principal,
    adapters: AdapterRegistry,
    cipher: CredentialCipher,
    account: SocialAccount,
    policy: OutboundPolicy,
) -> None:
    """Re-checks the credentials with the platform. Credentials the platform refuses mark the
    account expired, stored even though the request then answers 409."""
    if account.status == AccountStatus.REVOKED:
        raise HeraldError.conflict("the account was disconnected; connect it again")
    credentials = cipher.decrypt(account.credentials_encrypted)
    try:
        await verify_with_platform(adapters, account.platform, credentials, policy)
    except HeraldError as err:
        if err.code is not ErrorCode.VALIDATION_ERROR:
            raise
        account.status = AccountStatus.EXPIRED
        audit.record(session, principal, "account.tested", "account", account.id, _facts(account))
        await session.commit()
        raise HeraldError.conflict(f"the account no longer works: {err.message}") from err
    account.status = AccountStatus.ACTIVE
    audit.record(session, principal, "account.tested", "account", account.id, _facts(account))


async def disconnect_account(
    session: AsyncSession,
    principal: Principal,
    cipher: CredentialCipher,
    account: SocialAccount,
    workflows: TokenWorkflows,
) -> None:
    if account.status == AccountStatus.REVOKED:
        return
    _revoke(session, cipher, account)
    audit.record(session, principal, "account.disconnected", "account", account.id, _facts(account))
    await session.commit()
    # Its token workflow, if any, sees the account revoked and ends; if Temporal is away it
    # finds out at its next wake-up instead, so the disconnect still succeeds.
    with contextlib.suppress(HeraldError):
        await workflows.account_tokens_changed(account.id)
    # Its analytics schedule goes with it; a schedule left behind by an outage pauses itself
    # at its next run (the account is revoked).
    with contextlib.suppress(HeraldError):
        await workflows.stop_analytics(account.id)


def _revoke(session: AsyncSession, cipher: CredentialCipher, account: SocialAccount) -> None:
    """Revoked, with its secrets wiped; the row stays for the posts that name it."""
    account.status = AccountStatus.REVOKED
    account.credentials_encrypted = cipher.encrypt({})
    account_event(session, account, "account.disconnected")
