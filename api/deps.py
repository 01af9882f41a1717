"""Annotated dependencies: the request's session, principal and Temporal gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import (
    PRINCIPAL_STATE,
    WORKSPACE_HEADER,
    Caller,
    CurrentUser,
    KeyCaller,
    authorize,
    requested_workspace,
)
from api.gateway import TemporalGateway
from api.rate_limits import admit
from api.resources import Resources
from herald.principal import Permission, Principal
from herald.settings import Settings


def _resources(request: Request) -> Resources:
    resources = request.app.state.resources
    assert isinstance(resources, Resources)
    return resources


ResourcesDep = Annotated[Resources, Depends(_resources)]


READ_METHODS = frozenset({"GET", "HEAD"})


async def _session(request: Request, resources: ResourcesDep) -> AsyncIterator[AsyncSession]:
    # Services never commit; the request's unit of work does, when the handler succeeded, and
    # before the answer leaves (scope="function" below): a client that acts on a 201 at once
    # (PUTs to the upload URL it was given) must find the row, and a commit that fails must
    # answer an error rather than follow a success the client already has.
    factory = resources.read_sessions if request.method in READ_METHODS else resources.sessions
    async with factory() as session:
        yield session
        if session.in_transaction():
            await session.commit()


SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]


def _settings(resources: ResourcesDep) -> Settings:
    return resources.settings


SettingsDep = Annotated[Settings, Depends(_settings)]


def _temporal(resources: ResourcesDep) -> TemporalGateway:
    return resources.temporal


TemporalDep = Annotated[TemporalGateway, Depends(_temporal)]


_AUTHORIZATION = Header(include_in_schema=False)


async def _caller(
    request: Request,
    session: SessionDep,
    resources: ResourcesDep,
    authorization: Annotated[str | None, _AUTHORIZATION] = None,
) -> Caller:
    caller = await resources.auth.identify(session, authorization)
    if isinstance(caller, KeyCaller):
        counted_as, workspace = f"api_key:{caller.key_id}", caller.workspace_id
    else:
        counted_as, workspace = f"user:{caller.claims.user_id}", None
    await admit(request.scope, resources.request_limits, counted_as, workspace)
    return caller


setattr(_caller, "authenticates", True)  # noqa: B010 (read by api/openapi.py)
CallerDep = Annotated[Caller, Depends(_caller)]


async def _principal(
    request: Request,
    session: SessionDep,
    resources: ResourcesDep,
    authorization: Annotated[str | None, _AUTHORIZATION] = None,
    x_workspace_id: Annotated[
        str | None,
        Header(
            alias=WORKSPACE_HEADER,
            description="The workspace a user's access token acts in (not needed for API "
            "keys, for a path that names the workspace, or a user with one workspace).",
        ),
    ] = None,
) -> Principal:
    resolved = request.scope.get("state", {}).get(PRINCIPAL_STATE)
    if isinstance(resolved, Principal):
        principal = resolved
    else:
        caller = await resources.auth.identify(session, authorization)
        workspace = requested_workspace(request.path_params.get("workspace_id"), x_workspace_id)
        principal = await resources.auth.principal(session, caller, workspace)
    await admit(
        request.scope,
        resources.request_limits,
        f"{principal.actor_type}:{principal.actor_id}",
        principal.workspace_id,
    )
    return principal


# The OpenAPI document reads these marks (api/openapi.py): who needs a caller, and what for.
setattr(_principal, "authenticates", True)  # noqa: B010
PrincipalDep = Annotated[Principal, Depends(_principal)]


async def _user(session: SessionDep, resources: ResourcesDep, caller: CallerDep) -> CurrentUser:
    return await resources.auth.user(session, caller)


UserDep = Annotated[CurrentUser, Depends(_user)]


def require(permission: Permission) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """`Depends(require(Permission.POSTS_CREATE))`: the principal, if it holds the permission."""

    async def dependency(principal: PrincipalDep) -> Principal:
        return authorize(principal, permission)

    dependency.__name__ = f"require_{permission.value.replace('.', '_')}"
    setattr(dependency, "permission", permission.value)  # noqa: B010
    return dependency


# Every list: a page of 1 to 100 items, and the cursor its previous page answered.
PageLimit = Annotated[int, Query(ge=1, le=100, description="Items per page, 1 to 100.")]
PageCursor = Annotated[
    str | None, Query(description="`next_cursor` of the previous page; omit for the first.")
]
