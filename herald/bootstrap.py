"""`herald bootstrap`: a deployment's first workspace, brand and API key, so a fresh
`docker compose up` has a credential to call the API with. The key is printed once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from herald.crypto import api_key_digest, new_api_key
from herald.db.engine import create_engine, create_session_factory
from herald.db.models import ApiKey, Brand, Workspace
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
