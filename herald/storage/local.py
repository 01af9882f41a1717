"""Local-disk media (the embedded default): files under media_dir, moved in and out through
signed, expiring URLs that the API serves (api/routes/media_files.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from herald.storage.base import (
    READ_PIECE_BYTES,
    MediaStorage,
    ShortObject,
    UploadTarget,
    upload_key,
)
from herald.storage.signing import UrlSigner

FILES_PATH = "/v1/media-files"


class LocalStorage(MediaStorage):
    def __init__(self, root: Path, api_url: str, signer: UrlSigner) -> None:
        self.root = root
        self._api_url = api_url.rstrip("/")
        self.signer = signer

    def path_of(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("storage key escapes the media folder")
        return path

    def _url(
        self, method: str, key: str, expires_at: datetime, size: int | None, content_type: str = ""
    ) -> str:
        expires = int(expires_at.timestamp())
        signature = self.signer.sign(method, key, expires, size, content_type)
        query: dict[str, str | int] = {"expires": expires, "signature": signature}
        if size is not None:
            query["size"] = size
        if content_type:
            query["type"] = content_type
        return f"{self._api_url}{FILES_PATH}/{key}?{urlencode(query)}"

    async def upload_target(
        self, key: str, content_type: str, size: int, expires_at: datetime
    ) -> UploadTarget:
        return UploadTarget(
            url=self._url("PUT", upload_key(key), expires_at, size),
            headers={"Content-Type": content_type},
        )

    async def seal(self, key: str) -> None:
        staged = self.path_of(upload_key(key))
        with contextlib.suppress(FileNotFoundError):
            os.replace(staged, self.path_of(key))

    async def download_url(self, key: str, expires_at: datetime, content_type: str) -> str:
        return self._url("GET", key, expires_at, None, content_type)

    async def size_of(self, key: str) -> int | None:
        path = self.path_of(key)
        return path.stat().st_size if path.exists() else None

    @contextlib.asynccontextmanager
    async def local_copy(self, key: str) -> AsyncIterator[Path]:
        yield self.path_of(key)

    async def chunks(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self.path_of(key).open, "rb")
        try:
            position = await asyncio.to_thread(handle.seek, start)
            while end is None or position < end:
                wanted = READ_PIECE_BYTES if end is None else min(READ_PIECE_BYTES, end - position)
                piece = await asyncio.to_thread(handle.read, wanted)
                if not piece:
                    break
                position += len(piece)
                yield piece
        finally:
            handle.close()
        if end is not None and position < end:
            raise ShortObject(f"{key} ends at byte {position}, before byte {end}")

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        target = self.path_of(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(shutil.move, path, target)

    async def delete(self, key: str) -> None:
        for each in (key, upload_key(key)):
            self.path_of(each).unlink(missing_ok=True)
