"""Attachment content as adapters send it: byte ranges as re-iterable request bodies, the
limit on reading one whole, and the streamed multipart form (read back by the standard
library's MIME parser, not by the code that wrote it)."""

from __future__ import annotations

from collections.abc import AsyncIterable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from platforms.base import MediaItem
from platforms.content import READ_WHOLE_LIMIT, BytesContent, UnreadContent
from platforms.multipart import StreamedForm

DATA = bytes(range(256)) * 9000  # a little over 2 MiB: three pieces


async def _drain(body: AsyncIterable[bytes]) -> bytes:
    return b"".join([piece async for piece in body])


async def test_a_byte_range_body_streams_its_bytes_and_can_be_sent_again() -> None:
    content = BytesContent(DATA)
    body = content.body(1000, 2_100_000)
    assert body.length == 2_099_000
    assert await _drain(body) == DATA[1000:2_100_000]
    assert await _drain(body) == DATA[1000:2_100_000]  # a repeated request reads it anew
    assert await content.read(5, 10) == DATA[5:10]


async def test_reading_a_large_attachment_whole_is_refused() -> None:
    with pytest.raises(ValueError, match="stream them"):
        await UnreadContent(READ_WHOLE_LIMIT + 1).read()


async def test_a_streamed_form_is_standard_multipart() -> None:
    item = MediaItem("m1", "video/mp4", 'clip "final"\r\n.mp4', BytesContent(DATA))
    form = StreamedForm({"description": "a red door", "segment": "0"}, "file", item)
    body = await _drain(form)
    assert int(form.headers["Content-Length"]) == len(body)
    assert await _drain(form) != b""  # iterable again
    head = f"Content-Type: {form.headers['Content-Type']}\r\n\r\n".encode()
    message = BytesParser(policy=policy.default).parsebytes(head + body)
    assert isinstance(message, EmailMessage) and message.is_multipart()
    parts = list(message.iter_parts())
    names = [p.get_param("name", header="content-disposition") for p in parts]
    assert names == ["description", "segment", "file"]
    assert [p.get_payload(decode=True) for p in parts[:2]] == [b"a red door", b"0"]
    video = parts[2]
    assert video.get_content_type() == "video/mp4"
    assert video.get_filename() == "clip %22final%22%0D%0A.mp4"  # cannot end the header
    assert video.get_payload(decode=True) == DATA
