"""Who may become a user through the API (HERALD_SIGNUP): `closed`, nobody (the operator
makes users with `herald admin create-user`); `invite` (the default), whoever accepts an
invitation; `open`, anyone, with POST /v1/auth/signup, as well as invitees. People who are
users already always accept invitations with their own token."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import User
from herald.errors import ErrorCode, HeraldError
from herald.passwords import hash_password
from herald.repositories.people import find_user_by_email
from herald.schemas.auth import SignupBody, email_key

SignupMode = Literal["closed", "invite", "open"]


def refuse_new_user(mode: SignupMode, *, invited: bool) -> None:
    """403 unless the mode lets a new user in this way."""
    if mode == "open" or (mode == "invite" and invited):
        return
    way = "through an invitation" if invited else "by signing up"
    raise HeraldError(
        ErrorCode.FORBIDDEN,
        f"new users cannot join {way} here (HERALD_SIGNUP={mode}); "
        + ("ask the operator for an account" if mode == "closed" else "ask for an invitation"),
    )


async def new_user(
    session: AsyncSession, email: str, name: str, password: str, now: datetime
) -> User:
    user = User(
        email=email,
        email_key=email_key(email),
        name=name,
        password_hash=await hash_password(password),
        created_at=now,
    )
    session.add(user)
    await session.flush()
    return user


async def sign_up(session: AsyncSession, mode: SignupMode, body: SignupBody, now: datetime) -> User:
    refuse_new_user(mode, invited=False)
    if await find_user_by_email(session, email_key(body.email)) is not None:
        raise HeraldError.conflict("an account with this email exists: log in instead")
    return await new_user(session, body.email, body.name, body.password, now)
