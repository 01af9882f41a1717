"""`herald-mcp` (clients/python) driven by the official `mcp` client library: over stdio as a
subprocess an agent's host launches, and over streamable HTTP, against the suite's Herald."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.types import CallToolResult, TextContent

from herald.crypto import api_key_digest, new_api_key
from herald.db.models import ApiKey
from tests.support.media_files import png
from tests.support.servers import free_port, serve_in_thread
from tests.support.stack import Stack, Tenant

SERVER = Path(sys.executable).parent / "herald-mcp"
TOOLS = {
    "list_accounts",
    "validate_post",
    "create_post",
    "list_posts",
    "get_post_outcome",
    "retry_post",
    "cancel_post",
    "upload_media_from_url",
}

# The MCP server only speaks HTTP: the database behind Herald changes nothing it does.
pytestmark = pytest.mark.sqlite_only


@pytest.fixture(scope="module")
def picture_url(file_server_port: int) -> Iterator[str]:
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def picture(_: Any) -> Response:
        return Response(png(40, 30), media_type="image/png")

    with serve_in_thread(Starlette(routes=[Route("/agent.png", picture)]), file_server_port):
        yield f"http://localhost:{file_server_port}/agent.png"


def _stdio(stack: Stack, api_key: str) -> Client:
    return Client(
        StdioServerParameters(
            command=str(SERVER),
            env={"HERALD_API_KEY": api_key, "HERALD_URL": stack.settings.api_url},
        ),
        read_timeout_seconds=60,
    )


async def _key_with(stack: Stack, tenant: Tenant, permissions: list[str]) -> str:
    key = new_api_key()
    async with stack.resources.sessions() as session, session.begin():
        session.add(
            ApiKey(
                workspace_id=tenant.workspace_id,
                name="agent",
                key_digest=api_key_digest(key),
                key_prefix=key[:10],
                permissions=permissions,
            )
        )
    return key


def _structured(result: CallToolResult) -> Any:
    assert not result.is_error, result.content
    return result.structured_content


def _text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def _outcome(client: Client, post_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        post: dict[str, Any] = _structured(
            await client.call_tool("get_post_outcome", {"post_id": post_id})
        )
        if post["status"] in {"published", "partial", "failed", "cancelled"}:
            return post
        if time.monotonic() > deadline:
            raise AssertionError(f"the post stayed {post['status']}: {post}")
        await asyncio.sleep(0.3)


async def test_an_agent_over_stdio_schedules_a_post_and_reads_its_outcome(
    stack: Stack, picture_url: str
) -> None:
    tenant = await stack.new_tenant(("mastodon", "bluesky"))
    async with _stdio(stack, tenant.api_key) as client:
        listed = await client.list_tools()
        assert {t.name for t in listed.tools} == TOOLS

        accounts = _structured(await client.call_tool("list_accounts", {}))["result"]
        ids = {a["platform"]: a["id"] for a in accounts}
        assert set(ids) == {"mastodon", "bluesky"}

        too_long = _structured(
            await client.call_tool(
                "validate_post", {"content": "x" * 501, "account_ids": [ids["mastodon"]]}
            )
        )
        assert too_long["valid"] is False
        assert too_long["targets"][0]["problems"]

        media = _structured(await client.call_tool("upload_media_from_url", {"url": picture_url}))
        assert media["status"] == "ready", media

        at = (datetime.now(UTC) + timedelta(seconds=4)).isoformat()
        key = f"agent-{uuid.uuid4()}"
        arguments = {
            "content": "Scheduled by an agent",
            "account_ids": [ids["mastodon"], ids["bluesky"]],
            "scheduled_at": at,
            "media_ids": [media["id"]],
            "idempotency_key": key,
        }
        scheduled = _structured(await client.call_tool("create_post", arguments))
        assert scheduled["status"] == "scheduled"
        again = _structured(await client.call_tool("create_post", arguments))
        assert again["id"] == scheduled["id"], "the same idempotency key makes no second post"

        outcome = await _outcome(client, scheduled["id"])
        assert outcome["status"] == "published"
        assert {t["platform"]: t["status"] for t in outcome["targets"]} == {
            "mastodon": "published",
            "bluesky": "published",
        }
        page = _structured(await client.call_tool("list_posts", {"status": "published"}))
        assert [p["id"] for p in page["posts"]] == [scheduled["id"]]

        missing = await client.call_tool("cancel_post", {"post_id": str(uuid.uuid4())})
        assert missing.is_error and "NOT_FOUND" in _text(missing)
    for platform in ("mastodon", "bluesky"):
        [made] = await stack.emulator_posts(platform, tenant.usernames[platform])
        assert made["text"] == "Scheduled by an agent"


async def test_a_key_without_posts_create_gets_a_tool_error_and_the_server_carries_on(
    stack: Stack,
) -> None:
    tenant = await stack.new_tenant()
    key = await _key_with(stack, tenant, ["posts.schedule"])
    account = str(tenant.accounts["mastodon"])
    async with _stdio(stack, key) as client:
        refused = await client.call_tool(
            "create_post", {"content": "not allowed", "account_ids": [account]}
        )
        assert refused.is_error
        assert "FORBIDDEN" in _text(refused) and "posts.create" in _text(refused)
        # Still serving: reading needs no permission beyond membership.
        accounts = _structured(await client.call_tool("list_accounts", {}))["result"]
        assert [a["id"] for a in accounts] == [account]
    assert await stack.emulator_posts("mastodon", tenant.usernames["mastodon"]) == []


@contextlib.asynccontextmanager
async def _http_server(stack: Stack, api_key: str) -> AsyncIterator[str]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        str(SERVER),
        "--transport",
        "streamable-http",
        "--port",
        str(port),
        env={**os.environ, "HERALD_API_KEY": api_key, "HERALD_URL": stack.settings.api_url},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 20
        async with httpx.AsyncClient() as probe:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    await probe.get(url)
                    break
                if time.monotonic() > deadline or process.returncode is not None:
                    raise AssertionError("herald-mcp did not listen on streamable HTTP")
                await asyncio.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def test_the_same_tools_over_streamable_http(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    async with (
        _http_server(stack, tenant.api_key) as url,
        Client(url, read_timeout_seconds=60) as client,
    ):
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        post = _structured(
            await client.call_tool(
                "create_post",
                {"content": "over HTTP", "account_ids": [str(tenant.accounts["mastodon"])]},
            )
        )
        outcome = await _outcome(client, post["id"])
        assert outcome["status"] == "published"
