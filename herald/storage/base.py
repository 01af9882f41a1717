"""The storage interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class UploadTarget:
    url: str
    method: str = "PUT"
    headers: dict[str, str] = field(default_factory=dict)


# What a browser may show inline from a media URL: raster images and plain video. Anything
# else (SVG and HTML run scripts) is served as a download.
INLINE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "video/mp4",
        "video/webm",
        "video/quicktime",
    }
)


def renders_inline(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in INLINE_TYPES


def content_disposition(content_type: str, filename: str = "media") -> str:
    return "inline" if renders_inline(content_type) else f'attachment; filename="{filename}"'


# Uploads land beside their key, under this suffix, and `seal` moves them to the key itself,
# which no URL writes: an upload URL used again after `complete` (S3 cannot make a presigned
# URL single-use) writes an object nobody reads, and cannot replace what was probed.
UPLOAD_SUFFIX = ".upload"


# Pieces `chunks` reads at a time: large enough that a 2 GB video is a few thousand reads,
# small enough that streaming one costs the process no memory worth measuring.
READ_PIECE_BYTES = 1024 * 1024


class ShortObject(Exception):
    """The stored object ended before the byte a ranged read asked for: it is not the file
    the database describes."""


def upload_key(key: str) -> str:
    return key + UPLOAD_SUFFIX


def key_of_upload(upload: str) -> str | None:
    """The media key an upload key belongs to; None for anything else."""
    return upload.removesuffix(UPLOAD_SUFFIX) if upload.endswith(UPLOAD_SUFFIX) else None


class MediaStorage(ABC):
    @abstractmethod
    async def upload_target(
        self, key: str, content_type: str, size: int, expires_at: datetime
    ) -> UploadTarget:
        """A URL the client PUTs the bytes to, valid until `expires_at`; they arrive at
        `upload_key(key)` until `seal` moves them."""

    @abstractmethod
    async def seal(self, key: str) -> None:
        """Moves what arrived at `upload_key(key)` to `key`; nothing if nothing arrived
        (uploads begun before staging wrote `key` itself)."""

    @abstractmethod
    async def download_url(self, key: str, expires_at: datetime, content_type: str) -> str:
        """A URL that serves the object as `content_type` (the probed type, whatever the
        uploader claimed), never sniffed, and as an attachment unless `renders_inline`."""

    @abstractmethod
    async def size_of(self, key: str) -> int | None:
        """Bytes stored under `key`, or None when nothing is."""

    @abstractmethod
    def local_copy(self, key: str) -> AbstractAsyncContextManager[Path]:
        """A file with the object's bytes, for probing; removed afterwards if it was a copy."""

    @abstractmethod
    def chunks(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes `start` up to `end` (exclusive; None: to the end of the object), read
        piece by piece (at most READ_PIECE_BYTES each) as the caller consumes them, so that
        uploading a large video to a platform never holds it in memory. ShortObject when the
        object ends before `end`."""

    @abstractmethod
    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Stores a local file's bytes under `key` (imports, which Herald downloads itself)."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Removes the object and anything an upload URL left beside it."""
