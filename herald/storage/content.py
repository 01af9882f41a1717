"""Stored media as adapters read it: the platforms' MediaContent over a storage key."""

from __future__ import annotations

from collections.abc import AsyncIterator

from herald.storage.base import MediaStorage
from platforms.content import MediaContent


class StoredContent(MediaContent):
    """The object under `key`, `size` bytes long, read from storage as it is consumed."""

    def __init__(self, storage: MediaStorage, key: str, size: int) -> None:
        self._storage = storage
        self._key = key
        self.size = size

    def chunks(self, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        return self._storage.chunks(self._key, start, self.size if end is None else end)
