"""The OpenAPI document a client generator reads: errors in the one shape, every status Herald
can give listed, and every operation that needs a caller naming the permission it needs."""

from __future__ import annotations

from typing import Any

from api.app import create_app

SCHEMA = create_app().openapi()
PUBLIC = {
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("post", "/v1/auth/login"),
    ("post", "/v1/auth/refresh"),  # the refresh token in the body is the credential
    ("post", "/v1/auth/signup"),  # becoming a user (HERALD_SIGNUP=open)
    ("post", "/v1/invitations/{token}/accept"),  # a new user: the token is the credential
    ("get", "/v1/accounts/callback/{platform}"),  # the platform's redirect: the state is the key
    ("get", "/v1/media-files/{key}"),  # signed URLs
    ("put", "/v1/media-files/{key}"),
}


# A signed-in person, in no workspace in particular: no workspace permission applies.
ANY_USER = {
    ("post", "/v1/auth/logout"),
    ("get", "/v1/auth/me"),
    ("get", "/v1/workspaces"),
    ("post", "/v1/workspaces"),
}


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, methods in SCHEMA["paths"].items()
        for method, operation in methods.items()
    ]


def test_errors_are_documented_in_the_contracts_shape_not_fastapis() -> None:
    schemas = SCHEMA["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["ErrorResponse"]["properties"]) == {"error"}
    for method, path, operation in _operations():
        responses = operation["responses"]
        assert {"400", "503"} <= set(responses), (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        for status, response in responses.items():
            if int(status) >= 400:
                content = response["content"]["application/json"]["schema"]
                assert content == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path)
        if method in ("post", "patch", "delete"):
            # 422 is Herald's own: an Idempotency-Key reused for another request.
            assert {"409", "422"} <= set(responses), (method, path)


def test_every_operation_that_needs_a_caller_names_its_permission() -> None:
    for method, path, operation in _operations():
        if (method, path) in PUBLIC:
            assert "security" not in operation, (method, path)
            continue
        assert operation["security"] == [{"bearer": []}], (method, path)
        assert {"401", "403"} <= set(operation["responses"]), (method, path)
        if (method, path) in ANY_USER:
            assert "x-herald-permission" not in operation, (method, path)
        else:
            assert "." in operation["x-herald-permission"], (method, path)


def test_every_answer_declares_the_rate_limit_headers_it_carries() -> None:
    headers = SCHEMA["components"]["headers"]
    for method, path, operation in _operations():
        for status, response in operation["responses"].items():
            declared = {
                name: headers[ref["$ref"].rsplit("/", 1)[1]]
                for name, ref in response.get("headers", {}).items()
            }
            if path not in ("/healthz", "/readyz", "/metrics"):
                assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(
                    declared
                ), (method, path, status)
            if status in ("429", "503"):
                assert "Retry-After" in declared, (method, path, status)
            assert all(h["schema"]["type"] == "integer" for h in declared.values())
