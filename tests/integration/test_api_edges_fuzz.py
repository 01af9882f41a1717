"""Every operation, with each field of a valid request replaced in turn by what libraries choke
on — very long strings, control characters, datetimes at the ends of the calendar, integers
past 64 bits — and its path naming the workspace's real post and account rather than random
ids, so the request gets past the lookup: no answer is a 5xx. On Postgres, which refuses
what SQLite stores (NUL in text and JSON); the schemathesis run covers SQLite.

Schemathesis (test_api_fuzz.py) draws the valid requests; this pass pushes each of them to
the edges the random search rarely reaches (the hardening probe found its 500s there)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis.errors import NonInteractiveExampleWarning, Unsatisfiable
from schemathesis import GenerationMode

from tests.integration.test_api_fuzz import OPERATIONS, SCHEMA, unconformity
from tests.support.stack import Stack, Tenant

EDGE_STRINGS = (
    "x" * 20_000,
    "nul \x00 inside",
    "\x1b[31m\u202e\ufeff",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "../../etc/passwd",
)
EDGE_NUMBERS = (2**64, -(2**63) - 1, 10**40)
EXAMPLES = 1
MAX_REQUESTS = 16  # per operation


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(copy[path[0]], path[1:], new)  # type: ignore[index]
    return copy


def _edges(current: Any) -> tuple[Any, ...]:
    if isinstance(current, bool):
        return (EDGE_STRINGS[1],)
    if isinstance(current, int | float):
        return EDGE_NUMBERS
    return EDGE_STRINGS


async def _real_ids(stack: Stack, tenant: Tenant) -> dict[str, str]:
    draft = await stack.new_draft(tenant, "edge")
    return {
        "post_id": draft["id"],
        "account_id": str(tenant.accounts["mastodon"]),
        "target_id": draft["targets"][0]["id"],
    }


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
async def test_no_edge_value_gets_a_server_error(stack: Stack, path: str, method: str) -> None:
    tenant = await stack.new_tenant()
    ids = await _real_ids(stack, tenant)
    operation = SCHEMA[path][method]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        try:
            strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
            cases = [strategy.example() for _ in range(EXAMPLES)]
        except Unsatisfiable:
            return
    sent = 0
    failures: list[str] = []
    for case in cases:
        url = path
        for name, value in (case.path_parameters or {}).items():
            url = url.replace("{" + name + "}", ids.get(name, str(value)))
        body = None if isinstance(case.body, schemathesis.core.NotSet) else case.body
        variants: list[tuple[dict[str, Any], Any]] = []
        for leaf, current in _leaves(body):
            variants += [({}, _replaced(body, leaf, edge)) for edge in _edges(current)]
        for name in case.query or {}:
            variants += [({**case.query, name: edge}, body) for edge in EDGE_STRINGS]
        for query, variant in variants[: MAX_REQUESTS - sent]:
            sent += 1
            headers = dict(tenant.headers)
            kwargs: dict[str, Any] = {"params": query or case.query or None, "headers": headers}
            if variant is not None:
                kwargs["content"] = json.dumps(variant).encode()
                headers["Content-Type"] = "application/json"
            response = await stack.api.request(method, url, **kwargs)
            if response.status_code >= 500:
                failures.append(f"{response.status_code} {method} {url} {query} {response.text}")
            elif (problem := unconformity(case, response)) is not None:
                failures.append(f"{method} {url} {query}: {problem}")
    assert failures == [], failures[:3]
