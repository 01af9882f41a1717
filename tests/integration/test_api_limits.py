"""Limits before work and answers that keep the connection: a body over the cap is refused
with 413 before it is read whole, control characters in JSON text are a 400, and an error no
handler expected is the contract's 500 on a connection that still serves the next request, and
a request the HTTP parser itself refuses is answered in the contract's shape too."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.errors import UnexpectedErrorMiddleware, install_error_handlers
from api.http_protocol import PROTOCOL, ContractH11Protocol
from api.middleware import RequestIdMiddleware
from tests.support.servers import free_port, serve_in_thread
from tests.support.stack import Stack


async def test_a_body_over_the_cap_is_refused_before_it_is_read(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    cap = stack.settings.api_max_body_bytes
    declared = await stack.api.post(
        "/v1/posts",
        content=b"{" + b" " * cap + b"}",
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert declared.status_code == 413, declared.text
    assert declared.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        nonlocal sent
        for _ in range(cap // 65536 * 4):
            sent += 1
            yield b" " * 65536

    streamed = await stack.api.post(
        "/v1/posts",
        content=chunks(),
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413, streamed.text
    assert sent <= cap // 65536 + 2  # stopped at the cap, not at the end of the body


async def test_control_characters_in_json_text_are_refused(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    account = str(tenant.accounts["mastodon"])

    async def create(content: str, **options: object) -> httpx.Response:
        target: dict[str, object] = {"account_id": account}
        if options:
            target["options"] = options
        body = {"content": content, "draft": True, "targets": [target]}
        return await stack.api.post(
            "/v1/posts",
            content=json.dumps(body),
            headers={**tenant.headers, "Content-Type": "application/json"},
        )

    for bad in ("nul \x00 here", "bell \x07", "escape \x1b[31m", "del \x7f"):
        refused = await create(bad)
        assert refused.status_code == 400, refused.text
        assert "control characters" in refused.json()["error"]["message"]
    listed = await stack.api.get(
        "/v1/posts", params={"platform": "nul \x00 inside"}, headers=tenant.headers
    )
    assert listed.status_code == 400, listed.text
    assert "control characters" in listed.json()["error"]["message"]
    nested = await create("fine", thread=["part \x00"])
    assert nested.status_code == 400, nested.text
    # Tabs and newlines are text; a backslash before "u0000" is too.
    fine = await create("tab\tnewline\nand a literal \\u0000")
    assert fine.status_code == 201, fine.text
    assert fine.json()["content"] == "tab\tnewline\nand a literal \\u0000"


async def test_an_unexpected_error_is_a_500_and_the_connection_serves_on() -> None:
    app = FastAPI()
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/fine")
    async def fine() -> dict[str, bool]:
        return {"ok": True}

    with serve_in_thread(app, free_port()) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            failed = await client.get("/boom", headers={"X-Request-Id": "req-1"})
            assert failed.status_code == 500
            assert failed.json()["error"] == {
                "code": "INTERNAL_ERROR",
                "message": "an internal error occurred",
                "details": [],
                "request_id": "req-1",
            }
            answered = await client.get("/fine")  # the same keep-alive connection
            assert answered.json() == {"ok": True}
            assert failed.extensions["network_stream"] is answered.extensions["network_stream"]


@pytest.mark.parametrize("protocol", ["h11", "httptools"])
async def test_an_idempotency_key_with_a_control_character_gets_the_contract_error_shape(
    stack: Stack, protocol: str
) -> None:
    """Over real HTTP, with `herald api`'s protocol for either parser uvicorn may use: h11
    lets the header through to the app, which refuses the key; httptools refuses the request
    before any app code runs, and the protocol answers in the contract's shape all the same."""
    tenant = await stack.new_tenant()
    chosen = ContractH11Protocol if protocol == "h11" else PROTOCOL
    if protocol == "httptools" and chosen is ContractH11Protocol:
        pytest.skip("httptools is not installed")
    with serve_in_thread(create_app(stack.settings), free_port(), http=chosen) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /v1/posts HTTP/1.1\r\nHost: herald\r\nIdempotency-Key: a\x01b\r\n"
            + f"Authorization: Bearer {tenant.api_key}\r\n".encode()
            + b"Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n"
            b"\r\n{}"
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer
    assert b"content-type: application/json" in head.lower()
    error = json.loads(body)["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["request_id"], error
