"""A deployment's first credentials: `herald bootstrap` (a workspace, brand and API key) and
`herald admin create-user` / `create-api-key`, so a fresh `docker compose up` has someone to
log in as and a key to call the API with. Secrets are printed once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from herald.crypto import api_key_digest, new_api_key
from herald.db.engine import create_engine, create_session_factory
from herald.db.models import ApiKey, Brand, Member, User, Workspace
from herald.settings import Settings


@dataclass(frozen=True)
class Bootstrapped:
    workspace_id: uuid.UUID
    brand_id: uuid.UUID
    api_key: str


async def bootstrap(settings: Settings, workspace: str, brand: str) -> Bootstrapped:
    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_session_factory(engine)() as session, session.begin():
            space = Workspace(name=workspace, settings={})
            session.add(space)
            await session.flush()
            first_brand = Brand(workspace_id=space.id, name=brand)
            key = new_api_key()
            session.add_all(
                [
                    first_brand,
                    ApiKey(
                        workspace_id=space.id,
                        name="bootstrap key (herald bootstrap)",
                        key_digest=api_key_digest(key),
                        key_prefix=key[:10],
                    ),
                ]
            )
            await session.flush()
            return Bootstrapped(space.id, first_brand.id, key)
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class CreatedUser:
    user_id: uuid.UUID
    email: str
    workspace_id: uuid.UUID | None
    brand_id: uuid.UUID | None


async def create_user(
    settings: Settings, email: str, password: str, name: str, workspace: str | None
) -> CreatedUser:
    """`herald admin create-user`: a user, and with `workspace` a new workspace they own,
    with a first brand of the same name (accounts and posts belong to a brand). Refused
    (ValueError) for an address that has an account already."""
    from herald.passwords import MIN_LENGTH, hash_password
    from herald.repositories.people import find_user_by_email
    from herald.roles import OWNER
    from herald.schemas.auth import email_address, email_key

    email = email_address(email)
    if len(password) < MIN_LENGTH:
        raise ValueError(f"the password needs at least {MIN_LENGTH} characters")
    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_session_factory(engine)() as session, session.begin():
            if await find_user_by_email(session, email_key(email)) is not None:
                raise ValueError(f"{email} has an account already")
            user = User(
                email=email,
                email_key=email_key(email),
                name=name,
                password_hash=await hash_password(password),
            )
            session.add(user)
            await session.flush()
            space_id = brand_id = None
            if workspace is not None:
                space = Workspace(name=workspace, settings={})
                session.add(space)
                await session.flush()
                brand = Brand(workspace_id=space.id, name=workspace)
                session.add_all(
                    [brand, Member(workspace_id=space.id, user_id=user.id, role_id=OWNER.id)]
                )
                await session.flush()
                space_id, brand_id = space.id, brand.id
            return CreatedUser(user.id, email, space_id, brand_id)
    finally:
        await engine.dispose()


async def create_api_key(
    settings: Settings, workspace_id: uuid.UUID, name: str, permissions: list[str] | None
) -> tuple[uuid.UUID, str]:
    """`herald admin create-api-key`: a key of the workspace (every permission unless
    named); its secret is returned once. ValueError for an unknown workspace or permission."""
    from herald.roles import GRANTABLE

    unknown = sorted(set(permissions or []) - GRANTABLE)
    if unknown:
        raise ValueError(f"unknown permissions: {', '.join(unknown)}")
    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_session_factory(engine)() as session, session.begin():
            if await session.get(Workspace, workspace_id) is None:
                raise ValueError(f"no workspace {workspace_id}")
            key = new_api_key()
            row = ApiKey(
                workspace_id=workspace_id,
                name=name,
                key_digest=api_key_digest(key),
                key_prefix=key[:10],
                permissions=sorted(permissions) if permissions else None,
                created_by_type="system",
                created_by_id="herald admin",
            )
            session.add(row)
            await session.flush()
            return row.id, key
    finally:
        await engine.dispose()


async def set_plan_limits(
    settings: Settings, workspace_id: uuid.UUID, changes: dict[str, int | None]
) -> dict[str, int | None]:
    """`herald admin set-plan-limits`: the workspace's own limits (None: no limit), the
    others left as they were; answers the limits that now hold, defaults included."""
    from herald.services.plan_limits import SETTINGS_KEY, PlanDefaults

    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_session_factory(engine)() as session, session.begin():
            workspace = await session.get(Workspace, workspace_id)
            if workspace is None:
                raise ValueError(f"no workspace {workspace_id}")
            own = {**(workspace.settings.get(SETTINGS_KEY) or {}), **changes}
            workspace.settings = {**workspace.settings, SETTINGS_KEY: own}
            limits = PlanDefaults.of(settings).limits_of(workspace)
            return {limit.value: value for limit, value in limits.items()}
    finally:
        await engine.dispose()
