"""Every operation's permission, read off the OpenAPI document itself (no hand list of
routes): a caller lacking the permission an operation names (`x-herald-permission`) is refused
with 403, as an API key scoped without it and as a member whose role lacks it; a caller holding
it is not; and an id of another workspace in the path answers 404. An operation that needs a
caller but names no permission fails here, unless it is one a person makes outside any
workspace (tests/unit/test_openapi.py ANY_USER); so does one that takes no caller at all,
unless it is one of the public ones there (PUBLIC).

Reading is implied by membership (`workspace.read` cannot be withheld), so for reads the
matrix checks that a caller holding nothing else is let through, and the 404 across
workspaces."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from herald.crypto import api_key_digest, new_api_key
from herald.db.models import ApiKey, AuthSession, Member, Role, User
from herald.principal import Permission
from herald.roles import GRANTABLE, VIEWER
from tests.support.people import as_user, new_person
from tests.support.stack import Stack, Tenant
from tests.unit.test_openapi import ANY_USER, PUBLIC

# Permissions are decided before any query that differs between the databases: one is enough
# (the team story and the teams tests run on both).
pytestmark = pytest.mark.sqlite_only

READ = Permission.WORKSPACE_READ.value
LOOPBACK_URL = "http://127.0.0.1:9/herald"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    permission: str
    body: dict[str, Any] | None
    # A path parameter that is an id (uuid), not a name such as the platform.
    names_an_id: bool

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


# --- request bodies, made from the schemas: the required fields, with plausible values ------


class Bodies:
    def __init__(self, schema: dict[str, Any], ids: dict[str, str]) -> None:
        self._components = schema["components"]["schemas"]
        self._ids = ids

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = self._components[node["$ref"].rsplit("/", 1)[-1]]
        if "anyOf" in node:
            chosen = next(o for o in node["anyOf"] if o.get("type") != "null")
            return self._resolve(chosen)
        return node

    def value(self, name: str, node: dict[str, Any]) -> Any:
        node = self._resolve(node)
        if "enum" in node:
            return node["enum"][0]
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            required = node.get("required", [])
            properties = node.get("properties", {})
            return {field: self.value(field, properties[field]) for field in required}
        if kind == "array":
            count = node.get("minItems", 0)
            return [self.value(name.removesuffix("s"), node.get("items", {})) for _ in range(count)]
        if kind == "integer":
            return max(int(node.get("minimum", 1)), 1)
        if kind == "number":
            return max(float(node.get("minimum", 1)), 1.0)
        if kind == "boolean":
            return False
        return self._string(name, node)

    def _string(self, name: str, node: dict[str, Any]) -> str:
        if node.get("format") == "date-time" or name.endswith("_at"):
            return (datetime.now(UTC) + timedelta(days=1)).isoformat()
        if node.get("format") == "uuid" or name.endswith("_id"):
            return self._ids.get(name, str(uuid.uuid4()))
        if node.get("format") == "email" or name == "email":
            return f"m{uuid.uuid4().hex[:10]}@example.com"
        known = {
            "url": LOOPBACK_URL,
            "time": "09:00",
            "timezone": "UTC",
            "mime_type": "image/png",
            "event": "post.published",
        }
        return known.get(name, "x" * max(int(node.get("minLength", 1)), 1))

    def of(self, operation: dict[str, Any]) -> dict[str, Any] | None:
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            return None
        body = self.value("body", content["application/json"]["schema"])
        return body if isinstance(body, dict) else {}


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    every = [
        (method, path, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]
    # A route that takes no caller at all is public: only the known public ones may be.
    public = [
        f"{m.upper()} {p}" for m, p, op in every if "security" not in op and (m, p) not in PUBLIC
    ]
    assert not public, f"operations that need no caller and declare no permission: {public}"
    return [(method, path, op) for method, path, op in every if "security" in op]


# --- the two workspaces: one the callers act in, one whose ids they must not reach ----------


async def _resources_of(stack: Stack, tenant: Tenant) -> dict[str, str]:
    """A real id of each kind the API's paths name, in the tenant's workspace."""
    headers = tenant.headers
    account = str(tenant.accounts["mastodon"])
    second, _, _ = await stack.add_account(tenant)

    async def made(method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await stack.api.request(method, url, json=body, headers=headers)
        assert response.status_code in (200, 201, 202), (url, response.text)
        answer: dict[str, Any] = response.json()
        return answer

    post = await made(
        "POST", "/v1/posts", {"content": "x", "draft": True, "targets": [{"account_id": account}]}
    )
    media = await made(
        "POST",
        "/v1/media/uploads",
        {
            "brand_id": str(tenant.brand_id),
            "filename": "a.png",
            "mime_type": "image/png",
            "size": 9,
        },
    )
    hook = await made("POST", "/v1/webhooks", {"url": LOOPBACK_URL, "events": ["*"]})
    delivery = await made("POST", f"/v1/webhooks/{hook['id']}/test")
    group = await made("POST", "/v1/account-groups", {"name": "g", "account_ids": [account]})
    mirror = await made(
        "POST",
        "/v1/mirrors",
        {
            "name": "m",
            "source_account_id": account,
            "target_account_ids": [str(second)],
            "is_active": False,
        },
    )
    ws = f"/v1/workspaces/{tenant.workspace_id}"
    role = await made(
        "POST", f"{ws}/roles", {"name": f"r{uuid.uuid4().hex[:6]}", "permissions": []}
    )
    await new_person(stack, tenant.workspace_id)
    member = (await made("GET", f"{ws}/users"))["data"][0]
    validation = await made("POST", "/v1/media/bulk-validate", {"media_ids": [media["media_id"]]})
    export = await made(
        "POST",
        "/v1/analytics/export",
        {
            "brand_id": str(tenant.brand_id),
            "from": "2026-01-01T00:00:00Z",
            "to": "2026-01-02T00:00:00Z",
            "format": "csv",
        },
    )
    async with stack.resources.sessions() as session:
        key_id = await session.scalar(
            select(ApiKey.id).where(ApiKey.key_digest == api_key_digest(tenant.api_key))
        )
    return {
        "workspace_id": str(tenant.workspace_id),
        "brand_id": str(tenant.brand_id),
        "account_id": account,
        "post_id": post["id"],
        "approval_id": post["id"],
        "target_id": post["targets"][0]["id"],
        "media_id": media["media_id"],
        "webhook_id": hook["id"],
        "delivery_id": delivery["id"],
        "group_id": group["id"],
        "mirror_id": mirror["id"],
        "role_id": role["id"],
        "user_id": member["id"],
        "key_id": str(key_id),
        "platform": "mastodon",
        "validation_id": validation["id"],
        "export_id": export["export_id"],
    }


async def _scoped_key(stack: Stack, tenant: Tenant, permissions: set[str]) -> dict[str, str]:
    key = new_api_key()
    async with stack.resources.sessions() as session, session.begin():
        session.add(
            ApiKey(
                workspace_id=tenant.workspace_id,
                name="matrix",
                key_digest=api_key_digest(key),
                key_prefix=key[:10],
                permissions=sorted(permissions),
            )
        )
    return {"Authorization": f"Bearer {key}"}


async def _member_with(stack: Stack, tenant: Tenant, permissions: set[str]) -> dict[str, str]:
    """A member whose custom role holds `permissions`, with an access token (minted as a login
    would, without spending the login throttle)."""
    now = datetime.now(UTC)
    async with stack.resources.sessions() as session, session.begin():
        role = Role(
            workspace_id=tenant.workspace_id,
            name=f"matrix-{uuid.uuid4().hex[:8]}",
            permissions=sorted(permissions),
        )
        email = f"m{uuid.uuid4().hex[:10]}@example.com"
        user = User(email=email, email_key=email, name="M", password_hash="unused")
        session.add_all([role, user])
        await session.flush()
        session.add(Member(workspace_id=tenant.workspace_id, user_id=user.id, role_id=role.id))
        login = AuthSession(user_id=user.id, created_at=now)
        session.add(login)
        await session.flush()
        token = stack.resources.auth.tokens.issue(user.id, login.id, now)
    return as_user({"access_token": token})


def _url(path: str, ids: dict[str, str]) -> str:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    unknown = [n for n in names if n not in ids]
    assert not unknown, f"{path}: no test id for {unknown}; add one to _resources_of"
    for name in names:
        path = path.replace("{" + name + "}", ids[name])
    return path


async def _call(
    stack: Stack, operation: Operation, url: str, headers: dict[str, str]
) -> tuple[int, str]:
    response = await stack.api.request(
        operation.method.upper(), url, json=operation.body, headers=headers
    )
    return response.status_code, response.text


@pytest.fixture
async def matrix(stack: Stack) -> tuple[list[Operation], Tenant, dict[str, str], dict[str, str]]:
    schema = (await stack.api.get("/openapi.json")).json()
    tenant = await stack.new_tenant()
    other = await stack.new_tenant()
    own = await _resources_of(stack, tenant)
    theirs = await _resources_of(stack, other)
    bodies = Bodies(schema, own)
    operations = []
    unmarked = []
    for method, path, op in _operations(schema):
        permission = op.get("x-herald-permission")
        if permission is None and (method, path) not in ANY_USER:
            unmarked.append(f"{method.upper()} {path}")
        if permission is not None:
            assert permission in {p.value for p in Permission}, (method, path, permission)
            names_an_id = any(
                p["in"] == "path" and p.get("schema", {}).get("format") == "uuid"
                for p in op.get("parameters", [])
            )
            operations.append(Operation(method, path, permission, bodies.of(op), names_an_id))
    assert not unmarked, f"operations that need a caller but declare no permission: {unmarked}"
    assert len(operations) > 60  # the document was read, not an empty one
    return operations, tenant, own, theirs


async def test_a_caller_lacking_an_operations_permission_is_refused_and_one_holding_it_is_not(
    stack: Stack, matrix: tuple[list[Operation], Tenant, dict[str, str], dict[str, str]]
) -> None:
    operations, tenant, own, _ = matrix
    needed = sorted({op.permission for op in operations if op.permission != READ})
    assert set(needed) <= {p.value for p in GRANTABLE}
    everything = {p.value for p in GRANTABLE}
    lacking = {
        permission: [
            ("API key", await _scoped_key(stack, tenant, everything - {permission})),
            ("member", await _member_with(stack, tenant, everything - {permission})),
        ]
        for permission in needed
    }
    nothing_but_reading = [
        ("API key", await _scoped_key(stack, tenant, set())),
        ("viewer", await _member_with(stack, tenant, set(VIEWER.permissions))),
    ]
    holder = tenant.headers  # every permission
    # The holder's calls name ids that do not exist (its writes must not remove what the other
    # calls use); the path's workspace is the real one, so the call passes the workspace check.
    ids = {**{name: str(uuid.uuid4()) for name in own}, "workspace_id": own["workspace_id"]}
    ids["platform"] = own["platform"]
    problems = []
    for operation in operations:
        url = _url(operation.path, ids)
        callers = (
            nothing_but_reading if operation.permission == READ else lacking[operation.permission]
        )
        for who, headers in callers:
            status, text = await _call(stack, operation, url, headers)
            refused = status == 403 and '"FORBIDDEN"' in text
            if operation.permission == READ and status == 403:
                problems.append(f"{operation}: {who} with read access got 403: {text}")
            elif operation.permission != READ and not refused:
                problems.append(
                    f"{operation}: {who} without {operation.permission} got {status}: {text}"
                )
        status, text = await _call(stack, operation, url, holder)
        if status == 403 or status >= 500:
            problems.append(
                f"{operation}: the holder of {operation.permission} got {status}: {text}"
            )
    assert not problems, "\n".join(problems)


async def test_another_workspaces_ids_answer_404(
    stack: Stack, matrix: tuple[list[Operation], Tenant, dict[str, str], dict[str, str]]
) -> None:
    operations, tenant, _, theirs = matrix
    problems = []
    with_ids = [op for op in operations if op.names_an_id]
    assert len(with_ids) > 40
    for operation in with_ids:
        url = _url(operation.path, theirs)
        status, text = await _call(stack, operation, url, tenant.headers)
        if status != 404 or '"NOT_FOUND"' not in text:
            problems.append(f"{operation} with the other workspace's ids: {status}: {text}")
    assert not problems, "\n".join(problems)
