"""`herald-mcp`: Herald's posts as tools for AI agents, on the official MCP Python SDK, over
stdio or streamable HTTP. It calls Herald's API with one API key (HERALD_API_KEY), so the
key's scope is what the agent may do: a tool the key does not allow answers a tool error
naming the missing permission. Every write carries an Idempotency-Key (the agent's, or one
per call), reused by the client's retries."""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import ParamSpec, TypeVar

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from herald_client import AsyncHeraldClient, HeraldAPIError
from herald_client.models import Account, Media, Post, Validation

DEFAULT_URL = "http://127.0.0.1:8000"
MEDIA_WAIT_S = 60.0  # how long upload_media_from_url waits for Herald's import to settle

P = ParamSpec("P")
R = TypeVar("R")

READ = ToolAnnotations(readOnlyHint=True, openWorldHint=False)
WRITE = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True)
IDEMPOTENCY_HELP = (
    "A key of yours for this write (1-255 printable characters). Sending the same call again "
    "with the same key does nothing twice: use it when you retry after an unclear outcome. "
    "One is made for each call when omitted."
)


class PostList(BaseModel):
    posts: list[Post]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: none")


def _explained(error: HeraldAPIError) -> str:
    lines = [f"Herald refused: {error.code} (HTTP {error.status}): {error.message}"]
    lines += [f"- {d.path}: {d.message}" for d in error.details]
    if error.request_id:
        lines.append(f"request id: {error.request_id}")
    return "\n".join(lines)


def _tool_errors(tool: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Herald's refusals as tool errors the agent reads and can act on, not crashes."""

    @functools.wraps(tool)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await tool(*args, **kwargs)
        except HeraldAPIError as error:
            raise ToolError(_explained(error)) from error
        except (ValueError, TimeoutError) as error:
            raise ToolError(str(error)) from error

    return run


def build_server(herald: AsyncHeraldClient, default_brand_id: str | None = None) -> MCPServer:
    server: MCPServer = MCPServer(
        "herald",
        instructions=(
            "Herald publishes and schedules social media posts. List accounts first; "
            "validate a post before creating it; times are RFC 3339 with an offset."
        ),
    )

    async def brand_of(account_ids: Sequence[str]) -> str:
        if default_brand_id:
            return default_brand_id
        async for account in herald.iter_accounts():
            if not account_ids or account.id in account_ids:
                return account.brand_id
        raise ValueError("no account to take the brand from: connect one, or set HERALD_BRAND_ID")

    @server.tool(annotations=READ)
    @_tool_errors
    async def list_accounts(platform: str | None = None) -> list[Account]:
        """The social accounts posts can go to (their ids are what create_post takes), on
        one platform (mastodon, bluesky, x, linkedin, facebook, instagram, threads, tiktok)
        or all."""
        return [a async for a in herald.iter_accounts(platform=platform)]

    @server.tool(annotations=READ)
    @_tool_errors
    async def validate_post(
        content: str, account_ids: list[str], media_ids: list[str] | None = None
    ) -> Validation:
        """Checks a post against each target platform's rules (length as the platform
        counts it, media, ...) without making it: `valid`, and each target's problems."""
        return await herald.validate_post(content, account_ids, media_ids=media_ids or ())

    @server.tool(annotations=WRITE)
    @_tool_errors
    async def create_post(
        content: str,
        account_ids: list[str],
        scheduled_at: str | None = Field(
            default=None,
            description="RFC 3339 time with offset, e.g. 2026-12-24T09:00:00+01:00; "
            "omit to publish now",
        ),
        media_ids: list[str] | None = None,
        draft: bool = False,
        idempotency_key: str | None = Field(default=None, description=IDEMPOTENCY_HELP),
    ) -> Post:
        """Makes a post to the accounts: published now, scheduled at `scheduled_at`, or kept
        as a draft. Answers the post; its `status` and each target's tell the outcome so
        far (see get_post_outcome)."""
        return await herald.create_post(
            content,
            account_ids,
            media_ids=media_ids or (),
            scheduled_at=scheduled_at,
            publish_now=scheduled_at is None and not draft,
            draft=draft,
            idempotency_key=idempotency_key,
        )

    @server.tool(annotations=READ)
    @_tool_errors
    async def list_posts(
        status: str | None = Field(
            default=None,
            description="draft, scheduled, queued, processing, published, partial, failed, "
            "cancelled, ...",
        ),
        platform: str | None = None,
        limit: int = Field(default=20, ge=1, le=100),
        cursor: str | None = None,
    ) -> PostList:
        """Posts, newest first, a page at a time."""
        page = await herald.list_posts(status=status, platform=platform, limit=limit, cursor=cursor)
        return PostList(posts=page.data, next_cursor=page.next_cursor)

    @server.tool(annotations=READ)
    @_tool_errors
    async def get_post_outcome(post_id: str) -> Post:
        """A post and each target's outcome: status (published, failed, ...), the URL of
        what was published, or the platform's error and whether it is retryable."""
        return await herald.get_post(post_id)

    @server.tool(annotations=WRITE)
    @_tool_errors
    async def retry_post(
        post_id: str,
        idempotency_key: str | None = Field(default=None, description=IDEMPOTENCY_HELP),
    ) -> Post:
        """Publishes a post's failed targets again."""
        result = await herald.retry_post(post_id, idempotency_key=idempotency_key)
        return result.post

    @server.tool(annotations=WRITE)
    @_tool_errors
    async def cancel_post(
        post_id: str,
        idempotency_key: str | None = Field(default=None, description=IDEMPOTENCY_HELP),
    ) -> Post:
        """Cancels a scheduled or queued post before it publishes."""
        return await herald.cancel_post(post_id, idempotency_key=idempotency_key)

    @server.tool(annotations=WRITE)
    @_tool_errors
    async def upload_media_from_url(
        url: str,
        filename: str | None = None,
        idempotency_key: str | None = Field(default=None, description=IDEMPOTENCY_HELP),
    ) -> Media:
        """Has Herald fetch an image or video from a public URL into the media library, and
        waits (up to a minute) until it is `ready` (its `id` goes in create_post's
        media_ids) or `failed` (with `failure_reason`)."""
        media = await herald.import_media(
            url,
            brand_id=await brand_of(()),
            filename=filename,
            idempotency_key=idempotency_key,
        )
        deadline = time.monotonic() + MEDIA_WAIT_S
        while media.status == "pending" and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            media = await herald.get_media(media.id)
        return media

    return server


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="herald-mcp",
        description="Herald's API as MCP tools. Needs HERALD_API_KEY; HERALD_URL (default "
        f"{DEFAULT_URL}) and HERALD_BRAND_ID (media imports) are optional.",
    )
    parser.add_argument("--transport", choices=("stdio", "streamable-http"), default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="streamable HTTP: address")
    parser.add_argument("--port", type=int, default=8765, help="streamable HTTP: port")
    parser.add_argument("--url", default=os.environ.get("HERALD_URL", DEFAULT_URL))
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    key = os.environ.get("HERALD_API_KEY")
    if not key:
        print("herald-mcp: set HERALD_API_KEY to a Herald API key (hk_...)", file=sys.stderr)
        return 2
    # stdout is the stdio transport's: logs go to stderr.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    herald = AsyncHeraldClient(args.url, key)
    server = build_server(herald, os.environ.get("HERALD_BRAND_ID") or None)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
