"""Logging in, refreshing, logging out, and who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from api.deps import ResourcesDep, SessionDep, UserDep
from api.errors import error_response
from api.openapi import error_responses
from herald.repositories.people import memberships_of
from herald.schemas.auth import (
    LoginBody,
    MeOut,
    MyWorkspace,
    RefreshBody,
    RoleRef,
    SignupBody,
    TokenPair,
    UserOut,
    email_key,
)
from herald.services.sessions import ReuseDetected, SessionIssuer, logout
from herald.services.signup import sign_up

router = APIRouter(prefix="/v1/auth", tags=["auth"])


def _issuer(resources: ResourcesDep) -> SessionIssuer:
    return SessionIssuer(resources.auth.tokens, resources.settings)


@router.post(
    "/login",
    response_model=TokenPair,
    summary="Log in: an access token (15 min) and a refresh token",
    description="Throttled per email and per client address (429 with Retry-After); a wrong "
    "email and a wrong password answer the same 401.",
    responses=error_responses(401, 429),
)
async def login(
    body: LoginBody, request: Request, session: SessionDep, resources: ResourcesDep
) -> TokenPair:
    address = request.client.host if request.client else "unknown"
    await resources.login_throttle.attempt(email_key(body.email), address)
    return await _issuer(resources).login(session, body.email, body.password, resources.clock.now())


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    summary="Become a user (only where HERALD_SIGNUP=open); then log in",
    description="Refused with 403 unless the deployment lets anyone sign up; throttled as "
    "logins are (per email and per client address).",
    responses=error_responses(403, 429),
)
async def signup(
    body: SignupBody, request: Request, session: SessionDep, resources: ResourcesDep
) -> UserOut:
    address = request.client.host if request.client else "unknown"
    await resources.login_throttle.attempt(email_key(body.email), address)
    user = await sign_up(session, resources.settings.signup, body, resources.clock.now())
    return UserOut.of(user)


@router.post(
    "/refresh",
    response_model=TokenPair,
    summary="A new token pair for a refresh token (each refresh token works once)",
    description="Presenting a refresh token that was already exchanged revokes its whole "
    "session (every token it issued) and answers 401.",
    responses=error_responses(401),
)
async def refresh(
    body: RefreshBody, request: Request, session: SessionDep, resources: ResourcesDep
) -> TokenPair | JSONResponse:
    try:
        return await _issuer(resources).refresh(session, body.refresh_token, resources.clock.now())
    except ReuseDetected as refused:
        return error_response(request, refused)  # answered, not raised: the revocation commits


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End this session: its access and refresh tokens stop working at once",
)
async def logout_(session: SessionDep, resources: ResourcesDep, current: UserDep) -> Response:
    await logout(session, current.session_id, resources.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=MeOut, summary="The user and their role in each workspace")
async def me(session: SessionDep, current: UserDep) -> MeOut:
    rows = await memberships_of(session, current.user.id)
    return MeOut(
        user=UserOut.of(current.user),
        workspaces=[
            MyWorkspace(id=w.id, name=w.name, role=RoleRef(id=r.id, name=r.name)) for w, r in rows
        ],
    )
