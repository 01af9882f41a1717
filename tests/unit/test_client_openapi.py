"""The Python client (clients/python) kept in step with the server's OpenAPI document: every
operation it wraps exists with that method, path and query parameters; every server operation
is wrapped, excluded with a reason, or under a prefix the client leaves alone; every model's
fields are the schema's; and the sync client is the one generated from the async client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from herald_client import AsyncHeraldClient, HeraldClient
from herald_client.models import MODELS
from herald_client.operations import EXCLUDED, OPERATIONS, OUT_OF_SCOPE_PREFIXES
from tests.support.stack import make_settings

ROOT = Path(__file__).resolve().parents[2]
HTTP_METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    spec: dict[str, Any] = create_app(make_settings()).openapi()
    return spec


def _server_operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def _parameters(operation: dict[str, Any], where: str) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == where}


def test_every_wrapped_operation_is_the_servers(document: dict[str, Any]) -> None:
    server = _server_operations(document)
    for wrapped in OPERATIONS.values():
        operation = server.get((wrapped.method, wrapped.path))
        assert operation is not None, f"{wrapped.name}: no {wrapped.method} {wrapped.path}"
        placeholders = {p.strip("{}") for p in wrapped.path.split("/") if p.startswith("{")}
        assert placeholders == _parameters(operation, "path"), wrapped.name
        unknown = set(wrapped.query) - _parameters(operation, "query")
        assert not unknown, f"{wrapped.name} sends query parameters the server lacks: {unknown}"
        takes_key = "Idempotency-Key" in _parameters(operation, "header")
        assert wrapped.writes == takes_key, f"{wrapped.name}: Idempotency-Key disagrees"
        for client in (HeraldClient, AsyncHeraldClient):
            assert callable(getattr(client, wrapped.name, None)), (
                f"{client.__name__}.{wrapped.name}"
            )


def test_every_server_operation_is_wrapped_or_left_out_on_purpose(
    document: dict[str, Any],
) -> None:
    server = set(_server_operations(document))
    wrapped = {(o.method, o.path) for o in OPERATIONS.values()}
    unclassified = sorted(
        (method, path)
        for method, path in server - wrapped - set(EXCLUDED)
        if not path.startswith(OUT_OF_SCOPE_PREFIXES)
    )
    assert not unclassified, f"wrap these in herald_client or exclude them: {unclassified}"
    stale = sorted(set(EXCLUDED) - server)
    assert not stale, f"excluded operations the server no longer has: {stale}"
    assert not wrapped & set(EXCLUDED)


def test_every_model_reads_its_schema(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for model in MODELS:
        schema = schemas.get(model.schema_name)
        assert schema is not None, f"{model.__name__}: no schema {model.schema_name}"
        properties = set(schema.get("properties", {}))
        fields = set(model.model_fields)
        assert fields <= properties, f"{model.__name__} reads {fields - properties}"
        required = set(schema.get("required", []))
        assert required <= fields, f"{model.__name__} drops {required - fields}"


def test_the_sync_client_is_generated_from_the_async_one() -> None:
    script = ROOT / "clients" / "python" / "scripts" / "unasync.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
