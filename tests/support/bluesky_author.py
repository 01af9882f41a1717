"""Writes posts on the emulated Bluesky PDS as one user, the way any client would: a session,
blobs uploaded first (com.atproto.repo.uploadBlob), then a post record with tag facets and the
images embedded (app.bsky.embed.images)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

# (bytes, MIME type, alt text) of one image.
Image = tuple[bytes, str, str]


class BlueskyAuthor:
    def __init__(self, emulator: httpx.AsyncClient, username: str, app_password: str) -> None:
        self._emulator = emulator
        self._login = {"identifier": f"{username}.bsky.emulator", "password": app_password}
        self._session: dict[str, Any] | None = None

    @property
    def did(self) -> str:
        """The account's DID, once it has posted."""
        assert self._session is not None
        return str(self._session["did"])

    async def post(self, text: str, images: list[Image] | None = None) -> None:
        if self._session is None:
            created = await self._emulator.post(
                "/bluesky/xrpc/com.atproto.server.createSession", json=self._login
            )
            created.raise_for_status()
            self._session = created.json()
        auth = {"Authorization": f"Bearer {self._session['accessJwt']}"}
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "facets": _hashtag_facets(text),
        }
        if images:
            embedded = []
            for data, mime_type, alt in images:
                uploaded = await self._emulator.post(
                    "/bluesky/xrpc/com.atproto.repo.uploadBlob",
                    content=data,
                    headers={**auth, "Content-Type": mime_type},
                )
                uploaded.raise_for_status()
                embedded.append({"alt": alt, "image": uploaded.json()["blob"]})
            record["embed"] = {"$type": "app.bsky.embed.images", "images": embedded}
        response = await self._emulator.post(
            "/bluesky/xrpc/com.atproto.repo.createRecord",
            json={
                "repo": self._session["did"],
                "collection": "app.bsky.feed.post",
                "record": record,
            },
            headers=auth,
        )
        response.raise_for_status()


def _hashtag_facets(text: str) -> list[dict[str, Any]]:
    facets = []
    data = text.encode()
    start = 0
    while (index := data.find(b"#", start)) >= 0:
        end = index + 1
        while end < len(data) and chr(data[end]).isalnum():
            end += 1
        tag = data[index + 1 : end].decode()
        facets.append(
            {
                "index": {"byteStart": index, "byteEnd": end},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}],
            }
        )
        start = end
    return facets
