"""A whole Herald for tests: settings, database, worker, API client, fresh workspaces."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.fernet import Fernet

from api.resources import Resources
from herald.crypto import CredentialCipher, api_key_digest, new_api_key
from herald.db.models import ApiKey, Brand, SocialAccount, Workspace
from herald.dev import with_emulator_apps
from herald.settings import Settings
from herald.status import PostStatus

TERMINAL_POST_STATES = frozenset(
    {PostStatus.PUBLISHED, PostStatus.PARTIAL, PostStatus.FAILED, PostStatus.CANCELLED}
)


@dataclass
class Tenant:
    """One workspace with a key, a brand and accounts on the emulator, isolated from others."""

    workspace_id: uuid.UUID
    brand_id: uuid.UUID
    api_key: str
    accounts: dict[str, uuid.UUID] = field(default_factory=dict)
    usernames: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@dataclass
class Stack:
    name: str
    settings: Settings
    resources: Resources
    api: httpx.AsyncClient
    emulator: httpx.AsyncClient
    cipher: CredentialCipher

    async def new_tenant(self, platforms: tuple[str, ...] = ("mastodon",)) -> Tenant:
        """A fresh workspace; each account is a new emulator user so tests never share posts."""
        key = new_api_key()
        tenant = Tenant(uuid.uuid4(), uuid.uuid4(), key)
        async with self.resources.sessions() as session, session.begin():
            session.add(Workspace(id=tenant.workspace_id, name="test workspace", settings={}))
            await session.flush()
            session.add(Brand(id=tenant.brand_id, workspace_id=tenant.workspace_id, name="brand"))
            session.add(
                ApiKey(
                    workspace_id=tenant.workspace_id,
                    name="test",
                    key_digest=api_key_digest(key),
                    key_prefix=key[:10],
                )
            )
            await session.flush()
            for platform in platforms:
                username = f"t{uuid.uuid4().hex[:10]}"
                created = await self.emulator.post(
                    "/_emulator/accounts", json={"platform": platform, "username": username}
                )
                created.raise_for_status()
                emulated = created.json()
                account_id = uuid.uuid4()
                session.add(
                    SocialAccount(
                        id=account_id,
                        workspace_id=tenant.workspace_id,
                        brand_id=tenant.brand_id,
                        platform=platform,
                        username=username,
                        platform_account_id=str(emulated["id"]),
                        credentials_encrypted=self.cipher.encrypt(
                            credentials_for(platform, str(self.emulator.base_url), emulated)
                        ),
                    )
                )
                tenant.accounts[platform] = account_id
                tenant.usernames[platform] = username
        return tenant

    async def add_account(
        self,
        tenant: Tenant,
        platform: str = "mastodon",
        emulator: httpx.AsyncClient | None = None,
    ) -> tuple[uuid.UUID, str, str]:
        """Another emulator user connected in the tenant's workspace: (id, username, token);
        on `emulator` when given (another instance), else on the suite's."""
        emulator = emulator or self.emulator
        username = f"t{uuid.uuid4().hex[:10]}"
        created = await emulator.post(
            "/_emulator/accounts", json={"platform": platform, "username": username}
        )
        created.raise_for_status()
        emulated = created.json()
        account_id = uuid.uuid4()
        async with self.resources.sessions() as session, session.begin():
            session.add(
                SocialAccount(
                    id=account_id,
                    workspace_id=tenant.workspace_id,
                    brand_id=tenant.brand_id,
                    platform=platform,
                    username=username,
                    platform_account_id=str(emulated["id"]),
                    credentials_encrypted=self.cipher.encrypt(
                        credentials_for(platform, str(emulator.base_url), emulated)
                    ),
                )
            )
        return account_id, username, str(emulated["token"])

    async def second_key(self, tenant: Tenant) -> dict[str, str]:
        """Headers of another API key in the tenant's workspace (another actor)."""
        key = new_api_key()
        async with self.resources.sessions() as session, session.begin():
            session.add(
                ApiKey(
                    workspace_id=tenant.workspace_id,
                    name="second",
                    key_digest=api_key_digest(key),
                    key_prefix=key[:10],
                )
            )
        return {"Authorization": f"Bearer {key}"}

    async def set_workspace(self, tenant: Tenant, **settings: Any) -> None:
        async with self.resources.sessions() as session, session.begin():
            workspace = await session.get(Workspace, tenant.workspace_id)
            assert workspace is not None
            workspace.settings = {**workspace.settings, **settings}

    async def new_draft(self, tenant: Tenant, content: str = "a draft") -> dict[str, Any]:
        """A draft to the tenant's Mastodon account, made through the API (it emits
        post.created)."""
        created = await self.api.post(
            "/v1/posts",
            json={
                "content": content,
                "draft": True,
                "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
            },
            headers=tenant.headers,
        )
        assert created.status_code == 201, created.text
        body: dict[str, Any] = created.json()
        return body

    async def wait_for_post(
        self,
        tenant: Tenant,
        post_id: str,
        states: frozenset[str] = TERMINAL_POST_STATES,
        timeout_s: float = 30.0,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            response = await self.api.get(f"/v1/posts/{post_id}", headers=tenant.headers)
            response.raise_for_status()
            post: dict[str, Any] = response.json()
            if post["status"] in states:
                return post
            if time.monotonic() > deadline:
                raise AssertionError(f"post stayed {post['status']}: {post}")
            await asyncio.sleep(0.1)

    async def server_refuses_next(
        self,
        message: str = "Validation failed: Text character limit of 500 exceeded",
        platform: str = "mastodon",
        path: str = "/api/v1/statuses",
        status: int = 422,
    ) -> None:
        """The platform refuses the next write to `path` as a server that counts differently
        from what it states does: content Herald's rules pass still fails, in the server's
        words (a post Herald would refuse at create never reaches a platform)."""
        fault = {
            "platform": platform,
            "status": status,
            "path": path,
            "method": "POST",
            "count": 1,
            "message": message,
        }
        (await self.emulator.post("/_emulator/faults", json=fault)).raise_for_status()

    async def emulator_posts(self, platform: str, username: str) -> list[dict[str, Any]]:
        response = await self.emulator.get(
            "/_emulator/posts", params={"platform": platform, "account": username}
        )
        response.raise_for_status()
        posts: list[dict[str, Any]] = response.json()["data"]
        return [p for p in posts if not p.get("deleted")]


def credentials_for(platform: str, emulator_url: str, emulated: dict[str, Any]) -> dict[str, Any]:
    if platform == "mastodon":
        return {"instance_url": f"{emulator_url}/mastodon", "access_token": emulated["token"]}
    if platform == "bluesky":
        return {
            "service_url": f"{emulator_url}/bluesky",
            "identifier": f"{emulated['username']}.bsky.emulator",
            "app_password": emulated["token"],
        }
    if platform == "threads":
        return {"access_token": emulated["token"], "user_id": str(emulated["id"])}
    if platform == "tiktok":
        return {"access_token": emulated["token"], "open_id": str(emulated["id"])}
    if platform == "linkedin":
        return {
            "access_token": emulated["token"],
            "author_urn": f"urn:li:person:{emulated['id']}",
        }
    if platform == "x":
        return {"access_token": emulated["token"]}
    if platform == "facebook":
        # The emulator's Page has the user's id; the user token also acts as the Page token.
        return {
            "access_token": emulated["token"],
            "page_id": str(emulated["id"]),
            "page_access_token": emulated["token"],
        }
    if platform == "instagram":
        return {"access_token": emulated["token"], "user_id": str(emulated["id"])}
    raise ValueError(f"no test credentials for {platform}")


# Rate limits no test (or benchmark) run meets, while every request is still counted.
UNLIMITED = {
    "rate_limit_per_caller": "1000000/second",
    "rate_limit_per_workspace": "1000000/second",
    "rate_limit_global": "1000000/second",
}


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "secret_key": Fernet.generate_key().decode(),
        "publish_attempts": 4,
        # Retries in seconds, not minutes: nothing in the suite waits on a production backoff.
        "publish_retry_initial_s": 0.2,
        "publish_retry_max_s": 1.0,
        "mirror_poll_interval_s": 0.5,
        # Webhook retries in fractions of a second, and receivers on this machine (herald dev's
        # setting); tests of the address policy build their own settings without it.
        "webhook_retry_schedule_s": [0.3, 0.3, 0.3],
        "webhook_poll_s": 0.1,
        "webhook_allow_loopback": True,
        "webhook_dispatch_heartbeat_s": 3.0,
        # OAuth platforms talk to the suite's emulator (emulator_port is set by the fixture).
        "platforms_use_emulator": True,
        # The suite calls faster than a person: the rate-limit tests set their own limits,
        # and every login and signup in a process comes from one address.
        **UNLIMITED,
        "login_rate_per_address": "10000/minute",
    }
    values.update(overrides)
    # The emulator: accounts connected through the API point at it (at no other local port),
    # and mirrors import the media its platforms serve.
    emulator = f"127.0.0.1:{values.get('emulator_port', 8300)}"
    values.setdefault("platform_allow_hosts", [emulator])
    values.setdefault("media_import_allow_hosts", [emulator])
    return with_emulator_apps(Settings(**values))
