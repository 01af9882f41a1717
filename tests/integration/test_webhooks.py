"""Webhooks end to end: a real receiver (tests/support/receiver.py) verifies every delivery
with the reference `standardwebhooks` library, never with Herald's own signer."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import update
from standardwebhooks import Webhook, WebhookVerificationError

from api.app import create_app
from api.resources import Resources
from herald.db.models import WebhookEndpoint
from tests.integration.test_media import MediaClient
from tests.support.media_files import png
from tests.support.oauth import callback, consent, new_platform_user
from tests.support.receiver import Received, Receiver, running_receiver
from tests.support.stack import Stack, Tenant


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


async def _subscribe(
    stack: Stack, tenant: Tenant, receiver: Receiver, events: list[str]
) -> tuple[dict[str, Any], str]:
    """An endpoint on a path of its own; returns it and that path."""
    path = f"/hooks/{uuid.uuid4().hex[:8]}"
    created = await stack.api.post(
        "/v1/webhooks",
        json={"url": receiver.url + path, "events": events, "description": "test"},
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    return cast(dict[str, Any], created.json()), path


def _verified(received: Received, secret: str) -> dict[str, Any]:
    verified: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return verified


async def _deliveries(
    stack: Stack, tenant: Tenant, endpoint_id: str, **params: Any
) -> list[dict[str, Any]]:
    listed = await stack.api.get(
        f"/v1/webhooks/{endpoint_id}/deliveries", params=params, headers=tenant.headers
    )
    assert listed.status_code == 200, listed.text
    return cast(list[dict[str, Any]], listed.json()["data"])


async def _settled(
    stack: Stack,
    tenant: Tenant,
    endpoint_id: str,
    state: str,
    timeout_s: float = 20,
    count: int = 1,
) -> dict[str, Any]:
    """The newest delivery, once there are `count` and the newest `count` are all in `state`
    (the dispatcher may find a test's events in more than one pass)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = await _deliveries(stack, tenant, endpoint_id)
        if len(found) >= count and all(d["state"] == state for d in found[:count]):
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no {state} delivery in {timeout_s} s: {found}")
        await asyncio.sleep(0.1)


async def test_a_published_post_reaches_its_subscriber_signed_with_its_outcomes(
    stack: Stack, receiver: Receiver
) -> None:
    tenant = await stack.new_tenant()
    endpoint, path = await _subscribe(stack, tenant, receiver, ["post.published"])
    assert endpoint["secret"].startswith("whsec_")
    created = await stack.api.post(
        "/v1/posts",
        json={
            "content": "Tell the hook",
            "publish_now": True,
            "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
        },
        headers=tenant.headers,
    )
    post = await stack.wait_for_post(tenant, created.json()["id"])
    [received] = await receiver.wait_for(path, 1)
    event = _verified(received, endpoint["secret"])
    assert event["type"] == "post.published"
    assert event["data"]["id"] == post["id"] and event["data"]["status"] == "published"
    [target] = event["data"]["targets"]
    assert target["platform_post_url"] == post["targets"][0]["platform_post_url"]
    assert target["status"] == "published" and target["platform_post_url"]
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(received.body, received.headers)
    delivery = await _settled(stack, tenant, endpoint["id"], "delivered")
    assert delivery["message_id"] == received.headers["webhook-id"]
    assert [a["status_code"] for a in delivery["attempt_log"]] == [200]
    # The secret is shown on create only.
    again = await stack.api.get(f"/v1/webhooks/{endpoint['id']}", headers=tenant.headers)
    assert "secret" not in again.json() and again.json()["is_active"] is True


async def test_failed_attempts_are_retried_under_one_webhook_id(
    stack: Stack, receiver: Receiver
) -> None:
    tenant = await stack.new_tenant()
    endpoint, path = await _subscribe(stack, tenant, receiver, ["*"])
    receiver.answer(path, 500)
    test = await stack.api.post(f"/v1/webhooks/{endpoint['id']}/test", headers=tenant.headers)
    assert test.json()["state"] == "failed"  # a test is one attempt, answered as it went
    receiver.answer(path, 500, 500, 500)
    draft = await stack.new_draft(tenant, "a draft")
    attempts = await receiver.wait_for(path, 4, event_type="post.created")
    assert len({a.headers["webhook-id"] for a in attempts}) == 1
    for attempt in attempts:
        assert _verified(attempt, endpoint["secret"])["data"]["id"] == draft["id"]
    delivery = await _settled(stack, tenant, endpoint["id"], "delivered")
    assert delivery["event_type"] == "post.created"
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 500, 500, 200]
    assert delivery["attempts"] == 4 and delivery["last_response"] == "answered 200"


async def test_a_receiver_down_for_the_whole_schedule_fails_and_is_sent_again_on_retry(
    stack: Stack, receiver: Receiver
) -> None:
    tenant = await stack.new_tenant()
    endpoint, path = await _subscribe(stack, tenant, receiver, ["post.created"])
    receiver.answer(path, *[503] * 4)
    await stack.new_draft(tenant, "x")
    failed = await _settled(stack, tenant, endpoint["id"], "failed")
    assert failed["attempts"] == 4 and failed["last_status_code"] == 503
    assert await _deliveries(stack, tenant, endpoint["id"], state="delivered") == []
    retried = await stack.api.post(
        f"/v1/webhooks/{endpoint['id']}/deliveries/{failed['id']}/retry", headers=tenant.headers
    )
    assert retried.status_code == 202, retried.text
    delivered = await _settled(stack, tenant, endpoint["id"], "delivered")
    assert delivered["id"] == failed["id"] and delivered["attempts"] == 5
    sent = receiver.at(path)
    assert len(sent) == 5 and len({r.headers["webhook-id"] for r in sent}) == 1


async def test_a_410_switches_the_endpoint_off_and_says_why(
    stack: Stack, receiver: Receiver
) -> None:
    tenant = await stack.new_tenant()
    endpoint, path = await _subscribe(stack, tenant, receiver, ["post.created"])
    receiver.answer(path, 410)
    await stack.new_draft(tenant, "x")
    await _settled(stack, tenant, endpoint["id"], "failed")
    got = (await stack.api.get(f"/v1/webhooks/{endpoint['id']}", headers=tenant.headers)).json()
    assert got["is_active"] is False and "410" in got["disabled_reason"]
    assert len(receiver.at(path)) == 1  # never retried


async def test_the_test_event_and_a_redirect_that_is_not_followed(
    stack: Stack, receiver: Receiver
) -> None:
    tenant = await stack.new_tenant()
    endpoint, path = await _subscribe(stack, tenant, receiver, ["post.published"])
    answered = await stack.api.post(f"/v1/webhooks/{endpoint['id']}/test", headers=tenant.headers)
    assert answered.status_code == 200, answered.text
    assert answered.json()["state"] == "delivered"
    assert answered.json()["attempt_log"][0]["status_code"] == 200
    [received] = receiver.at(path)
    assert _verified(received, endpoint["secret"])["type"] == "webhook.test"
    receiver.answer(path, 307)
    redirected = await stack.api.post(f"/v1/webhooks/{endpoint['id']}/test", headers=tenant.headers)
    assert redirected.json()["state"] == "failed"
    assert redirected.json()["last_status_code"] == 307
    assert receiver.at("/redirected") == []


async def test_during_a_rotation_each_secret_alone_verifies_then_only_the_new_one(
    stack: Stack, receiver: Receiver
) -> None:
    tenant = await stack.new_tenant()
    endpoint, path = await _subscribe(stack, tenant, receiver, ["webhook.test"])
    old = endpoint["secret"]
    # An API whose overlap is a second: what the worker signs with is read from the endpoint.
    settings = stack.settings.model_copy(update={"webhook_secret_overlap_s": 1.0})
    resources = Resources.build(settings)
    resources.temporal = stack.resources.temporal
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, resources)),
            base_url="http://herald",
        ) as api:
            rotated = await api.post(
                f"/v1/webhooks/{endpoint['id']}/rotate-secret", headers=tenant.headers
            )
            assert rotated.status_code == 200, rotated.text
            new = rotated.json()["secret"]
            assert new != old and new.startswith("whsec_")
            await api.post(f"/v1/webhooks/{endpoint['id']}/test", headers=tenant.headers)
            [during] = receiver.at(path)
            assert len(during.headers["webhook-signature"].split(" ")) == 2
            assert _verified(during, old) == _verified(during, new)
            await asyncio.sleep(1.2)
            await api.post(f"/v1/webhooks/{endpoint['id']}/test", headers=tenant.headers)
            after = receiver.at(path)[1]
            assert _verified(after, new)["type"] == "webhook.test"
            with pytest.raises(WebhookVerificationError):
                _verified(after, old)
    finally:
        await resources.close()


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost:8443/hook",
        "https://[::1]/hook",
        "http://example.com/hook",
    ],
)
async def test_webhook_urls_must_be_https_and_public(stack: Stack, url: str) -> None:
    tenant = await stack.new_tenant(())
    # The address policy of a deployment, not of herald dev (which allows this machine).
    settings = stack.settings.model_copy(update={"webhook_allow_loopback": False})
    resources = Resources.build(settings)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, resources)),
            base_url="http://herald",
        ) as api:
            refused = await api.post(
                "/v1/webhooks", json={"url": url, "events": ["*"]}, headers=tenant.headers
            )
    finally:
        await resources.close()
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["details"][0]["path"] == "url"


async def test_endpoints_belong_to_their_workspace_and_refuse_unknown_events(
    stack: Stack, receiver: Receiver
) -> None:
    tenant, other = await stack.new_tenant(()), await stack.new_tenant(())
    endpoint, _ = await _subscribe(stack, tenant, receiver, ["post.failed"])
    for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/test"), ("GET", "/deliveries")):
        answer = await stack.api.request(
            method, f"/v1/webhooks/{endpoint['id']}{suffix}", headers=other.headers
        )
        assert answer.status_code == 404, (method, suffix)
    listed = await stack.api.get("/v1/webhooks", headers=other.headers)
    assert listed.json()["data"] == []
    unknown = await stack.api.post(
        "/v1/webhooks",
        json={"url": receiver.url + "/x", "events": ["post.exploded"]},
        headers=tenant.headers,
    )
    assert unknown.status_code == 400 and "post.exploded" in unknown.text
    patched = await stack.api.patch(
        f"/v1/webhooks/{endpoint['id']}",
        json={"events": ["post.published", "post.failed"], "is_active": False},
        headers=tenant.headers,
    )
    assert patched.json()["events"] == ["post.published", "post.failed"]
    assert patched.json()["is_active"] is False
    gone = await stack.api.delete(f"/v1/webhooks/{endpoint['id']}", headers=tenant.headers)
    assert gone.status_code == 204
    assert (
        await stack.api.get(f"/v1/webhooks/{endpoint['id']}", headers=tenant.headers)
    ).status_code == 404


async def _event(receiver: Receiver, path: str, event_type: str, secret: str) -> dict[str, Any]:
    [received] = await receiver.wait_for(path, 1, event_type=event_type)
    return _verified(received, secret)


async def test_each_kind_of_outcome_reaches_the_receiver_signed_with_its_payload(
    stack: Stack, receiver: Receiver
) -> None:
    """A partial post, a failed post, an expired account, a completed upload and an
    approval: each arrives signed, with what API.md documents in `data`."""
    tenant = await stack.new_tenant(("mastodon", "bluesky"))
    endpoint, path = await _subscribe(stack, tenant, receiver, ["*"])
    secret = endpoint["secret"]
    mastodon, bluesky = (str(tenant.accounts[p]) for p in ("mastodon", "bluesky"))
    refused = {"platform": "bluesky", "status": 400, "path": "com.atproto.repo.createRecord"}
    assert (await stack.emulator.post("/_emulator/faults", json=refused)).status_code == 200
    try:
        partial = await stack.api.post(
            "/v1/posts",
            json={
                "content": "half of it",
                "publish_now": True,
                "targets": [{"account_id": mastodon}, {"account_id": bluesky}],
            },
            headers=tenant.headers,
        )
        failed = await stack.api.post(
            "/v1/posts",
            json={
                "content": "none of it",
                "publish_now": True,
                "targets": [{"account_id": bluesky}],
            },
            headers=tenant.headers,
        )
        data = await _event(receiver, path, "post.partial", secret)
        assert data["data"]["id"] == partial.json()["id"]
        outcomes = {t["platform"]: t for t in data["data"]["targets"]}
        assert outcomes["mastodon"]["status"] == "published"
        assert outcomes["mastodon"]["platform_post_url"]
        assert outcomes["bluesky"]["status"] == "failed"
        assert outcomes["bluesky"]["error"]["code"] == "rejected"
        data = await _event(receiver, path, "post.failed", secret)
        assert data["data"]["id"] == failed.json()["id"]
        assert data["data"]["targets"][0]["error"]["message"]
    finally:
        await stack.emulator.delete("/_emulator/faults")

    x = await new_platform_user(stack, "x")
    account = (await callback(stack, "x", await consent(stack, tenant, "x", x))).json()
    await stack.emulator.post(f"/_emulator/accounts/x/{x}/revoke")
    await stack.api.post(f"/v1/accounts/{account['id']}/refresh", headers=tenant.headers)
    data = await _event(receiver, path, "account.expired", secret)
    assert data["data"]["id"] == account["id"] and data["data"]["status"] == "expired"
    assert data["data"]["reason"] and "credentials" not in data["data"]
    connected = await _event(receiver, path, "account.connected", secret)
    assert connected["data"]["id"] == account["id"]

    uploaded = await MediaClient(stack.api, tenant, None).upload("p.png", "image/png", png(8, 8))
    data = await _event(receiver, path, "media.uploaded", secret)
    assert data["data"] == {
        "id": uploaded["id"],
        "mime_type": "image/png",
        "size": uploaded["size"],
    }

    await stack.set_workspace(tenant, approval_required=True)
    reviewer = await stack.second_key(tenant)
    awaiting = await stack.api.post(
        "/v1/posts",
        json={"content": "may I", "publish_now": True, "targets": [{"account_id": mastodon}]},
        headers=tenant.headers,
    )
    data = await _event(receiver, path, "post.approval_requested", secret)
    assert data["data"]["id"] == awaiting.json()["id"]
    assert data["data"]["approval"]["status"] == "pending"
    await stack.api.post(f"/v1/approvals/{awaiting.json()['id']}/approve", headers=reviewer)
    data = await _event(receiver, path, "post.approved", secret)
    assert data["data"]["approval"]["status"] == "approved"
    published = await _event(receiver, path, "post.published", secret)
    assert published["data"]["id"] == awaiting.json()["id"]
    # One resource's events arrive in the order they happened (each succeeded at once).
    of_post = [
        r.event for r in receiver.at(path) if r.event["data"].get("id") == awaiting.json()["id"]
    ]
    assert [e["type"] for e in of_post] == [
        "post.created",
        "post.approval_requested",
        "post.scheduled",  # the approval's own transaction: the status, then the decision
        "post.approved",
        "post.published",
    ]
    versions = [e["data"]["version"] for e in of_post]
    assert versions == sorted(versions)
    # Every delivery of the endpoint was signed and delivered once. A dispatcher settles its
    # batch after the receiver has answered: the log may trail the receipts for a moment.
    for _ in range(50):
        delivered = await _deliveries(stack, tenant, endpoint["id"], state="delivered", limit=100)
        if len(delivered) >= len(receiver.at(path)):
            break
        await asyncio.sleep(0.2)
    assert len(delivered) == len(receiver.at(path))


async def test_switching_an_endpoint_off_stops_its_retries_and_on_again_resends(
    stack: Stack, receiver: Receiver
) -> None:
    tenant = await stack.new_tenant()
    endpoint, path = await _subscribe(stack, tenant, receiver, ["post.created"])
    receiver.answer(path, 500, 500, 500)  # retrying, whatever the machine's pace
    await stack.new_draft(tenant, "x")
    await receiver.wait_for(path, 1)
    url = f"/v1/webhooks/{endpoint['id']}"
    await stack.api.patch(url, json={"is_active": False}, headers=tenant.headers)
    stopped = await _settled(stack, tenant, endpoint["id"], "failed")
    assert stopped["last_error"] == "the endpoint was switched off"
    sent = len(receiver.at(path))
    assert sent < 4  # the schedule was cut short
    refused = await stack.api.post(
        f"{url}/deliveries/{stopped['id']}/retry", headers=tenant.headers
    )
    assert refused.status_code == 409
    await stack.api.patch(url, json={"is_active": True}, headers=tenant.headers)
    retried = await stack.api.post(
        f"{url}/deliveries/{stopped['id']}/retry", headers=tenant.headers
    )
    assert retried.status_code == 202
    receiver.answers[path] = []
    delivered = await _settled(stack, tenant, endpoint["id"], "delivered")
    assert delivered["attempts"] == sent + 1


async def test_an_endpoint_whose_secret_cannot_be_read_holds_up_no_other(
    stack: Stack, receiver: Receiver
) -> None:
    """A secret sealed under another HERALD_SECRET_KEY (a key changed by mistake): that
    endpoint's delivery fails saying what to do, the other endpoint's goes out, and after a
    rotation the retry is delivered under the new secret."""
    tenant = await stack.new_tenant()
    healthy, healthy_path = await _subscribe(stack, tenant, receiver, ["post.created"])
    broken, broken_path = await _subscribe(stack, tenant, receiver, ["post.created"])
    async with stack.resources.sessions() as session, session.begin():
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == uuid.UUID(broken["id"]))
            .values(secret_encrypted=Fernet(Fernet.generate_key()).encrypt(b"{}").decode())
        )
    await stack.new_draft(tenant, "x")
    [received] = await receiver.wait_for(healthy_path, 1)
    assert _verified(received, healthy["secret"])["type"] == "post.created"
    failed = await _settled(stack, tenant, broken["id"], "failed")
    assert "rotate-secret" in failed["last_error"] and receiver.at(broken_path) == []
    rotated = await stack.api.post(
        f"/v1/webhooks/{broken['id']}/rotate-secret", headers=tenant.headers
    )
    retried = await stack.api.post(
        f"/v1/webhooks/{broken['id']}/deliveries/{failed['id']}/retry", headers=tenant.headers
    )
    assert retried.status_code == 202
    [delivered] = await receiver.wait_for(broken_path, 1)
    assert delivered.headers["webhook-signature"].count("v1,") == 1
    assert _verified(delivered, rotated.json()["secret"])["type"] == "post.created"


async def test_a_slow_receiver_holds_up_no_other_endpoint(stack: Stack, receiver: Receiver) -> None:
    """Eight events to a receiver that takes 2 s to answer and to one that answers at once:
    the slow one's attempts, waiting, open more lanes, so every prompt delivery arrives before
    the slow receiver has answered once."""
    tenant = await stack.new_tenant()
    _, slow_path = await _subscribe(stack, tenant, receiver, ["post.created"])
    _, prompt_path = await _subscribe(stack, tenant, receiver, ["post.created"])
    receiver.path_delays_s[slow_path] = 2.0
    drafts = [
        {
            "content": f"lane {index}",
            "draft": True,
            "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
        }
        for index in range(8)
    ]
    # One transaction: the dispatcher finds all eight events at once, in one batch.
    created = await stack.api.post("/v1/posts/bulk", json={"posts": drafts}, headers=tenant.headers)
    assert created.status_code == 207, created.text
    await receiver.wait_for(slow_path, 8, timeout_s=60)
    # Kept in the order the answers were given.
    order = [r.path for r in receiver.received if r.path in (slow_path, prompt_path)]
    assert order[:8] == [prompt_path] * 8, order
