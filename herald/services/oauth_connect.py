"""Connecting OAuth accounts: the authorization URL with a single-use state and a PKCE
verifier, then the callback that trades the code for tokens and stores the account.

The state travels through the user's browser, so only its digest is stored; the verifier never
leaves Herald. A state is spent by the first callback that names it, whatever the outcome, so a
replayed or leaked callback URL cannot connect anything."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from herald.adapters import adapter_for
from herald.crypto import CredentialCipher
from herald.db.models import OAuthState, SocialAccount
from herald.db.types import utcnow
from herald.errors import HeraldError
from herald.principal import Actor, ActorType, Principal, system_actor
from herald.repositories.brands import get_brand
from herald.services import audit
from herald.services.events import account_event
from herald.services.plan_limits import PlanDefaults, PlanLimit, refuse_beyond
from herald.status import AccountStatus
from platforms.base import (
    AccountContext,
    AuthExpired,
    OAuthGrant,
    OAuthStart,
    PlatformAdapter,
    PlatformError,
    Rejected,
)
from platforms.registry import AdapterRegistry

STATE_LIFETIME = timedelta(minutes=15)
CALLBACK_PATH = "/v1/accounts/callback/{platform}"


class ConnectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand_id: uuid.UUID | None = Field(
        default=None, description="Required for a new connection; reconnect keeps the brand."
    )
    redirect_uri: str | None = Field(
        default=None,
        max_length=2000,
        description="Where the platform sends the user back, with code and state (it must be "
        "registered with the platform app). Default: Herald's own callback URL. A page of "
        "yours there must pass code and state on to GET /v1/accounts/callback/{platform}.",
    )


@dataclass(frozen=True)
class ConnectStart:
    authorization_url: str
    state: str


def state_digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def oauth_adapter(adapters: AdapterRegistry, platform: str) -> PlatformAdapter:
    adapter = adapter_for(adapters, platform)
    if not adapter.uses_oauth:
        raise HeraldError.invalid(
            "platform", f"{platform} accounts connect with credentials: POST /v1/accounts"
        )
    return adapter


async def start_connect(
    session: AsyncSession,
    principal: Principal,
    adapters: AdapterRegistry,
    cipher: CredentialCipher,
    api_url: str,
    platform: str,
    body: ConnectRequest,
    account: SocialAccount | None = None,
) -> ConnectStart:
    adapter = oauth_adapter(adapters, platform)
    brand_id = account.brand_id if account is not None else body.brand_id
    if brand_id is None:
        raise HeraldError.invalid("brand_id", "brand_id is required")
    if account is None and await get_brand(session, principal.workspace_id, brand_id) is None:
        raise HeraldError.invalid("brand_id", "no such brand in this workspace")
    redirect_uri = body.redirect_uri or api_url.rstrip("/") + CALLBACK_PATH.format(
        platform=platform
    )
    if not redirect_uri.startswith(("https://", "http://")):
        raise HeraldError.invalid("redirect_uri", "redirect_uri must be an http(s) URL")
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters: within RFC 7636's 43-128
    try:
        url = adapter.authorization_url(
            OAuthStart(
                redirect_uri=redirect_uri, state=state, code_challenge=pkce_challenge(verifier)
            )
        )
    except Rejected as err:  # no OAuth app configured for the platform
        raise HeraldError.invalid("platform", err.message) from err
    now = utcnow()
    session.add(
        OAuthState(
            state_digest=state_digest(state),
            workspace_id=principal.workspace_id,
            brand_id=brand_id,
            platform=platform,
            redirect_uri=redirect_uri,
            verifier_encrypted=cipher.encrypt({"code_verifier": verifier}),
            account_id=account.id if account is not None else None,
            started_by_type=principal.actor_type.value,
            started_by_id=principal.actor_id,
            created_at=now,
            expires_at=now + STATE_LIFETIME,
        )
    )
    return ConnectStart(authorization_url=url, state=state)


async def spend_state(session: AsyncSession, platform: str, state: str) -> OAuthState:
    """Marks the state used, atomically: of two concurrent callbacks only one gets it."""
    now = utcnow()
    spent = await session.execute(
        update(OAuthState)
        .where(
            OAuthState.state_digest == state_digest(state),
            OAuthState.platform == platform,
            OAuthState.used_at.is_(None),
            OAuthState.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise HeraldError.invalid("state", "unknown, expired or already used state")
    found = await session.scalar(
        select(OAuthState).where(OAuthState.state_digest == state_digest(state))
    )
    assert found is not None
    return found


async def finish_connect(
    session: AsyncSession,
    adapters: AdapterRegistry,
    cipher: CredentialCipher,
    platform: str,
    code: str,
    pending: OAuthState,
    plan: PlanDefaults,
) -> SocialAccount:
    """Trades the code for tokens, asks the platform who they belong to, stores the account."""
    adapter = oauth_adapter(adapters, platform)
    verifier = str(cipher.decrypt(pending.verifier_encrypted)["code_verifier"])
    try:
        grant = await adapter.exchange_code(code, verifier, pending.redirect_uri)
        identity = await adapter.verify(AccountContext("", "", None, grant.credentials))
    except (AuthExpired, Rejected) as err:
        raise HeraldError.invalid(
            "code", f"{platform} refused the authorization: {err.message}"
        ) from err
    except PlatformError as err:
        raise HeraldError.platform_unreachable(platform, err.message) from err
    existing = await session.scalar(
        select(SocialAccount).where(
            SocialAccount.workspace_id == pending.workspace_id,
            SocialAccount.platform == platform,
            SocialAccount.platform_account_id == identity.platform_account_id,
            SocialAccount.status != AccountStatus.REVOKED,
        )
    )
    if pending.account_id is not None:
        account = await session.get(SocialAccount, pending.account_id)
        assert account is not None
        if account.platform_account_id not in (None, identity.platform_account_id):
            raise HeraldError.invalid(
                "code",
                f"this authorization is for @{identity.username}, not @{account.username}",
            )
    elif existing is not None:
        account = existing  # connecting an account again renews it
    else:
        await refuse_beyond(session, plan, pending.workspace_id, PlanLimit.ACCOUNTS, utcnow())
        account = SocialAccount(
            workspace_id=pending.workspace_id,
            brand_id=pending.brand_id,
            platform=platform,
            settings={},
        )
        session.add(account)
    apply_grant(cipher, account, grant)
    account.username = identity.username
    account.display_name = identity.display_name
    account.avatar_url = identity.avatar_url
    account.platform_account_id = identity.platform_account_id
    await session.flush()
    account_event(session, account, "account.connected")
    started_by = (
        Actor(ActorType(pending.started_by_type), pending.started_by_id)
        if pending.started_by_type and pending.started_by_id
        else system_actor("oauth-callback")
    )
    audit.record_as(
        session,
        account.workspace_id,
        started_by,
        "account.reconnected" if pending.account_id is not None else "account.connected",
        "account",
        account.id,
        {"platform": platform, "username": account.username, "brand_id": account.brand_id},
    )
    return account


def apply_grant(cipher: CredentialCipher, account: SocialAccount, grant: OAuthGrant) -> None:
    """New tokens make the account usable again, whatever it was before."""
    previous = (
        cipher.decrypt(account.credentials_encrypted) if account.credentials_encrypted else {}
    )
    # Platforms that do not rotate refresh tokens leave them out of a refresh answer.
    account.credentials_encrypted = cipher.encrypt({**previous, **grant.credentials})
    account.token_expires_at = grant.expires_at
    account.status = AccountStatus.ACTIVE
