"""A multipart/form-data upload whose file part streams from the attachment's content.

httpx's own multipart encoder takes bytes or a blocking file, so a video sent in one form
request (Mastodon's v2 media, Facebook's page videos) would be read whole first. This body
is the same encoding, sent piece by piece with an exact Content-Length.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping

from platforms.base import MediaItem


def _quoted(value: str) -> str:
    """A form parameter as WHATWG's multipart encoding (and httpx) writes it: quote, CR and
    LF percent-escaped, so a filename cannot end the header."""
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class StreamedForm:
    """`fields` as text parts, then `item` as the file part named `file_field`; pass it as
    httpx `content=` with `headers`. Iterable again (a repeated request streams anew)."""

    def __init__(self, fields: Mapping[str, str], file_field: str, item: MediaItem) -> None:
        self._item = item
        boundary = secrets.token_hex(16)
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n'
            f"{value}\r\n"
            for name, value in fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(file_field)}"; '
            f'filename="{_quoted(item.filename or "media")}"\r\n'
            f"Content-Type: {item.mime_type}\r\n\r\n"
        )
        self._head = "".join(parts).encode()
        self._tail = f"\r\n--{boundary}--\r\n".encode()
        self.headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(self._head) + item.size + len(self._tail)),
        }

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._head
        async for piece in self._item.content.chunks():
            yield piece
        yield self._tail
