"""Idempotent demo data for `herald dev`: a workspace, a brand, an API key, its owner (a user
to log in as) and one sandbox account per platform the emulator speaks, all with stable ids
so restarts change nothing."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

# Dev tooling: the demo accounts are the emulator's sandbox accounts.
from emulator.sandbox import SANDBOX_USERNAME, sandbox_token
from herald.crypto import CredentialCipher, api_key_digest, new_api_key
from herald.db.engine import SessionFactory
from herald.db.models import ApiKey, Brand, Member, SocialAccount, User, Workspace
from herald.passwords import hash_password, verify_password
from herald.repositories.api_keys import find_active_key
from herald.roles import OWNER
from herald.settings import Settings
from herald.status import AccountStatus

DEMO_NAMESPACE = uuid.UUID("6f1f7a4e-4c1b-4d55-9a53-3f0c9a8f2b10")
DEMO_EMAIL = "demo@herald.localhost"


def demo_id(name: str) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, name)


def sandbox_credentials(platform: str, emulator_url: str) -> dict[str, Any] | None:
    """Credentials that point an adapter at the emulator; None if no adapter exists yet."""
    if platform == "mastodon":
        return {
            "instance_url": f"{emulator_url}/mastodon",
            "access_token": sandbox_token(platform),
        }
    if platform == "bluesky":
        return {
            "service_url": f"{emulator_url}/bluesky",
            "identifier": f"{SANDBOX_USERNAME}.bsky.emulator",
            "app_password": sandbox_token(platform),
        }
    if platform == "threads":
        return {"access_token": sandbox_token(platform)}
    if platform == "tiktok":
        return {"access_token": sandbox_token(platform)}
    if platform == "linkedin":
        # The author URN is read from /v2/userinfo when the adapter first needs it.
        return {"access_token": sandbox_token(platform)}
    if platform == "x":
        # The user id is read from /2/users/me when the adapter first needs it.
        return {"access_token": sandbox_token(platform)}
    if platform == "facebook":
        # Without a page_id the adapter acts as the first Page /me/accounts lists.
        return {"access_token": sandbox_token(platform)}
    if platform == "instagram":
        # The user id is read from /me when the adapter first needs it.
        return {"access_token": sandbox_token(platform)}
    return None


@dataclass(frozen=True)
class DemoAccount:
    id: uuid.UUID
    platform: str
    username: str


@dataclass(frozen=True)
class DemoData:
    workspace_id: uuid.UUID
    brand_id: uuid.UUID
    api_key: str
    accounts: list[DemoAccount]
    user_email: str
    user_password: str


async def _ensure_api_key(
    session: AsyncSession, settings: Settings, workspace_id: uuid.UUID
) -> str:
    key_file = settings.data_dir / "demo-api-key"
    if key_file.exists():
        key = key_file.read_text().strip()
        if await find_active_key(session, api_key_digest(key)) is not None:
            return key
    key = new_api_key()
    session.add(
        ApiKey(
            workspace_id=workspace_id,
            name="demo key (herald dev)",
            key_digest=api_key_digest(key),
            key_prefix=key[:10],
        )
    )
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    return key


async def _ensure_owner(
    session: AsyncSession, settings: Settings, workspace_id: uuid.UUID
) -> tuple[str, str]:
    """The demo workspace's owner: (email, password). The password is made once, kept beside
    the demo key (readable by its owner only), and set again if the user's no longer fits."""
    password_file = settings.data_dir / "demo-password"
    password = password_file.read_text().strip() if password_file.exists() else ""
    if not password:
        password = secrets.token_urlsafe(12)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
    user_id = demo_id("user")
    user = await session.get(User, user_id)
    if user is None:
        user = User(
            id=user_id,
            email=DEMO_EMAIL,
            email_key=DEMO_EMAIL,
            name="Demo owner",
            password_hash=await hash_password(password),
        )
        session.add(user)
        await session.flush()
    elif not await verify_password(user.password_hash, password):
        user.password_hash = await hash_password(password)
    if await session.get(Member, (workspace_id, user_id)) is None:
        session.add(Member(workspace_id=workspace_id, user_id=user_id, role_id=OWNER.id))
    return DEMO_EMAIL, password


async def seed_demo(
    sessions: SessionFactory, settings: Settings, cipher: CredentialCipher, platforms: list[str]
) -> DemoData:
    workspace_id, brand_id = demo_id("workspace"), demo_id("brand")
    async with sessions() as session, session.begin():
        if await session.get(Workspace, workspace_id) is None:
            session.add(Workspace(id=workspace_id, name="Demo workspace", settings={}))
            await session.flush()
        if await session.get(Brand, brand_id) is None:
            session.add(Brand(id=brand_id, workspace_id=workspace_id, name="Demo brand"))
            await session.flush()
        api_key = await _ensure_api_key(session, settings, workspace_id)
        user_email, user_password = await _ensure_owner(session, settings, workspace_id)
        accounts = []
        for platform in platforms:
            credentials = sandbox_credentials(platform, settings.emulator_url)
            if credentials is None:
                continue
            account_id = demo_id(f"account/{platform}")
            account = await session.get(SocialAccount, account_id)
            if account is None:
                account = SocialAccount(
                    id=account_id,
                    workspace_id=workspace_id,
                    brand_id=brand_id,
                    platform=platform,
                    username=SANDBOX_USERNAME,
                    display_name=f"Herald Sandbox ({platform})",
                    settings={"sandbox": True},
                )
                session.add(account)
            # Re-encrypted every start: the emulator's port may have changed in settings.
            account.credentials_encrypted = cipher.encrypt(credentials)
            account.status = AccountStatus.ACTIVE
            accounts.append(DemoAccount(account_id, platform, SANDBOX_USERNAME))
    return DemoData(workspace_id, brand_id, api_key, accounts, user_email, user_password)
