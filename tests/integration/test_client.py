"""The Python client (clients/python, herald-client) against a real Herald over HTTP: the
suite's API on its port, its worker, the emulator. Faults come from a proxy the test owns
(tests/support/http_faults.py)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from herald_client import AsyncHeraldClient, HeraldAPIError, HeraldClient, verify_webhook
from herald_client.retry import RetryPolicy
from tests.support.http_faults import HttpFaultProxy
from tests.support.receiver import Receiver, running_receiver
from tests.support.stack import Stack, Tenant

# The client only speaks HTTP: the database behind Herald changes nothing it does (paging
# itself is tested on both databases in tests/integration/test_list_paging.py).
pytestmark = pytest.mark.sqlite_only


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
async def proxy(stack: Stack) -> AsyncIterator[HttpFaultProxy]:
    running = HttpFaultProxy("127.0.0.1", stack.settings.api_port)
    await running.start()
    try:
        yield running
    finally:
        await running.close()


def _client(url: str, tenant: Tenant) -> AsyncHeraldClient:
    return AsyncHeraldClient(url, tenant.api_key, retry=RetryPolicy(backoff_s=0.1))


async def test_a_post_made_with_the_client_is_waited_for_until_published(stack: Stack) -> None:
    tenant = await stack.new_tenant(("mastodon", "bluesky"))
    async with _client(stack.settings.api_url, tenant) as herald:
        post = await herald.create_post(
            "Hello from the client",
            [str(tenant.accounts["mastodon"]), str(tenant.accounts["bluesky"])],
            publish_now=True,
        )
        assert post.status in {"queued", "processing", "scheduled"}
        done = await herald.wait_for(post.id, timeout_s=60, interval_s=0.2)
    assert done.status == "published"
    assert {t.platform: t.status for t in done.targets} == {
        "mastodon": "published",
        "bluesky": "published",
    }
    assert all(t.platform_post_url for t in done.targets)
    texts = [
        p["text"] for p in await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])
    ]
    assert texts == ["Hello from the client"]


async def test_the_sync_client_does_the_same(stack: Stack) -> None:
    tenant = await stack.new_tenant()

    def publish() -> tuple[str, str]:
        with HeraldClient(stack.settings.api_url, tenant.api_key) as herald:
            post = herald.create_post(
                "Hello, synchronously", [str(tenant.accounts["mastodon"])], publish_now=True
            )
            return post.id, herald.wait_for(post.id, timeout_s=60, interval_s=0.2).status

    # In a thread: the suite's worker runs on this event loop, which must keep turning.
    post_id, status = await asyncio.to_thread(publish)
    assert status == "published"
    with pytest.raises(HeraldAPIError) as refused:
        await asyncio.to_thread(
            lambda: HeraldClient(stack.settings.api_url, tenant.api_key).get_post(str(uuid.uuid4()))
        )
    assert refused.value.code == "NOT_FOUND" and refused.value.status == 404
    assert refused.value.request_id and refused.value.request_id.startswith("req_")
    assert post_id


async def test_a_create_whose_answer_is_lost_is_sent_again_and_makes_one_post(
    stack: Stack, proxy: HttpFaultProxy
) -> None:
    tenant = await stack.new_tenant()
    proxy.drop_answers("POST /v1/posts ")
    async with _client(proxy.url, tenant) as herald:
        post = await herald.create_post(
            "Said once", [str(tenant.accounts["mastodon"])], publish_now=True
        )
        await herald.wait_for(post.id, timeout_s=60, interval_s=0.2)
        made = [p async for p in herald.iter_posts()]
    sent = proxy.requests_to("POST /v1/posts ")
    assert proxy.dropped == 1 and len(sent) == 2
    keys = {r.headers["idempotency-key"] for r in sent}
    assert len(keys) == 1, "the retry reuses the first attempt's Idempotency-Key"
    assert [p.id for p in made] == [post.id]
    posted = await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])
    assert [p["text"] for p in posted] == ["Said once"]


async def test_a_429_is_waited_out_for_its_retry_after(stack: Stack, proxy: HttpFaultProxy) -> None:
    tenant = await stack.new_tenant()
    proxy.answer_429("POST /v1/posts ", retry_after_s=1)
    async with _client(proxy.url, tenant) as herald:
        started = time.monotonic()
        post = await herald.create_post("Patience", [str(tenant.accounts["mastodon"])], draft=True)
        waited = time.monotonic() - started
        made = [p.id async for p in herald.iter_posts()]
    assert proxy.refused == 1 and waited >= 1.0
    assert made == [post.id]
    sent = proxy.requests_to("POST /v1/posts ")
    assert len({r.headers["idempotency-key"] for r in sent}) == 1

    # Longer than the policy waits: the 429 is raised, with the contract's fields.
    proxy.answer_429("GET /v1/posts", retry_after_s=120)
    async with _client(proxy.url, tenant) as herald:
        with pytest.raises(HeraldAPIError) as raised:
            await herald.get_post(post.id)
    assert raised.value.code == "RATE_LIMITED" and raised.value.status == 429


async def test_a_connection_that_never_answers_is_one_error(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    closed = HttpFaultProxy("127.0.0.1", stack.settings.api_port)
    await closed.start()
    await closed.close()  # its port now refuses connections
    policy = RetryPolicy(max_attempts=3, backoff_s=0.05)
    async with AsyncHeraldClient(closed.url, tenant.api_key, retry=policy) as herald:
        with pytest.raises(HeraldAPIError) as raised:
            await herald.create_post("never", [str(tenant.accounts["mastodon"])], draft=True)
    assert raised.value.code == "CONNECTION_ERROR" and raised.value.status is None


async def test_a_webhook_body_verifies_with_its_secret_and_a_changed_one_does_not(
    stack: Stack, receiver: Receiver
) -> None:
    tenant = await stack.new_tenant()
    path = f"/client-hooks/{uuid.uuid4().hex[:8]}"
    async with _client(stack.settings.api_url, tenant) as herald:
        endpoint = await herald.create_webhook(receiver.url + path, ["post.published"])
        post = await herald.create_post(
            "Signed news", [str(tenant.accounts["mastodon"])], publish_now=True
        )
        await herald.wait_for(post.id, timeout_s=60, interval_s=0.2)
    [delivery] = await receiver.wait_for(path, 1, event_type="post.published")
    event = verify_webhook(delivery.headers, delivery.body, endpoint.secret)
    assert event["type"] == "post.published" and event["data"]["id"] == post.id
    with pytest.raises(HeraldAPIError) as forged:
        verify_webhook(
            delivery.headers, delivery.body.replace(b"Signed", b"Forged"), endpoint.secret
        )
    assert forged.value.code == "INVALID_SIGNATURE"


async def test_iterators_walk_250_posts_across_pages_once_each(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    account = str(tenant.accounts["mastodon"])
    async with _client(stack.settings.api_url, tenant) as herald:
        made: list[str] = []
        for batch in range(3):
            count = 100 if batch < 2 else 50
            result = await herald.bulk_create_posts(
                [
                    {
                        "content": f"draft {batch}-{i}",
                        "draft": True,
                        "targets": [{"account_id": account}],
                    }
                    for i in range(count)
                ]
            )
            assert all(item.status == 201 and item.post for item in result.results)
            made += [item.post.id for item in result.results if item.post]
        walked: list[str] = []
        async for post in herald.iter_posts(page_size=40):
            walked.append(post.id)
            if len(walked) == 100:  # posts made mid-walk are newer: they come before the cursor
                await herald.create_post("made meanwhile", [account], draft=True)
        drafts = [p.id async for p in herald.iter_posts(status="draft", page_size=100)]
    assert len(walked) == 250 and len(set(walked)) == 250
    assert set(walked) == set(made)
    assert len(drafts) == 251 and set(made) < set(drafts)
