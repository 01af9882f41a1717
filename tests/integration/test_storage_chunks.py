"""Ranged, piecewise reads of stored media on both backends: the local folder and an
S3-compatible server (moto's real one over HTTP), as publishing streams them to platforms."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from herald.storage.base import READ_PIECE_BYTES, MediaStorage, ShortObject
from herald.storage.local import LocalStorage
from herald.storage.s3 import S3Storage
from herald.storage.signing import UrlSigner
from tests.support.servers import free_port

# Three and a half pieces, every byte telling its position apart from its neighbours'.
DATA = bytes((i * 7 + i // 251) % 256 for i in range(READ_PIECE_BYTES * 7 // 2))


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(params=["local", "s3"])
async def storage(
    request: pytest.FixtureRequest, tmp_path: Path, s3_endpoint: str
) -> AsyncIterator[MediaStorage]:
    source = tmp_path / "source"
    source.write_bytes(DATA)
    if request.param == "local":
        found: MediaStorage = LocalStorage(
            tmp_path / "media", "http://herald", UrlSigner(b"k" * 32)
        )
        (tmp_path / "media").mkdir()
    else:
        s3 = S3Storage(f"herald-{uuid.uuid4().hex[:8]}", s3_endpoint, "us-east-1")
        await s3.ensure_bucket()
        found = s3
    await found.put_file("w/video", source, "video/mp4")
    yield found


async def _pieces(storage: MediaStorage, start: int = 0, end: int | None = None) -> list[bytes]:
    return [piece async for piece in storage.chunks("w/video", start, end)]


async def test_an_object_is_read_in_bounded_pieces(storage: MediaStorage) -> None:
    pieces = await _pieces(storage)
    assert b"".join(pieces) == DATA
    assert len(pieces) >= 4 and max(len(p) for p in pieces) <= READ_PIECE_BYTES


async def test_a_byte_range_is_exactly_those_bytes(storage: MediaStorage) -> None:
    start, end = READ_PIECE_BYTES - 3, 2 * READ_PIECE_BYTES + 5
    assert b"".join(await _pieces(storage, start, end)) == DATA[start:end]
    assert b"".join(await _pieces(storage, len(DATA) - 10)) == DATA[-10:]
    assert b"".join(await _pieces(storage, 5, 6)) == DATA[5:6]
    assert await _pieces(storage, 9, 9) == []


async def test_a_range_past_the_object_is_refused(storage: MediaStorage) -> None:
    with pytest.raises(ShortObject):
        await _pieces(storage, len(DATA) - 4, len(DATA) + 1)
    with pytest.raises(ShortObject):
        await _pieces(storage, len(DATA) + 10, len(DATA) + 20)
