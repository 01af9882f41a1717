"""An attachment's bytes as adapters send them: a size and ranged, piecewise reads.

Herald hands adapters content that reads from media storage as it is sent (a 2 GB video is
never in memory); an upload passes `body(...)` to httpx as `content=` with its
`Content-Length`, and httpx sends each piece as it is read. `read` loads a range whole, for
the few things that need bytes at hand (an image's header, one chunk of a multipart APPEND).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

# What `read` of a whole attachment will load; beyond it an adapter must stream. Above every
# platform's image limit, far below its video limits.
READ_WHOLE_LIMIT = 64 * 1024 * 1024


class MediaContent(ABC):
    """`size` bytes, read from `start` up to `end` (exclusive) in pieces."""

    size: int

    @abstractmethod
    def chunks(self, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes of [start, end) (end None: to `size`), piece by piece as consumed."""

    def body(self, start: int = 0, end: int | None = None) -> ByteRange:
        """A request body of [start, end) that httpx streams, and may send again (a repeated
        request reads the range anew)."""
        return ByteRange(self, start, self.size if end is None else end)

    async def read(self, start: int = 0, end: int | None = None) -> bytes:
        """The bytes of [start, end) in memory: refused over READ_WHOLE_LIMIT, where the
        caller should have streamed them."""
        stop = self.size if end is None else end
        if stop - start > READ_WHOLE_LIMIT:
            raise ValueError(
                f"{stop - start} bytes are too many to read at once; stream them with body()"
            )
        return b"".join([piece async for piece in self.chunks(start, stop)])


class ByteRange:
    """Part of an attachment as an httpx request body (an AsyncIterable of bytes, iterable
    again for each sending); `length` goes in the request's Content-Length."""

    def __init__(self, content: MediaContent, start: int, end: int) -> None:
        self.content = content
        self.start = start
        self.end = end

    @property
    def length(self) -> int:
        return self.end - self.start

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.content.chunks(self.start, self.end)


class BytesContent(MediaContent):
    """Bytes already in memory (what adapter tests hand over)."""

    PIECE = 1024 * 1024

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.size = len(data)

    async def chunks(self, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        stop = self.size if end is None else min(end, self.size)
        for offset in range(start, stop, self.PIECE):
            yield self._data[offset : min(offset + self.PIECE, stop)]


class UnreadContent(MediaContent):
    """Only the size: what validation knows of stored media without reading any of it."""

    def __init__(self, size: int) -> None:
        self.size = size

    def chunks(self, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        raise RuntimeError("validation does not read media bytes")
