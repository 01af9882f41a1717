"""The "without" side's caller check, for the benchmarks that measure what the check costs
(request_overhead, teams_cost): each credential is looked up once and then answered from
memory, so a request costs no lookup, while every dependency and middleware of the route runs
as in production. (Handing the route a principal through FastAPI's `dependency_overrides`
instead rebuilds the override's dependency tree on every request, about 2 ms: that measured
FastAPI's test hook, and made the side without the lookup the slower one.)

A measuring device only: a revoked key keeps working where this is installed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Authenticator, Caller


def remember_callers(auth: Authenticator) -> None:
    lookup = auth.identify
    remembered: dict[str | None, Caller] = {}

    async def identify(session: AsyncSession, authorization: str | None) -> Caller:
        caller = remembered.get(authorization)
        if caller is None:
            caller = remembered[authorization] = await lookup(session, authorization)
        return caller

    auth.identify = identify  # type: ignore[method-assign]
