"""Schemathesis draws valid and invalid requests for every operation of the OpenAPI document;
whatever it sends, Herald answers with a documented shape and never with a 500."""

from __future__ import annotations

import json
import warnings
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis.errors import NonInteractiveExampleWarning, Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from tests.support.stack import Stack

SCHEMA = schemathesis.openapi.from_dict(create_app().openapi())
OPERATIONS = [
    (path, method.upper())
    for path, methods in SCHEMA.raw_schema["paths"].items()
    for method in methods
]
EXAMPLES_PER_MODE = 12
CONFORMANCE = [
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]


# Once, on SQLite: the contract does not depend on the database.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
async def test_no_request_gets_a_server_error(stack: Stack, path: str, method: str) -> None:
    tenant = await stack.new_tenant()
    operation = SCHEMA[path][method]
    cases = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            try:
                cases += [strategy.example() for _ in range(EXAMPLES_PER_MODE)]
            except Unsatisfiable:
                continue  # nothing to get wrong, e.g. an operation without parameters
    for case in cases:
        kwargs: dict[str, Any] = {
            "params": case.query or None,
            "headers": {
                **tenant.headers,
                **{
                    k: str(v)
                    for k, v in (case.headers or {}).items()
                    if k.lower() != "authorization"
                },
            },
        }
        if not isinstance(case.body, schemathesis.core.NotSet):
            raw = case.body
            kwargs["content"] = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
            kwargs["headers"]["Content-Type"] = "application/json"
        try:
            response = await stack.api.request(case.method, case.formatted_path, **kwargs)
        except UnicodeEncodeError:
            continue  # httpx refuses such a header before it is sent; no server involved
        described = f"{case.method} {case.formatted_path} {kwargs} -> {response.status_code} {response.text[:300]}"
        assert response.status_code < 500, described
        if response.status_code >= 400:
            error = response.json()["error"]
            assert error["code"] and error["message"] and error["request_id"], described
        assert (problem := unconformity(case, response)) is None, f"{described}: {problem}"


def unconformity(case: schemathesis.Case, response: httpx.Response) -> str | None:
    """What the answer does that the OpenAPI document does not say (an undocumented status, a
    body outside its schema), if anything: a generated client must be able to trust it."""
    try:
        case.validate_response(response, checks=CONFORMANCE)
    except Exception as failure:  # schemathesis raises a group of check failures
        return str(failure)[:1500]
    return None
