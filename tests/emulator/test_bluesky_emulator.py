"""The emulator's Bluesky PDS (XRPC under /bluesky), driven in-process over ASGI."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from emulator.atproto import blob_cid, format_bytes
from emulator.graphemes import grapheme_length
from tests.emulator.clients import make_client

XRPC = "/bluesky/xrpc"
PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\r\n--\r\n" + bytes(range(256)) * 4
CREATED_AT = "2025-01-02T03:04:05.678Z"


@dataclass
class Session:
    did: str
    handle: str
    access: str
    refresh: str
    password: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(processing_s=0.3) as c:
        yield c


async def new_session(client: httpx.AsyncClient, username: str) -> Session:
    created = await client.post(
        "/_emulator/accounts", json={"platform": "bluesky", "username": username}
    )
    assert created.status_code == 200, created.text
    account = created.json()
    return await login(client, f"{username}.bsky.emulator", account["token"])


async def login(client: httpx.AsyncClient, identifier: str, password: str) -> Session:
    response = await client.post(
        f"{XRPC}/com.atproto.server.createSession",
        json={"identifier": identifier, "password": password},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Session(body["did"], body["handle"], body["accessJwt"], body["refreshJwt"], password)


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> Session:
    return await new_session(client, "alice")


def post_record(text: str, **extra: Any) -> dict[str, Any]:
    return {"$type": "app.bsky.feed.post", "text": text, "createdAt": CREATED_AT, **extra}


async def create_post(
    client: httpx.AsyncClient, session: Session, text: str = "hello", **extra: Any
) -> httpx.Response:
    rkey = extra.pop("rkey", None)
    body: dict[str, Any] = {
        "repo": session.did,
        "collection": "app.bsky.feed.post",
        "record": post_record(text, **extra),
    }
    if rkey is not None:
        body["rkey"] = rkey
    return await client.post(
        f"{XRPC}/com.atproto.repo.createRecord", json=body, headers=session.auth
    )


async def upload_blob(
    client: httpx.AsyncClient, session: Session, data: bytes, mime: str
) -> dict[str, Any]:
    response = await client.post(
        f"{XRPC}/com.atproto.repo.uploadBlob",
        content=data,
        headers={**session.auth, "Content-Type": mime},
    )
    assert response.status_code == 200, response.text
    blob: dict[str, Any] = response.json()["blob"]
    return blob


def images_embed(*blobs: dict[str, Any], alt: str = "") -> dict[str, Any]:
    return {
        "$type": "app.bsky.embed.images",
        "images": [{"image": b, "alt": alt} for b in blobs],
    }


async def emulator_posts(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/_emulator/posts", params={"platform": "bluesky", **params})
    assert response.status_code == 200
    posts: list[dict[str, Any]] = response.json()["data"]
    return posts


async def add_fault(client: httpx.AsyncClient, **spec: Any) -> str:
    response = await client.post("/_emulator/faults", json={"platform": "bluesky", **spec})
    assert response.status_code == 200, response.text
    fault_id: str = response.json()["id"]
    return fault_id


def jwt_payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def assert_xrpc_error(response: httpx.Response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message"}
    assert body["error"] == error
    message: str = body["message"]
    return message


# -- sessions -------------------------------------------------------------------------------------


async def test_sandbox_logs_in_with_handle_or_did_and_its_app_password(
    client: httpx.AsyncClient,
) -> None:
    by_handle = await login(
        client, "herald_sandbox.bsky.emulator", "emulator-bluesky-sandbox-token"
    )
    assert by_handle.handle == "herald_sandbox.bsky.emulator"
    assert by_handle.did.startswith("did:plc:") and len(by_handle.did) == len("did:plc:") + 24
    by_did = await login(client, by_handle.did, "emulator-bluesky-sandbox-token")
    assert by_did.did == by_handle.did

    response = await client.post(
        f"{XRPC}/com.atproto.server.createSession",
        json={"identifier": by_handle.handle, "password": "emulator-bluesky-sandbox-token"},
    )
    body = response.json()
    assert body["active"] is True
    assert body["didDoc"]["service"][0]["serviceEndpoint"] == "http://emulator/bluesky"
    assert body["didDoc"]["alsoKnownAs"] == [f"at://{by_handle.handle}"]
    assert response.headers["ratelimit-policy"] == "30;w=300"
    access = jwt_payload(body["accessJwt"])
    assert access["sub"] == by_handle.did
    assert access["scope"] == "com.atproto.appPass"
    assert access["exp"] - access["iat"] == 7200
    assert jwt_payload(body["refreshJwt"])["scope"] == "com.atproto.refresh"

    # The control API shows the DID as the account id.
    accounts = (await client.get("/_emulator/accounts", params={"platform": "bluesky"})).json()
    assert accounts["data"][0]["id"] == by_handle.did


async def test_the_sandbox_did_is_the_same_in_every_emulator(client: httpx.AsyncClient) -> None:
    first = await login(client, "herald_sandbox.bsky.emulator", "emulator-bluesky-sandbox-token")
    async with make_client() as other:
        second = await login(
            other, "herald_sandbox.bsky.emulator", "emulator-bluesky-sandbox-token"
        )
    assert first.did == second.did == "did:plc:vufs2oyml5ujxgjkpwaw3n2v"


@pytest.mark.parametrize(
    ("identifier", "password"),
    [
        ("herald_sandbox.bsky.emulator", "wrong"),
        ("nobody.bsky.emulator", "emulator-bluesky-sandbox-token"),
        ("herald_sandbox.bsky.emulator", "emulator-x-sandbox-token"),
    ],
)
async def test_bad_credentials_are_401(
    client: httpx.AsyncClient, identifier: str, password: str
) -> None:
    response = await client.post(
        f"{XRPC}/com.atproto.server.createSession",
        json={"identifier": identifier, "password": password},
    )
    message = assert_xrpc_error(response, 401, "AuthenticationRequired")
    assert message == "Invalid identifier or password"


async def test_access_token_expires_on_the_emulator_clock_and_refresh_rotates(
    client: httpx.AsyncClient, alice: Session
) -> None:
    session = f"{XRPC}/com.atproto.server.getSession"
    ok = await client.get(session, headers=alice.auth)
    assert ok.status_code == 200
    assert ok.json()["did"] == alice.did
    assert ok.json()["handle"] == "alice.bsky.emulator"

    await client.post("/_emulator/clock", json={"seconds": 7200})
    expired = await client.get(session, headers=alice.auth)
    assert assert_xrpc_error(expired, 400, "ExpiredToken") == "Token has expired"

    refreshed = await client.post(
        f"{XRPC}/com.atproto.server.refreshSession",
        headers={"Authorization": f"Bearer {alice.refresh}"},
    )
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert body["did"] == alice.did
    assert body["refreshJwt"] != alice.refresh
    assert (
        await client.get(session, headers={"Authorization": f"Bearer {body['accessJwt']}"})
    ).status_code == 200

    # A lost refresh answer can be retried within the grace period: same successor.
    again = await client.post(
        f"{XRPC}/com.atproto.server.refreshSession",
        headers={"Authorization": f"Bearer {alice.refresh}"},
    )
    assert jwt_payload(again.json()["refreshJwt"])["jti"] == jwt_payload(body["refreshJwt"])["jti"]
    # After the grace period the rotated token is revoked; its successor still works.
    await client.post("/_emulator/clock", json={"seconds": 7201})
    revoked = await client.post(
        f"{XRPC}/com.atproto.server.refreshSession",
        headers={"Authorization": f"Bearer {alice.refresh}"},
    )
    assert assert_xrpc_error(revoked, 400, "ExpiredToken") == "Token has been revoked"
    successor = await client.post(
        f"{XRPC}/com.atproto.server.refreshSession",
        headers={"Authorization": f"Bearer {body['refreshJwt']}"},
    )
    assert successor.status_code == 200


async def test_access_lifetime_is_configurable() -> None:
    async with make_client(bluesky_access_ttl_s=60) as client:
        alice = await new_session(client, "alice")
        await client.post("/_emulator/clock", json={"seconds": 59})
        ok = await client.get(f"{XRPC}/com.atproto.server.getSession", headers=alice.auth)
        assert ok.status_code == 200
        await client.post("/_emulator/clock", json={"seconds": 1})
        gone = await client.get(f"{XRPC}/com.atproto.server.getSession", headers=alice.auth)
        assert_xrpc_error(gone, 400, "ExpiredToken")


async def test_missing_wrong_and_misused_tokens(client: httpx.AsyncClient, alice: Session) -> None:
    url = f"{XRPC}/com.atproto.server.getSession"
    assert_xrpc_error(await client.get(url), 401, "AuthMissing")
    garbage = await client.get(url, headers={"Authorization": "Bearer not.a.jwt"})
    assert assert_xrpc_error(garbage, 400, "InvalidToken") == "Token could not be verified"
    refresh_as_access = await client.get(url, headers={"Authorization": f"Bearer {alice.refresh}"})
    assert_xrpc_error(refresh_as_access, 400, "InvalidToken")
    access_as_refresh = await client.post(
        f"{XRPC}/com.atproto.server.refreshSession", headers=alice.auth
    )
    assert_xrpc_error(access_as_refresh, 400, "InvalidToken")
    basic = await client.get(url, headers={"Authorization": "Basic YWJjOmRlZg=="})
    assert_xrpc_error(basic, 400, "InvalidToken")


async def test_delete_session_revokes_the_refresh_token(
    client: httpx.AsyncClient, alice: Session
) -> None:
    refresh = {"Authorization": f"Bearer {alice.refresh}"}
    assert (
        await client.post(f"{XRPC}/com.atproto.server.deleteSession", headers=refresh)
    ).status_code == 200
    again = await client.post(f"{XRPC}/com.atproto.server.refreshSession", headers=refresh)
    assert_xrpc_error(again, 400, "ExpiredToken")


# -- posting --------------------------------------------------------------------------------------


async def test_post_with_facets_and_an_image(client: httpx.AsyncClient, alice: Session) -> None:
    blob = await upload_blob(client, alice, PNG_1x1, "image/png")
    assert blob == {
        "$type": "blob",
        "ref": {"$link": blob_cid(PNG_1x1)},
        "mimeType": "image/png",
        "size": len(PNG_1x1),
    }
    assert blob["ref"]["$link"].startswith("bafkrei")

    text = "héllo @alice.bsky.emulator see https://example.com #tag"
    encoded = text.encode()

    def span(part: str) -> dict[str, int]:
        start = encoded.index(part.encode())
        return {"byteStart": start, "byteEnd": start + len(part.encode())}

    facets = [
        {
            "index": span("@alice.bsky.emulator"),
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": alice.did}],
        },
        {
            "index": span("https://example.com"),
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com"}],
        },
        {
            "index": span("#tag"),
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "tag"}],
        },
    ]
    created = await create_post(
        client, alice, text, facets=facets, embed=images_embed(blob, alt="a dot"), langs=["en"]
    )
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["uri"].startswith(f"at://{alice.did}/app.bsky.feed.post/")
    rkey = body["uri"].rsplit("/", 1)[1]
    assert len(rkey) == 13
    assert body["cid"].startswith("bafyrei")
    assert body["validationStatus"] == "valid"
    assert set(body["commit"]) == {"cid", "rev"}

    fetched = await client.get(
        f"{XRPC}/com.atproto.repo.getRecord",
        params={"repo": alice.handle, "collection": "app.bsky.feed.post", "rkey": rkey},
    )
    assert fetched.json()["value"]["facets"] == facets
    assert fetched.json()["cid"] == body["cid"]

    [post] = await emulator_posts(client)
    assert post["id"] == body["uri"]
    assert post["account"] == "alice"
    assert post["text"] == text
    [media] = post["media"]
    assert media["id"] == blob["ref"]["$link"]
    assert media["type"] == "image"
    assert media["description"] == "a dot"
    assert media["sha256"] == hashlib.sha256(PNG_1x1).hexdigest()
    assert media["size"] == len(PNG_1x1)
    served = await client.get(media["url"])
    assert served.status_code == 200
    assert served.content == PNG_1x1
    assert served.headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    ("index", "message"),
    [
        ({"byteStart": 0, "byteEnd": 99}, "byteEnd (99) is past the end of the text (8 bytes)"),
        ({"byteStart": 3, "byteEnd": 3}, "byteStart (3) must be less than byteEnd (3)"),
        ({"byteStart": 2, "byteEnd": 4}, "offset 2 falls inside a UTF-8 character"),
        ({"byteStart": -1, "byteEnd": 4}, "Record/facets/0/index/byteStart can not be less than 0"),
        ({"byteStart": 0}, 'Record/facets/0/index must have the property "byteEnd"'),
    ],
)
async def test_bad_facet_ranges_are_refused(
    client: httpx.AsyncClient, alice: Session, index: dict[str, int], message: str
) -> None:
    facets = [
        {
            "index": index,
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://x"}],
        }
    ]
    response = await create_post(client, alice, "aé link", facets=facets)
    error = assert_xrpc_error(response, 400, "InvalidRequest")
    assert error.startswith("Invalid app.bsky.feed.post record: ")
    assert message in error
    assert await emulator_posts(client) == []


async def test_text_is_limited_to_300_graphemes(client: httpx.AsyncClient, alice: Session) -> None:
    assert (await create_post(client, alice, "a" * 300)).status_code == 200
    too_long = await create_post(client, alice, "a" * 301)
    assert assert_xrpc_error(too_long, 400, "InvalidRequest") == (
        "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"
    )
    # Graphemes, not code points: 300 thumbs with skin tones are 600 code points.
    thumbs = "👍🏽" * 300
    assert grapheme_length(thumbs) == 300
    assert (await create_post(client, alice, thumbs)).status_code == 200
    # ... and the 3000-byte bound applies as well.
    families = "👩\u200d👩\u200d👧" * 200  # 200 graphemes, 3600 bytes
    bytes_error = assert_xrpc_error(
        await create_post(client, alice, families), 400, "InvalidRequest"
    )
    assert bytes_error.endswith("Record/text must not be longer than 3000 characters")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            {"$type": "app.bsky.feed.post", "createdAt": CREATED_AT},
            'Invalid app.bsky.feed.post record: Record must have the property "text"',
        ),
        (
            {"$type": "app.bsky.feed.post", "text": "x"},
            'Invalid app.bsky.feed.post record: Record must have the property "createdAt"',
        ),
        (
            {"$type": "app.bsky.feed.post", "text": "x", "createdAt": "yesterday"},
            "Invalid app.bsky.feed.post record: Record/createdAt must be an valid atproto "
            "datetime (both RFC-3339 and ISO-8601)",
        ),
        (
            {"$type": "app.bsky.feed.like", "text": "x", "createdAt": CREATED_AT},
            "Invalid $type: expected app.bsky.feed.post, got app.bsky.feed.like",
        ),
        (
            {
                "text": "x",
                "createdAt": CREATED_AT,
                "reply": {"parent": {"uri": "at://did:plc:x/app.bsky.feed.post/y", "cid": "b"}},
            },
            'Invalid app.bsky.feed.post record: Record/reply must have the property "root"',
        ),
        (
            {"text": "x", "createdAt": CREATED_AT, "langs": ["en", "de", "fr", "es"]},
            "Invalid app.bsky.feed.post record: Record/langs must not have more than 3 elements",
        ),
        (
            {"text": "x", "createdAt": CREATED_AT, "embed": {"$type": "app.bsky.embed.gallery"}},
            "Invalid app.bsky.feed.post record: Record/embed $type must be one of",
        ),
    ],
)
async def test_record_validation_errors(
    client: httpx.AsyncClient, alice: Session, record: dict[str, Any], message: str
) -> None:
    response = await client.post(
        f"{XRPC}/com.atproto.repo.createRecord",
        json={"repo": alice.did, "collection": "app.bsky.feed.post", "record": record},
        headers=alice.auth,
    )
    assert assert_xrpc_error(response, 400, "InvalidRequest").startswith(message)


async def test_input_errors(client: httpx.AsyncClient, alice: Session) -> None:
    url = f"{XRPC}/com.atproto.repo.createRecord"
    missing = await client.post(url, json={"repo": alice.did, "record": {}}, headers=alice.auth)
    assert assert_xrpc_error(missing, 400, "InvalidRequest") == (
        'Input must have the property "collection"'
    )
    not_json = await client.post(
        url, content=b"text=hi", headers={**alice.auth, "Content-Type": "text/plain"}
    )
    assert "Wrong request encoding" in assert_xrpc_error(not_json, 400, "InvalidRequest")
    bob = await new_session(client, "bob")
    foreign = await client.post(
        url,
        json={"repo": bob.did, "collection": "app.bsky.feed.post", "record": post_record("x")},
        headers=alice.auth,
    )
    assert_xrpc_error(foreign, 401, "AuthenticationRequired")
    unknown = await client.post(
        url,
        json={
            "repo": "did:plc:nobody",
            "collection": "app.bsky.feed.post",
            "record": post_record("x"),
        },
        headers=alice.auth,
    )
    assert (
        assert_xrpc_error(unknown, 400, "InvalidRequest") == "Could not find repo: did:plc:nobody"
    )
    assert await emulator_posts(client) == []


async def test_image_blobs_over_one_megabyte_are_refused_at_post_time(
    client: httpx.AsyncClient, alice: Session
) -> None:
    big = PNG_1x1 + b"\0" * (1_200_000 - len(PNG_1x1))
    blob = await upload_blob(client, alice, big, "image/png")  # the PDS takes any blob
    response = await create_post(client, alice, "big", embed=images_embed(blob))
    message = assert_xrpc_error(response, 400, "BlobTooLarge")
    assert message == (
        f"This file is too large. It is {format_bytes(1_200_000)} but the maximum size is 976.56KB."
    )
    assert format_bytes(1_200_000) == "1.14MB"
    exactly = PNG_1x1 + b"\0" * (1_000_000 - len(PNG_1x1))
    ok_blob = await upload_blob(client, alice, exactly, "image/png")
    assert (await create_post(client, alice, "ok", embed=images_embed(ok_blob))).status_code == 200


async def test_blob_checks(client: httpx.AsyncClient, alice: Session) -> None:
    bob = await new_session(client, "bob")
    bobs = await upload_blob(client, bob, PNG_1x1 + b"bob", "image/png")
    foreign = await create_post(client, alice, "x", embed=images_embed(bobs))
    assert assert_xrpc_error(foreign, 400, "BlobNotFound") == (
        f"Could not find blob: {bobs['ref']['$link']}"
    )
    mine = await upload_blob(client, alice, PNG_1x1, "image/png")
    lying = await create_post(
        client, alice, "x", embed=images_embed({**mine, "mimeType": "image/jpeg"})
    )
    assert_xrpc_error(lying, 400, "InvalidMimeType")
    video = await upload_blob(client, alice, MP4, "video/mp4")
    as_image = await create_post(client, alice, "x", embed=images_embed(video))
    assert "Wrong type of file" in assert_xrpc_error(as_image, 400, "InvalidMimeType")
    five = await create_post(client, alice, "x", embed=images_embed(*[mine] * 5))
    assert assert_xrpc_error(five, 400, "InvalidRequest").endswith(
        "Record/embed/images must not have more than 4 elements"
    )
    too_big = await client.post(
        f"{XRPC}/com.atproto.repo.uploadBlob",
        content=b"\0" * 2048,
        headers={**alice.auth, "Content-Type": "application/octet-stream"},
    )
    assert too_big.status_code == 200
    async with make_client(bluesky_blob_upload_limit=1024) as small:
        carol = await new_session(small, "carol")
        refused = await small.post(
            f"{XRPC}/com.atproto.repo.uploadBlob",
            content=b"\0" * 2048,
            headers={**carol.auth, "Content-Type": "application/octet-stream"},
        )
        assert_xrpc_error(refused, 413, "PayloadTooLarge")


async def test_a_thread_of_replies(client: httpx.AsyncClient, alice: Session) -> None:
    root = (await create_post(client, alice, "1/3")).json()
    root_ref = {"uri": root["uri"], "cid": root["cid"]}
    second = (
        await create_post(client, alice, "2/3", reply={"root": root_ref, "parent": root_ref})
    ).json()
    second_ref = {"uri": second["uri"], "cid": second["cid"]}
    third = await create_post(client, alice, "3/3", reply={"root": root_ref, "parent": second_ref})
    assert third.status_code == 200

    posts = await emulator_posts(client)
    assert [p["in_reply_to_id"] for p in posts] == [None, root["uri"], second["uri"]]

    feed = (
        await client.get(f"{XRPC}/app.bsky.feed.getAuthorFeed", params={"actor": alice.did})
    ).json()["feed"]
    assert [item["post"]["record"]["text"] for item in feed] == ["3/3", "2/3", "1/3"]
    assert feed[0]["reply"]["root"]["uri"] == root["uri"]
    assert feed[0]["reply"]["parent"]["uri"] == second["uri"]
    assert feed[0]["reply"]["parent"]["$type"] == "app.bsky.feed.defs#postView"
    assert feed[2]["post"]["replyCount"] == 1
    assert "reply" not in feed[2]

    no_replies = await client.get(
        f"{XRPC}/app.bsky.feed.getAuthorFeed",
        params={"actor": alice.handle, "filter": "posts_no_replies"},
    )
    assert [i["post"]["uri"] for i in no_replies.json()["feed"]] == [root["uri"]]
    threads = await client.get(
        f"{XRPC}/app.bsky.feed.getAuthorFeed",
        params={"actor": alice.handle, "filter": "posts_and_author_threads"},
    )
    assert len(threads.json()["feed"]) == 3


async def test_reply_to_a_missing_post_is_stored_like_a_real_pds(
    client: httpx.AsyncClient, alice: Session
) -> None:
    ghost = {"uri": f"at://{alice.did}/app.bsky.feed.post/3kaaaaaaaaaaa", "cid": "bafyreighost"}
    reply = await create_post(
        client, alice, "into the void", reply={"root": ghost, "parent": ghost}
    )
    assert reply.status_code == 200
    [item] = (
        await client.get(f"{XRPC}/app.bsky.feed.getAuthorFeed", params={"actor": alice.did})
    ).json()["feed"]
    assert item["reply"]["parent"] == {
        "$type": "app.bsky.feed.defs#notFoundPost",
        "uri": ghost["uri"],
        "notFound": True,
    }


async def test_external_link_card_and_quote(client: httpx.AsyncClient, alice: Session) -> None:
    thumb = await upload_blob(client, alice, PNG_1x1, "image/png")
    card = {
        "$type": "app.bsky.embed.external",
        "external": {
            "uri": "https://example.com/a",
            "title": "A",
            "description": "about a",
            "thumb": thumb,
        },
    }
    first = (await create_post(client, alice, "card", embed=card)).json()
    quote = {"$type": "app.bsky.embed.record", "record": {"uri": first["uri"], "cid": first["cid"]}}
    assert (await create_post(client, alice, "quote", embed=quote)).status_code == 200
    posts = (
        await client.get(f"{XRPC}/app.bsky.feed.getPosts", params={"uris": [first["uri"]]})
    ).json()["posts"]
    external = posts[0]["embed"]["external"]
    assert external["uri"] == "https://example.com/a"
    assert external["thumb"].startswith("http://emulator/bluesky/xrpc/com.atproto.sync.getBlob")
    feed = (
        await client.get(f"{XRPC}/app.bsky.feed.getAuthorFeed", params={"actor": alice.did})
    ).json()["feed"]
    assert feed[0]["post"]["embed"]["record"]["uri"] == first["uri"]


async def test_client_chosen_rkey_and_a_second_create_at_the_same_key(
    client: httpx.AsyncClient, alice: Session
) -> None:
    first = await create_post(client, alice, "once", rkey="3lherald00001")
    assert first.status_code == 200
    assert first.json()["uri"].endswith("/app.bsky.feed.post/3lherald00001")
    [post] = await emulator_posts(client)
    assert post["idempotency_key"] == "3lherald00001"
    # The real PDS fails a duplicate key inside its MST and answers a bare 500.
    again = await create_post(client, alice, "once", rkey="3lherald00001")
    assert_xrpc_error(again, 500, "InternalServerError")
    assert len(await emulator_posts(client)) == 1


# -- deleting and reading -------------------------------------------------------------------------


async def test_delete_record(client: httpx.AsyncClient, alice: Session) -> None:
    blob = await upload_blob(client, alice, PNG_1x1, "image/png")
    created = (await create_post(client, alice, "bye", embed=images_embed(blob))).json()
    rkey = created["uri"].rsplit("/", 1)[1]
    delete = {"repo": alice.did, "collection": "app.bsky.feed.post", "rkey": rkey}
    deleted = await client.post(
        f"{XRPC}/com.atproto.repo.deleteRecord", json=delete, headers=alice.auth
    )
    assert deleted.status_code == 200
    assert set(deleted.json()["commit"]) == {"cid", "rev"}

    gone = await client.get(
        f"{XRPC}/com.atproto.repo.getRecord",
        params={"repo": alice.did, "collection": "app.bsky.feed.post", "rkey": rkey},
    )
    assert (
        assert_xrpc_error(gone, 400, "RecordNotFound")
        == f"Could not locate record: {created['uri']}"
    )
    # Deleting again is a no-op without a commit.
    again = await client.post(
        f"{XRPC}/com.atproto.repo.deleteRecord", json=delete, headers=alice.auth
    )
    assert again.status_code == 200
    assert again.json() == {}

    [post] = await emulator_posts(client)
    assert post["deleted"] is True
    assert post["media"][0]["url"] is None  # unreferenced blobs are dropped
    assert await emulator_posts(client, include_deleted="false") == []
    listed = await client.get(
        f"{XRPC}/com.atproto.repo.listRecords",
        params={"repo": alice.did, "collection": "app.bsky.feed.post"},
    )
    assert listed.json() == {"records": []}

    # The key of a deleted record may be written again: the new record replaces the old one.
    rewritten = await create_post(client, alice, "hello again", rkey=rkey)
    assert rewritten.status_code == 200
    assert [(p["text"], p["deleted"]) for p in await emulator_posts(client)] == [
        ("hello again", False)
    ]


async def test_cannot_delete_from_someone_elses_repo(
    client: httpx.AsyncClient, alice: Session
) -> None:
    bob = await new_session(client, "bob")
    created = (await create_post(client, alice, "mine")).json()
    response = await client.post(
        f"{XRPC}/com.atproto.repo.deleteRecord",
        json={"repo": alice.did, "collection": "app.bsky.feed.post", "rkey": created["uri"][-13:]},
        headers=bob.auth,
    )
    assert_xrpc_error(response, 401, "AuthenticationRequired")
    assert (await emulator_posts(client))[0]["deleted"] is False


async def test_author_feed_pages_newest_first_with_a_cursor(
    client: httpx.AsyncClient, alice: Session
) -> None:
    uris = [(await create_post(client, alice, f"n{i}")).json()["uri"] for i in range(5)]
    newest_first = uris[::-1]
    url = f"{XRPC}/app.bsky.feed.getAuthorFeed"
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"actor": alice.handle, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(url, params=params)).json()
        pages += 1
        seen += [item["post"]["uri"] for item in page["feed"]]
        cursor = page.get("cursor")
        if not cursor:
            assert page["feed"] == []
            break
    assert seen == newest_first
    assert pages == 4  # 2 + 2 + 1, then an empty page without a cursor

    bad = await client.get(url, params={"actor": alice.handle, "limit": 101})
    assert (
        assert_xrpc_error(bad, 400, "InvalidRequest") == "Params/limit can not be greater than 100"
    )
    unknown = await client.get(url, params={"actor": "nobody.bsky.emulator"})
    assert assert_xrpc_error(unknown, 400, "InvalidRequest") == "Profile not found"
    missing = await client.get(url)
    assert (
        assert_xrpc_error(missing, 400, "InvalidRequest") == 'Params must have the property "actor"'
    )


async def test_list_records_pages_by_record_key(client: httpx.AsyncClient, alice: Session) -> None:
    uris = [(await create_post(client, alice, f"n{i}")).json()["uri"] for i in range(3)]
    url = f"{XRPC}/com.atproto.repo.listRecords"
    params = {"repo": alice.did, "collection": "app.bsky.feed.post", "limit": 2}
    first = (await client.get(url, params=params)).json()
    assert [r["uri"] for r in first["records"]] == [uris[2], uris[1]]
    assert first["cursor"] == uris[1].rsplit("/", 1)[1]
    second = (await client.get(url, params={**params, "cursor": first["cursor"]})).json()
    assert [r["uri"] for r in second["records"]] == [uris[0]]
    third = (await client.get(url, params={**params, "cursor": second["cursor"]})).json()
    assert third == {"records": []}
    oldest_first = (await client.get(url, params={**params, "reverse": "true"})).json()
    assert [r["uri"] for r in oldest_first["records"]] == uris[:2]
    assert first["records"][0]["value"]["text"] == "n2"


async def test_profile_and_identity(client: httpx.AsyncClient, alice: Session) -> None:
    await create_post(client, alice, "one")
    profile = (
        await client.get(f"{XRPC}/app.bsky.actor.getProfile", params={"actor": alice.handle})
    ).json()
    assert profile["did"] == alice.did
    assert profile["postsCount"] == 1
    resolved = await client.get(
        f"{XRPC}/com.atproto.identity.resolveHandle", params={"handle": alice.handle}
    )
    assert resolved.json() == {"did": alice.did}
    server = (await client.get(f"{XRPC}/com.atproto.server.describeServer")).json()
    assert server["availableUserDomains"] == [".bsky.emulator"]


async def test_the_profile_record_holds_the_display_name(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/_emulator/accounts",
        json={"platform": "bluesky", "username": "prof", "display_name": "Prof. Emu"},
    )
    did = created.json()["id"]
    found = await client.get(
        f"{XRPC}/com.atproto.repo.getRecord",
        params={"repo": did, "collection": "app.bsky.actor.profile", "rkey": "self"},
    )
    assert found.status_code == 200, found.text
    assert found.json()["uri"] == f"at://{did}/app.bsky.actor.profile/self"
    assert found.json()["value"] == {"$type": "app.bsky.actor.profile", "displayName": "Prof. Emu"}


async def test_without_an_appview_only_the_pds_answers(
    client: httpx.AsyncClient, alice: Session
) -> None:
    """The reference PDS proxies app.bsky.* to its AppView; without one it answers
    UpstreamFailure for all of them, while com.atproto.* keeps working. A reset turns the
    AppView back on."""
    uri = (await create_post(client, alice, "still here")).json()["uri"]
    assert (await client.get("/_emulator/switches")).json() == {"bluesky_appview": True}
    switched = await client.patch("/_emulator/switches", json={"bluesky_appview": False})
    assert switched.json() == {"bluesky_appview": False}
    for path, params in (
        ("app.bsky.actor.getProfile", {"actor": alice.did}),
        ("app.bsky.feed.getAuthorFeed", {"actor": alice.did}),
        ("app.bsky.feed.getPosts", {"uris": uri}),
        ("app.bsky.feed.getTimeline", {}),
    ):
        refused = await client.get(f"{XRPC}/{path}", params=params, headers=alice.auth)
        assert assert_xrpc_error(refused, 502, "UpstreamFailure") == (
            "Upstream service unreachable"
        )
    rkey = uri.rsplit("/", 1)[1]
    record = await client.get(
        f"{XRPC}/com.atproto.repo.getRecord",
        params={"repo": alice.did, "collection": "app.bsky.feed.post", "rkey": rkey},
    )
    assert record.json()["value"]["text"] == "still here"
    listed = await client.get(
        f"{XRPC}/com.atproto.repo.listRecords",
        params={"repo": alice.did, "collection": "app.bsky.feed.post"},
    )
    assert [r["uri"] for r in listed.json()["records"]] == [uri]
    session = await client.get(f"{XRPC}/com.atproto.server.getSession", headers=alice.auth)
    assert session.json()["did"] == alice.did
    await client.post("/_emulator/reset")
    assert (await client.get("/_emulator/switches")).json() == {"bluesky_appview": True}


async def test_the_appview_switch_has_a_setting() -> None:
    async with make_client(bluesky_appview=False) as client:
        assert (await client.get("/_emulator/switches")).json() == {"bluesky_appview": False}


async def test_unknown_methods(client: httpx.AsyncClient) -> None:
    missing = await client.get(f"{XRPC}/app.bsky.feed.getTimeline")
    assert_xrpc_error(missing, 501, "MethodNotImplemented")
    wrong_verb = await client.get(f"{XRPC}/com.atproto.repo.createRecord")
    assert assert_xrpc_error(wrong_verb, 400, "InvalidRequest") == (
        "Incorrect HTTP method (GET) expected POST"
    )


# -- video ----------------------------------------------------------------------------------------


async def test_video_service_job_goes_through_processing(
    client: httpx.AsyncClient, alice: Session
) -> None:
    service = await client.get(
        f"{XRPC}/com.atproto.server.getServiceAuth",
        params={"aud": "did:web:emulator", "lxm": "com.atproto.repo.uploadBlob"},
        headers=alice.auth,
    )
    token = service.json()["token"]
    assert jwt_payload(token)["iss"] == alice.did
    limits = await client.get(f"{XRPC}/app.bsky.video.getUploadLimits", headers=alice.auth)
    assert limits.json()["canUpload"] is True

    uploaded = await client.post(
        f"{XRPC}/app.bsky.video.uploadVideo",
        params={"did": alice.did, "name": "clip.mp4"},
        content=MP4,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "video/mp4"},
    )
    assert uploaded.status_code == 200, uploaded.text
    job = uploaded.json()["jobStatus"]
    assert job["state"] == "JOB_STATE_CREATED"
    assert "blob" not in job
    cid = blob_cid(MP4)

    video_blob = {"$type": "blob", "ref": {"$link": cid}, "mimeType": "video/mp4", "size": len(MP4)}
    embed = {"$type": "app.bsky.embed.video", "video": video_blob, "alt": "a clip"}
    too_soon = await create_post(client, alice, "clip", embed=embed)
    assert_xrpc_error(too_soon, 400, "BlobNotFound")

    await client.post("/_emulator/clock", json={"seconds": 0.15})
    status = await client.get(f"{XRPC}/app.bsky.video.getJobStatus", params={"jobId": job["jobId"]})
    assert status.json()["jobStatus"]["state"] == "JOB_STATE_ENCODING"
    assert 0 < status.json()["jobStatus"]["progress"] < 100

    await client.post("/_emulator/clock", json={"seconds": 1})
    done = (
        await client.get(f"{XRPC}/app.bsky.video.getJobStatus", params={"jobId": job["jobId"]})
    ).json()["jobStatus"]
    assert done["state"] == "JOB_STATE_COMPLETED"
    assert done["blob"] == video_blob

    posted = await create_post(client, alice, "clip", embed=embed)
    assert posted.status_code == 200, posted.text
    [post] = await emulator_posts(client)
    assert post["media"][0]["type"] == "video"
    assert post["media"][0]["sha256"] == hashlib.sha256(MP4).hexdigest()
    videos = await client.get(
        f"{XRPC}/app.bsky.feed.getAuthorFeed",
        params={"actor": alice.did, "filter": "posts_with_video"},
    )
    [item] = videos.json()["feed"]
    assert item["post"]["embed"]["$type"] == "app.bsky.embed.video#view"


async def test_video_job_fails_for_bytes_that_are_not_a_video(
    client: httpx.AsyncClient, alice: Session
) -> None:
    uploaded = await client.post(
        f"{XRPC}/app.bsky.video.uploadVideo",
        params={"did": alice.did, "name": "clip.mp4"},
        content=b"definitely not a video",
        headers={**alice.auth, "Content-Type": "video/mp4"},
    )
    job_id = uploaded.json()["jobStatus"]["jobId"]
    await client.post("/_emulator/clock", json={"seconds": 1})
    status = (
        await client.get(f"{XRPC}/app.bsky.video.getJobStatus", params={"jobId": job_id})
    ).json()["jobStatus"]
    assert status["state"] == "JOB_STATE_FAILED"
    assert status["error"]


# -- rate limits and faults -----------------------------------------------------------------------


async def test_rate_limit_headers_and_exhaustion() -> None:
    async with make_client(bluesky_rate_limit=3) as client:
        url = f"{XRPC}/com.atproto.server.describeServer"
        remaining = []
        for _ in range(3):
            response = await client.get(url)
            assert response.headers["ratelimit-limit"] == "3"
            assert response.headers["ratelimit-policy"] == "3;w=300"
            remaining.append(int(response.headers["ratelimit-remaining"]))
        assert remaining == [2, 1, 0]
        throttled = await client.get(url)
        assert assert_xrpc_error(throttled, 429, "RateLimitExceeded") == "Rate Limit Exceeded"
        assert throttled.headers["ratelimit-remaining"] == "0"
        assert int(throttled.headers["ratelimit-reset"]) > 0
        await client.post("/_emulator/clock", json={"seconds": 300})
        assert (await client.get(url)).status_code == 200


async def test_repo_writes_spend_points() -> None:
    async with make_client(bluesky_write_points_hour=7) as client:
        alice = await new_session(client, "alice")
        codes = [(await create_post(client, alice, f"{i}")).status_code for i in range(3)]
        assert codes == [200, 200, 429]  # 3 points a create: 3, 6, 9 > 7
        assert len(await emulator_posts(client)) == 2


async def test_create_session_is_limited_per_account() -> None:
    async with make_client(bluesky_session_rate_limit=2) as client:
        body = {
            "identifier": "herald_sandbox.bsky.emulator",
            "password": "emulator-bluesky-sandbox-token",
        }
        url = f"{XRPC}/com.atproto.server.createSession"
        codes = [(await client.post(url, json=body)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]


async def test_status_fault_answers_an_xrpc_error_without_posting(
    client: httpx.AsyncClient, alice: Session
) -> None:
    await add_fault(client, status=503, path="createRecord", method="POST")
    response = await create_post(client, alice, "x")
    assert response.json() == {"error": "NotEnoughResources", "message": "Not Enough Resources"}
    assert response.status_code == 503
    assert await emulator_posts(client) == []
    assert (
        await client.get(f"{XRPC}/com.atproto.server.getSession", headers=alice.auth)
    ).status_code == 200


async def test_429_fault_carries_rate_limit_headers(
    client: httpx.AsyncClient, alice: Session
) -> None:
    await add_fault(client, status=429, retry_after=30, count=1)
    response = await create_post(client, alice, "x")
    assert assert_xrpc_error(response, 429, "RateLimitExceeded") == "Rate Limit Exceeded"
    assert response.headers["ratelimit-remaining"] == "0"
    assert response.headers["ratelimit-policy"] == "3000;w=300"
    assert response.headers["retry-after"] == "30"
    assert (await create_post(client, alice, "x")).status_code == 200


async def test_after_phase_fault_creates_the_post_but_answers_an_error(
    client: httpx.AsyncClient, alice: Session
) -> None:
    await add_fault(client, status=502, phase="after", path="createRecord", count=1)
    response = await create_post(client, alice, "did it land?", rkey="3lherald00002")
    assert_xrpc_error(response, 502, "UpstreamFailure")
    [post] = await emulator_posts(client)
    assert post["text"] == "did it land?"
    # The client can find out with getRecord instead of posting twice.
    found = await client.get(
        f"{XRPC}/com.atproto.repo.getRecord",
        params={"repo": alice.did, "collection": "app.bsky.feed.post", "rkey": "3lherald00002"},
    )
    assert found.status_code == 200
    log = (
        await client.get(
            "/_emulator/requests", params={"platform": "bluesky", "path": "createRecord"}
        )
    ).json()
    assert log["data"][0]["status"] == 502
    assert log["data"][0]["faults"]


async def test_reset_invalidates_sessions(client: httpx.AsyncClient) -> None:
    sandbox = await login(client, "herald_sandbox.bsky.emulator", "emulator-bluesky-sandbox-token")
    await create_post(client, sandbox, "before reset")
    await client.post("/_emulator/reset")
    assert await emulator_posts(client) == []
    stale = await client.get(f"{XRPC}/com.atproto.server.getSession", headers=sandbox.auth)
    assert_xrpc_error(stale, 400, "InvalidToken")
    again = await login(client, "herald_sandbox.bsky.emulator", "emulator-bluesky-sandbox-token")
    assert again.did == sandbox.did


async def test_control_posts_shape(client: httpx.AsyncClient, alice: Session) -> None:
    await create_post(client, alice, "shape")
    [post] = await emulator_posts(client, account="alice")
    assert post.keys() == {
        "platform",
        "account",
        "id",
        "text",
        "media",
        "created_at",
        "in_reply_to_id",
        "idempotency_key",
        "deleted",
    }
    assert post["platform"] == "bluesky"
    assert post["created_at"].endswith("Z")
    assert post["media"] == []
    assert await emulator_posts(client, account="bob") == []
