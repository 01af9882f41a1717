"""Who is calling and what may they do: the one place every request is authenticated.

Two kinds of callers (API.md "Auth"): an API key (`hk_...`), bound to its workspace, whose
permissions are its own scope; and a user's access token (a JWT from /v1/auth/login), which
acts in the workspace the path names (`/v1/workspaces/{workspace_id}/...`) or the
`X-Workspace-Id` header does (a user with one workspace may omit it), with the permissions of
their role there. Either way the answer is a Principal: one workspace, one actor, a set of
permissions, which every route checks against the permission it declares. An API key costs
one indexed lookup per request; a user token one query (membership, role and open session).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from api.key_usage import KeyUsage
from herald.access_tokens import AccessClaims, AccessTokens, looks_like_jwt
from herald.clock import Clock
from herald.crypto import API_KEY_PREFIX, api_key_digest
from herald.db.models import User
from herald.errors import ErrorCode, ErrorDetail, HeraldError
from herald.principal import ALL_PERMISSIONS, ActorType, Permission, Principal
from herald.repositories.api_keys import find_active_key
from herald.repositories.people import roles_in_session, session_is_open, user_of_session
from herald.roles import role_permissions

WORKSPACE_HEADER = "X-Workspace-Id"
# Where the API keeps a principal it already resolved for this request (the idempotency
# middleware resolves it first, so the route does not look the key up again).
PRINCIPAL_STATE = "herald_principal"
# The workspace a path names, as routes under /v1/workspaces/{workspace_id}/ declare it.
_WORKSPACE_PATH = re.compile(r"^/v1/workspaces/([^/]+)")


def workspace_in_path(path: str) -> str | None:
    """The workspace id a request's path names, as the route will read it, if any."""
    found = _WORKSPACE_PATH.match(path)
    return found.group(1) if found else None


def _unauthorized(message: str) -> HeraldError:
    return HeraldError(
        ErrorCode.UNAUTHORIZED,
        message,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def bearer_token(authorization: str | None) -> str:
    if not authorization or not authorization.strip():
        raise HeraldError(
            ErrorCode.UNAUTHORIZED,
            "missing credentials: send Authorization: Bearer <API key or access token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    scheme, _, rest = authorization.strip().partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else authorization.strip()


@dataclass(frozen=True)
class KeyCaller:
    key_id: uuid.UUID
    workspace_id: uuid.UUID
    permissions: frozenset[Permission]


@dataclass(frozen=True)
class UserCaller:
    claims: AccessClaims


Caller = KeyCaller | UserCaller


@dataclass(frozen=True)
class CurrentUser:
    user: User
    session_id: uuid.UUID


def _workspace_id(value: str | None, where: str) -> uuid.UUID | None:
    if value is None or not value.strip():
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError as exc:
        raise HeraldError(
            ErrorCode.VALIDATION_ERROR,
            f"{where} is not a workspace id",
            [ErrorDetail(where, "must be a UUID")],
        ) from exc


def requested_workspace(path_id: str | None, header: str | None) -> uuid.UUID | None:
    """The workspace the request names: the path's, or the X-Workspace-Id header's."""
    from_path = _workspace_id(path_id, "workspace_id")
    from_header = _workspace_id(header, WORKSPACE_HEADER)
    if from_path is not None and from_header is not None and from_path != from_header:
        raise HeraldError.invalid(WORKSPACE_HEADER, "names another workspace than the path")
    return from_path or from_header


def _no_such_workspace() -> HeraldError:
    return HeraldError.not_found("workspace")


class Authenticator:
    def __init__(self, tokens: AccessTokens, clock: Clock, usage: KeyUsage) -> None:
        self.tokens = tokens
        self.clock = clock
        self.usage = usage

    async def identify(self, session: AsyncSession, authorization: str | None) -> Caller:
        """Who is calling (401 when nobody valid is)."""
        token = bearer_token(authorization)
        now = self.clock.now()
        if token.startswith(API_KEY_PREFIX):
            key = await find_active_key(session, api_key_digest(token), now)
            if key is None:
                raise _unauthorized("invalid, expired or revoked credentials")
            self.usage.seen(key, now)
            permissions = (
                frozenset(Permission(p) for p in key.permissions if p in ALL_PERMISSIONS)
                | {Permission.WORKSPACE_READ}
                if key.permissions is not None
                else ALL_PERMISSIONS
            )
            return KeyCaller(key.id, key.workspace_id, permissions)
        if looks_like_jwt(token):
            return UserCaller(self.tokens.verify(token, now))
        raise _unauthorized("invalid, expired or revoked credentials")

    async def principal(
        self, session: AsyncSession, caller: Caller, workspace_id: uuid.UUID | None
    ) -> Principal:
        """What the caller may do, in the workspace the request names (404 for one that is
        not theirs, never revealing whether it exists)."""
        if isinstance(caller, KeyCaller):
            if workspace_id is not None and workspace_id != caller.workspace_id:
                raise _no_such_workspace()
            return Principal(
                caller.workspace_id, ActorType.API_KEY, str(caller.key_id), caller.permissions
            )
        claims = caller.claims
        rows = await roles_in_session(session, claims.user_id, claims.session_id, workspace_id)
        if len(rows) == 1:
            chosen, role_id, stored = rows[0]
            return Principal(
                chosen, ActorType.USER, str(claims.user_id), role_permissions(role_id, stored)
            )
        if not rows and not await session_is_open(session, claims.user_id, claims.session_id):
            raise _unauthorized("this session has ended; log in again")
        if workspace_id is not None:
            raise _no_such_workspace()
        raise HeraldError(
            ErrorCode.VALIDATION_ERROR,
            "name the workspace to act in with the X-Workspace-Id header"
            + ("" if rows else " (this user belongs to none yet)"),
            [
                ErrorDetail(
                    WORKSPACE_HEADER, "required for a user in more or fewer than one workspace"
                )
            ],
        )

    async def user(self, session: AsyncSession, caller: Caller) -> CurrentUser:
        """The logged-in user, for what only a person does (their profile, logging out,
        making a workspace)."""
        if isinstance(caller, KeyCaller):
            raise HeraldError(
                ErrorCode.FORBIDDEN,
                "this needs a user's access token (POST /v1/auth/login); an API key acts in "
                "its own workspace only",
            )
        claims = caller.claims
        user = await user_of_session(session, claims.user_id, claims.session_id)
        if user is None:
            raise _unauthorized("this session has ended; log in again")
        return CurrentUser(user, claims.session_id)


def authorize(principal: Principal, permission: Permission) -> Principal:
    if not principal.can(permission):
        raise HeraldError(ErrorCode.FORBIDDEN, f"this action needs the {permission} permission")
    return principal
