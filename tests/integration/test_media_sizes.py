"""A video of more than 2 GiB can be declared and is stored with its size (Postgres' 32-bit
integer overflowed at 2,147,483,648 bytes though the video limit allows 4 GiB)."""

from __future__ import annotations

from tests.support.stack import Stack

THREE_GIB = 3 * 2**30


async def test_an_upload_of_three_gib_is_declared_and_reads_back(stack: Stack) -> None:
    tenant = await stack.new_tenant(("mastodon",))
    started = await stack.api.post(
        "/v1/media/uploads",
        json={
            "brand_id": str(tenant.brand_id),
            "filename": "long.mp4",
            "mime_type": "video/mp4",
            "size": THREE_GIB,
        },
        headers=tenant.headers,
    )
    assert started.status_code == 201, started.text
    media = await stack.api.get(f"/v1/media/{started.json()['media_id']}", headers=tenant.headers)
    assert media.status_code == 200, media.text
    assert media.json()["status"] == "pending"
    assert media.json()["size"] == THREE_GIB
