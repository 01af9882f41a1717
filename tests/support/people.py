"""People for tests: a user made straight in the database (an owner, given a workspace), their
login, and the headers of their access token."""

from __future__ import annotations

import uuid
from typing import Any

from herald.db.models import Member, User
from herald.passwords import hash_password
from herald.roles import OWNER
from tests.support.stack import Stack

PASSWORD = "correct horse battery staple"


async def new_person(stack: Stack, workspace_id: uuid.UUID | None = None) -> str:
    """A user (and, given a workspace, its owner); returns the email."""
    email = f"u{uuid.uuid4().hex[:10]}@example.com"
    async with stack.resources.sessions() as session, session.begin():
        user = User(
            email=email, email_key=email, name="Owner", password_hash=await hash_password(PASSWORD)
        )
        session.add(user)
        await session.flush()
        if workspace_id is not None:
            session.add(Member(workspace_id=workspace_id, user_id=user.id, role_id=OWNER.id))
    return email


async def log_in(stack: Stack, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await stack.api.post("/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def as_user(tokens: dict[str, Any], workspace: uuid.UUID | str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    if workspace is not None:
        headers["X-Workspace-Id"] = str(workspace)
    return headers


async def audit_events(
    stack: Stack, headers: dict[str, str], **filters: str
) -> list[dict[str, Any]]:
    """Every audit event the filters match, newest first, page by page."""
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {**filters, "limit": "100", **({"cursor": cursor} if cursor else {})}
        response = await stack.api.get("/v1/audit-events", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        events += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return events
