"""The emulator's LinkedIn API (under /linkedin), driven in-process over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from tests.emulator.clients import make_client
from tests.support.media_files import mp4, png

CLIENT_ID = "herald-emulator-client"
CLIENT_SECRET = "herald-emulator-client-secret"
VERSION = "202605"
DISTRIBUTION = {
    "feedDistribution": "MAIN_FEED",
    "targetEntities": [],
    "thirdPartyDistributionChannels": [],
}


@dataclass
class Member:
    id: str
    username: str
    token: str

    @property
    def urn(self) -> str:
        return f"urn:li:person:{self.id}"

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "LinkedIn-Version": VERSION,
            "X-Restli-Protocol-Version": "2.0.0",
        }


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(processing_s=0.5) as c:
        yield c


async def new_member(client: httpx.AsyncClient, username: str) -> Member:
    response = await client.post(
        "/_emulator/accounts", json={"platform": "linkedin", "username": username}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Member(body["id"], body["username"], body["token"])


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> Member:
    return await new_member(client, "alice")


def enc(urn: str) -> str:
    return quote(urn, safe="")


async def create(
    client: httpx.AsyncClient, member: Member, commentary: str, **extra: Any
) -> httpx.Response:
    body = {
        "author": member.urn,
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": DISTRIBUTION,
        "lifecycleState": "PUBLISHED",
        **extra,
    }
    return await client.post("/linkedin/rest/posts", json=body, headers=member.headers)


async def shown(client: httpx.AsyncClient, username: str) -> list[dict[str, Any]]:
    response = await client.get(
        "/_emulator/posts", params={"platform": "linkedin", "account": username}
    )
    posts: list[dict[str, Any]] = response.json()["data"]
    return posts


async def upload_image(client: httpx.AsyncClient, member: Member, data: bytes) -> str:
    started = await client.post(
        "/linkedin/rest/images?action=initializeUpload",
        json={"initializeUploadRequest": {"owner": member.urn}},
        headers=member.headers,
    )
    assert started.status_code == 200, started.text
    value = started.json()["value"]
    put = await client.put(value["uploadUrl"], content=data)
    assert put.status_code == 201
    return str(value["image"])


# -- auth and versioning ------------------------------------------------------------------------


async def test_requests_without_a_valid_token_are_refused(
    client: httpx.AsyncClient, alice: Member
) -> None:
    anonymous = {k: v for k, v in alice.headers.items() if k != "Authorization"}
    for headers in (anonymous, {**alice.headers, "Authorization": "Bearer nope"}):
        response = await client.get("/linkedin/v2/userinfo", headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "status": 401,
            "serviceErrorCode": 65600,
            "code": "INVALID_ACCESS_TOKEN",
            "message": "Invalid access token",
        }


async def test_rest_calls_need_an_active_version(client: httpx.AsyncClient, alice: Member) -> None:
    missing = {k: v for k, v in alice.headers.items() if k != "LinkedIn-Version"}
    response = await client.get(
        f"/linkedin/rest/posts?q=author&author={enc(alice.urn)}", headers=missing
    )
    assert response.status_code == 400
    assert response.json()["code"] == "VERSION_MISSING"
    old = {**alice.headers, "LinkedIn-Version": "202101"}
    response = await create(client, alice, "x")
    assert response.status_code == 201
    response = await client.post("/linkedin/rest/posts", json={}, headers=old)
    assert response.status_code == 426
    assert response.json() == {
        "status": 426,
        "code": "NONEXISTENT_VERSION",
        "message": "Requested version 202101 is not active",
    }


async def test_userinfo_answers_the_openid_claims(client: httpx.AsyncClient, alice: Member) -> None:
    response = await client.get("/linkedin/v2/userinfo", headers=alice.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["sub"] == alice.id
    assert body["name"] == "alice"
    picture = await client.get(urlsplit(body["picture"]).path)
    assert picture.headers["content-type"] == "image/png"


# -- posts ------------------------------------------------------------------------------------


async def test_post_lifecycle_create_get_find_delete(
    client: httpx.AsyncClient, alice: Member
) -> None:
    created = [await create(client, alice, f"post {i}") for i in range(3)]
    assert all(r.status_code == 201 and r.content == b"" for r in created)
    urns = [r.headers["x-restli-id"] for r in created]
    assert all(u.startswith("urn:li:share:") for u in urns)

    got = await client.get(f"/linkedin/rest/posts/{enc(urns[0])}", headers=alice.headers)
    assert got.status_code == 200
    post = got.json()
    assert (post["author"], post["commentary"], post["lifecycleState"]) == (
        alice.urn,
        "post 0",
        "PUBLISHED",
    )
    assert isinstance(post["createdAt"], int)

    page = await client.get(
        f"/linkedin/rest/posts?q=author&author={enc(alice.urn)}&start=0&count=2",
        headers=alice.headers,
    )
    assert page.status_code == 200
    assert [p["id"] for p in page.json()["elements"]] == [urns[2], urns[1]]
    assert page.json()["paging"] == {"start": 0, "count": 2, "links": [], "total": 3}
    rest = await client.get(
        f"/linkedin/rest/posts?q=author&author={enc(alice.urn)}&start=2&count=2",
        headers=alice.headers,
    )
    assert [p["id"] for p in rest.json()["elements"]] == [urns[0]]

    deleted = await client.delete(f"/linkedin/rest/posts/{enc(urns[1])}", headers=alice.headers)
    assert deleted.status_code == 204
    again = await client.delete(f"/linkedin/rest/posts/{enc(urns[1])}", headers=alice.headers)
    assert again.status_code == 404
    assert again.json()["status"] == 404
    assert [p["text"] for p in await shown(client, "alice") if not p["deleted"]] == [
        "post 0",
        "post 2",
    ]


async def test_posting_or_reading_as_someone_else_is_forbidden(
    client: httpx.AsyncClient, alice: Member
) -> None:
    bob = await new_member(client, "bob")
    response = await create(client, bob, "impostor", author=alice.urn)
    assert response.status_code == 403
    assert response.json()["code"] == "ACCESS_DENIED"
    urn = (await create(client, alice, "mine")).headers["x-restli-id"]
    refused = await client.delete(f"/linkedin/rest/posts/{enc(urn)}", headers=bob.headers)
    assert refused.status_code == 403
    finder = await client.get(
        f"/linkedin/rest/posts?q=author&author={enc(alice.urn)}", headers=bob.headers
    )
    assert finder.status_code == 403


async def test_required_fields_are_checked_like_restli(
    client: httpx.AsyncClient, alice: Member
) -> None:
    body = {"author": alice.urn, "commentary": "x", "distribution": DISTRIBUTION}
    response = await client.post("/linkedin/rest/posts", json=body, headers=alice.headers)
    assert response.status_code == 422
    assert "/visibility" in response.json()["message"]


async def test_commentary_is_limited_to_3000_characters(
    client: httpx.AsyncClient, alice: Member
) -> None:
    assert (await create(client, alice, "a" * 3000)).status_code == 201
    response = await create(client, alice, "b" * 2999 + "😀")  # 3001 UTF-16 units
    assert response.status_code == 400
    body = response.json()
    assert "exceeded the maximum allowed (3000 characters)" in body["message"]
    assert body["errorDetails"]["inputErrors"][0]["code"] == "FIELD_ARRAY_SIZE_TOO_HIGH"


async def test_unescaped_reserved_characters_cut_the_post(
    client: httpx.AsyncClient, alice: Member
) -> None:
    await create(client, alice, "Launch (beta) today")
    await create(client, alice, r"Launch \(beta\) today #news https://e.com/a_b")
    await create(client, alice, r"\(see https://e.com/A_(b\)\) @[Ann](urn:li:person:a1)")
    texts = [p["text"] for p in await shown(client, "alice")]
    assert texts == [
        "Launch ",
        "Launch (beta) today #news https://e.com/a_b",
        "(see https://e.com/A_(b)) Ann",
    ]


async def test_identical_commentary_is_refused_as_duplicate(
    client: httpx.AsyncClient, alice: Member
) -> None:
    first = await create(client, alice, "same words")
    second = await create(client, alice, "same words")
    assert second.status_code == 422
    body = second.json()
    assert body["message"].endswith(f"Content is a duplicate of {first.headers['x-restli-id']}")
    assert body["errorDetails"]["inputErrors"][0]["code"] == "DUPLICATE_POST"
    await client.post("/_emulator/clock", json={"seconds": 86401})
    assert (await create(client, alice, "same words")).status_code == 201


# -- media --------------------------------------------------------------------------------------


async def test_image_upload_then_single_and_multi_image_posts(
    client: httpx.AsyncClient, alice: Member
) -> None:
    started = await client.post(
        "/linkedin/rest/images?action=initializeUpload",
        json={"initializeUploadRequest": {"owner": alice.urn}},
        headers=alice.headers,
    )
    image = started.json()["value"]["image"]
    status = await client.get(f"/linkedin/rest/images/{enc(image)}", headers=alice.headers)
    assert status.json()["status"] == "WAITING_UPLOAD"
    early = await create(client, alice, "too early", content={"media": {"id": image}})
    assert early.status_code == 422
    assert early.json()["errorDetails"]["inputErrors"][0]["code"] == "MEDIA_NOT_AVAILABLE"
    await client.put(started.json()["value"]["uploadUrl"], content=png())
    status = await client.get(f"/linkedin/rest/images/{enc(image)}", headers=alice.headers)
    assert status.json()["status"] == "AVAILABLE"

    single = await create(
        client, alice, "one", content={"media": {"id": image, "altText": "a square"}}
    )
    assert single.status_code == 201, single.text
    others = [await upload_image(client, alice, png(10 + i, 10)) for i in range(2)]
    lonely = await create(
        client, alice, "lonely", content={"multiImage": {"images": [{"id": others[0]}]}}
    )
    assert lonely.status_code == 422
    multi = await create(
        client, alice, "two", content={"multiImage": {"images": [{"id": o} for o in others]}}
    )
    assert multi.status_code == 201, multi.text
    posts = {p["text"]: p for p in await shown(client, "alice")}
    assert [m["description"] for m in posts["one"]["media"]] == ["a square"]
    assert len(posts["two"]["media"]) == 2
    assert all(m["url"] for m in posts["two"]["media"])


async def test_video_upload_in_parts_then_processing(
    client: httpx.AsyncClient, alice: Member
) -> None:
    data = mp4(0.5) + b"\0" * (4 * 1024 * 1024)  # just over one 4 MiB part
    started = await client.post(
        "/linkedin/rest/videos?action=initializeUpload",
        json={
            "initializeUploadRequest": {
                "owner": alice.urn,
                "fileSizeBytes": len(data),
                "uploadCaptions": False,
                "uploadThumbnail": False,
            }
        },
        headers=alice.headers,
    )
    assert started.status_code == 200, started.text
    value = started.json()["value"]
    video = value["video"]
    instructions = value["uploadInstructions"]
    assert [(i["firstByte"], i["lastByte"]) for i in instructions] == [
        (0, 4 * 1024 * 1024 - 1),
        (4 * 1024 * 1024, len(data) - 1),
    ]
    etags = []
    for part in instructions:
        put = await client.put(
            part["uploadUrl"], content=data[part["firstByte"] : part["lastByte"] + 1]
        )
        assert put.status_code == 200
        etags.append(put.headers["etag"])

    def finalize(ids: list[str]) -> dict[str, Any]:
        return {
            "finalizeUploadRequest": {
                "video": video,
                "uploadToken": value["uploadToken"],
                "uploadedPartIds": ids,
            }
        }

    wrong = await client.post(
        "/linkedin/rest/videos?action=finalizeUpload",
        json=finalize(list(reversed(etags))),
        headers=alice.headers,
    )
    assert wrong.status_code == 400
    done = await client.post(
        "/linkedin/rest/videos?action=finalizeUpload", json=finalize(etags), headers=alice.headers
    )
    assert done.status_code == 200, done.text
    status = await client.get(f"/linkedin/rest/videos/{enc(video)}", headers=alice.headers)
    assert status.json()["status"] == "PROCESSING"
    assert (
        await create(client, alice, "clip", content={"media": {"id": video}})
    ).status_code == 422
    await client.post("/_emulator/clock", json={"seconds": 1})
    status = await client.get(f"/linkedin/rest/videos/{enc(video)}", headers=alice.headers)
    assert status.json()["status"] == "AVAILABLE"
    posted = await create(client, alice, "clip", content={"media": {"id": video, "title": "t"}})
    assert posted.status_code == 201, posted.text
    [post] = await shown(client, "alice")
    assert post["media"][0]["size"] == len(data)


# -- comments -----------------------------------------------------------------------------------


async def test_comments_are_counted_and_go_with_their_post(
    client: httpx.AsyncClient, alice: Member
) -> None:
    urn = (await create(client, alice, "discuss")).headers["x-restli-id"]
    made = await client.post(
        f"/linkedin/rest/socialActions/{enc(urn)}/comments",
        json={"actor": alice.urn, "object": urn, "message": {"text": "first comment"}},
        headers=alice.headers,
    )
    assert made.status_code == 201, made.text
    long = await client.post(
        f"/linkedin/rest/socialActions/{enc(urn)}/comments",
        json={"actor": alice.urn, "object": urn, "message": {"text": "c" * 1251}},
        headers=alice.headers,
    )
    assert long.status_code == 422
    comment = made.json()
    assert comment["commentUrn"].startswith("urn:li:comment:(urn:li:activity:")
    assert made.headers["x-restli-id"] == comment["id"]
    listed = await client.get(
        f"/linkedin/rest/socialActions/{enc(urn)}/comments", headers=alice.headers
    )
    assert [c["message"]["text"] for c in listed.json()["elements"]] == ["first comment"]
    meta = await client.get(f"/linkedin/rest/socialMetadata/{enc(urn)}", headers=alice.headers)
    assert meta.json()["commentSummary"]["count"] == 1
    posts = await shown(client, "alice")
    assert posts[1]["in_reply_to_id"] == urn
    # The finder lists posts, not comments.
    found = await client.get(
        f"/linkedin/rest/posts?q=author&author={enc(alice.urn)}", headers=alice.headers
    )
    assert [p["id"] for p in found.json()["elements"]] == [urn]
    await client.delete(f"/linkedin/rest/posts/{enc(urn)}", headers=alice.headers)
    assert all(p["deleted"] for p in await shown(client, "alice"))


# -- throttling and faults ----------------------------------------------------------------------


async def test_daily_post_limit_answers_429() -> None:
    async with make_client(linkedin_post_daily_limit=2) as client:
        member = await new_member(client, "busy")
        assert (await create(client, member, "one")).status_code == 201
        assert (await create(client, member, "two")).status_code == 201
        third = await create(client, member, "three")
        assert third.status_code == 429
        assert third.json()["code"] == "TOO_MANY_REQUESTS"
        assert "retry-after" not in third.headers
        # Reads are not posts.
        me = await client.get("/linkedin/v2/userinfo", headers=member.headers)
        assert me.status_code == 200


async def test_injected_faults_speak_linkedin(client: httpx.AsyncClient, alice: Member) -> None:
    await client.post(
        "/_emulator/faults",
        json={"platform": "linkedin", "status": 429, "retry_after": 3, "count": 1},
    )
    throttled = await create(client, alice, "later")
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "3"
    assert throttled.json()["code"] == "TOO_MANY_REQUESTS"
    await client.post("/_emulator/faults", json={"platform": "linkedin", "status": 503, "count": 1})
    down = await create(client, alice, "later")
    assert down.status_code == 503
    assert down.json() == {
        "status": 503,
        "code": "SERVICE_UNAVAILABLE",
        "message": "Service Unavailable",
    }


# -- OAuth --------------------------------------------------------------------------------------


async def authorize(client: httpx.AsyncClient, username: str, **extra: str) -> dict[str, str]:
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": "https://herald.example/cb",
        "state": "st4te",
        "scope": "openid profile w_member_social",
        "emulator_username": username,
        **extra,
    }
    window = await client.get("/linkedin/oauth/v2/authorization", params=query)
    assert window.status_code == 302, window.text
    location = urlsplit(window.headers["location"])
    assert location.netloc == "herald.example"
    return {k: v[0] for k, v in parse_qs(location.query).items()}


async def token(client: httpx.AsyncClient, **form: str) -> httpx.Response:
    data = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **form}
    return await client.post("/linkedin/oauth/v2/accessToken", data=data)


async def test_oauth_code_exchange_and_refresh(client: httpx.AsyncClient, alice: Member) -> None:
    back = await authorize(client, "alice", code_challenge="ignored", code_challenge_method="S256")
    assert back["state"] == "st4te"
    exchanged = await token(
        client,
        grant_type="authorization_code",
        code=back["code"],
        redirect_uri="https://herald.example/cb",
    )
    assert exchanged.status_code == 200, exchanged.text
    grant = exchanged.json()
    assert grant["expires_in"] == 60 * 86400
    assert grant["refresh_token_expires_in"] == 365 * 86400
    assert grant["scope"] == "openid,profile,w_member_social"
    me = await client.get(
        "/linkedin/v2/userinfo", headers={"Authorization": f"Bearer {grant['access_token']}"}
    )
    assert me.json()["sub"] == alice.id

    replay = await token(
        client,
        grant_type="authorization_code",
        code=back["code"],
        redirect_uri="https://herald.example/cb",
    )
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_request"

    await client.post("/_emulator/clock", json={"seconds": 86400})
    refreshed = await token(
        client, grant_type="refresh_token", refresh_token=grant["refresh_token"]
    )
    assert refreshed.status_code == 200, refreshed.text
    renewed = refreshed.json()
    assert renewed["access_token"] != grant["access_token"]
    # LinkedIn does not rotate refresh tokens, and their lifetime keeps running.
    assert renewed["refresh_token"] == grant["refresh_token"]
    assert renewed["refresh_token_expires_in"] == 364 * 86400
    bad = await token(client, grant_type="refresh_token", refresh_token="nope")
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_request"


async def test_oauth_refuses_wrong_client_redirect_and_denied_user(
    client: httpx.AsyncClient, alice: Member
) -> None:
    back = await authorize(client, "alice")
    wrong_redirect = await token(
        client,
        grant_type="authorization_code",
        code=back["code"],
        redirect_uri="https://elsewhere.example/cb",
    )
    assert wrong_redirect.status_code == 400
    back = await authorize(client, "alice")
    wrong_secret = await client.post(
        "/linkedin/oauth/v2/accessToken",
        data={
            "grant_type": "authorization_code",
            "code": back["code"],
            "redirect_uri": "https://herald.example/cb",
            "client_id": CLIENT_ID,
            "client_secret": "guess",
        },
    )
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"
    denied = await authorize(client, "nobody-here")
    assert denied["error"] == "user_cancelled_authorize"
    assert denied["state"] == "st4te"
    unknown = await client.get(
        "/linkedin/oauth/v2/authorization",
        params={
            "response_type": "code",
            "client_id": "other",
            "redirect_uri": "https://herald.example/cb",
            "scope": "openid",
        },
    )
    assert unknown.status_code == 400
