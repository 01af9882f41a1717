"""Logging in and out: login sessions, their access tokens and rotating refresh tokens.

A login opens a session and hands out an access token (a JWT naming the session) and a refresh
token (opaque; only its digest is stored). Each refresh marks the token it was given as rotated
and hands out a new pair in the same session. A rotated token presented again means two parties
hold the session (a stolen token, or a client that lost an answer): the whole session is revoked,
and with it every access and refresh token it issued.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from herald.access_tokens import AccessTokens
from herald.crypto import REFRESH_TOKEN_PREFIX, new_secret_token, token_digest
from herald.db.models import AuthSession, RefreshToken, User
from herald.errors import ErrorCode, HeraldError
from herald.passwords import hash_password, needs_rehash, verify_password
from herald.repositories.people import (
    find_refresh_token,
    find_user_by_email,
    mark_rotated,
    revoke_session,
)
from herald.schemas.auth import TokenPair, UserOut, email_key
from herald.settings import Settings

LOGGED_OUT = "logout"
REUSED = "reuse"


def _refused(message: str) -> HeraldError:
    return HeraldError(ErrorCode.UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


class ReuseDetected(HeraldError):
    """A 401 whose change, the revoked session, must be committed: the route answers it
    without raising, so the request's unit of work still commits."""

    def __init__(self) -> None:
        super().__init__(
            ErrorCode.UNAUTHORIZED,
            "this refresh token was already used: the session is revoked, log in again",
            headers={"WWW-Authenticate": "Bearer"},
        )


@dataclass(frozen=True)
class SessionIssuer:
    tokens: AccessTokens
    settings: Settings

    def _refresh_token(self, session: AsyncSession, session_id: uuid.UUID, now: datetime) -> str:
        token = new_secret_token(REFRESH_TOKEN_PREFIX)
        session.add(
            RefreshToken(
                session_id=session_id,
                token_digest=token_digest(token),
                created_at=now,
                expires_at=now + timedelta(seconds=self.settings.refresh_token_ttl_s),
            )
        )
        return token

    def pair(
        self, session: AsyncSession, user: User, session_id: uuid.UUID, now: datetime
    ) -> TokenPair:
        return TokenPair(
            access_token=self.tokens.issue(user.id, session_id, now),
            refresh_token=self._refresh_token(session, session_id, now),
            expires_in=self.tokens.ttl_s,
            user=UserOut.of(user),
        )

    async def login(
        self, session: AsyncSession, email: str, password: str, now: datetime
    ) -> TokenPair:
        """A new session, or 401; an unknown address costs one password check too and
        answers the same words."""
        user = await find_user_by_email(session, email_key(email))
        if not await verify_password(user.password_hash if user else None, password):
            raise _refused("wrong email or password")
        assert user is not None
        if needs_rehash(user.password_hash):
            user.password_hash = await hash_password(password)
        login = AuthSession(user_id=user.id, created_at=now)
        session.add(login)
        await session.flush()
        return self.pair(session, user, login.id, now)

    async def refresh(self, session: AsyncSession, refresh_token: str, now: datetime) -> TokenPair:
        found = await find_refresh_token(session, token_digest(refresh_token))
        if found is None:
            raise _refused("unknown refresh token")
        token, login = found
        if login.revoked_at is not None:
            raise _refused("this session has ended; log in again")
        if token.expires_at <= now:
            raise _refused("the refresh token expired; log in again")
        if token.rotated_at is not None or not await mark_rotated(session, token.id, now):
            await revoke_session(session, login.id, REUSED, now)
            raise ReuseDetected()
        user = await session.get(User, login.user_id)
        assert user is not None
        return self.pair(session, user, login.id, now)


async def logout(session: AsyncSession, session_id: uuid.UUID, now: datetime) -> None:
    await revoke_session(session, session_id, LOGGED_OUT, now)
