"""Request parameters the way Rails sees them: query string merged with a JSON, urlencoded
or multipart body, with ``name[]`` and ``name`` meaning the same array.

Parsed by hand rather than with python-multipart (not a project dependency): uploads must
arrive byte-identical so tests can compare SHA-256 digests, and the format is simple enough.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request


class MalformedBody(ValueError):
    """The body could not be parsed (Rails answers 400 for this)."""


@dataclass(frozen=True)
class UploadedFile:
    filename: str | None
    content_type: str
    data: bytes


@dataclass
class Params:
    values: dict[str, list[Any]] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)

    def add(self, name: str, value: Any) -> None:
        key = name[:-2] if name.endswith("[]") else name
        if isinstance(value, list):
            self.values.setdefault(key, []).extend(value)
        else:
            self.values.setdefault(key, []).append(value)

    def get(self, name: str) -> Any | None:
        """The last value given for ``name`` (Rails keeps the last of repeated scalars)."""
        found = self.values.get(name)
        return found[-1] if found else None

    def get_str(self, name: str) -> str | None:
        value = self.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def get_list(self, name: str) -> list[Any]:
        return list(self.values.get(name, []))

    def get_bool(self, name: str) -> bool | None:
        """Rails' boolean casting: false, 0, "false", "0", "off", "f" and "" are false."""
        value = self.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() not in {"", "0", "f", "false", "off", "no", "n"}


def _content_type(header: str) -> Message:
    message = Message()
    message["content-type"] = header or "application/octet-stream"
    return message


async def read_params(request: Request) -> Params:
    params = Params()
    for name, value in request.query_params.multi_items():
        params.add(name, value)
    body = await request.body()
    if not body:
        return params
    content_type = _content_type(request.headers.get("content-type", ""))
    mime = content_type.get_content_type()
    if mime == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise MalformedBody(str(exc)) from exc
        if not isinstance(decoded, dict):
            raise MalformedBody("expected a JSON object")
        for name, value in decoded.items():
            params.add(str(name), value)
    elif mime == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError as exc:
            raise MalformedBody(str(exc)) from exc
        for name, value in pairs:
            params.add(name, value)
    elif mime == "multipart/form-data":
        boundary = content_type.get_param("boundary")
        if not isinstance(boundary, str) or not boundary:
            raise MalformedBody("multipart body without a boundary")
        _parse_multipart(body, boundary, params)
    return params


def _parse_multipart(body: bytes, boundary: str, params: Params) -> None:
    # Every delimiter is CRLF "--" boundary; the first may sit at the very start of the body.
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    chunks = (b"\r\n" + body).split(delimiter)
    if len(chunks) < 2:
        raise MalformedBody("multipart body without parts")
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # closing delimiter; the rest is epilogue
        # Skip transport padding and the CRLF that ends the delimiter line.
        _, newline, part = chunk.partition(b"\r\n")
        if not newline:
            raise MalformedBody("truncated multipart part")
        head, separator, content = part.partition(b"\r\n\r\n")
        if not separator:
            # A part with no headers at all starts directly with the blank line.
            if part.startswith(b"\r\n"):
                head, content = b"", part[2:]
            else:
                raise MalformedBody("multipart part without a header block")
        headers = Message()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            header_name, colon, header_value = line.partition(":")
            if colon:
                headers[header_name.strip()] = header_value.strip()
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        filename = headers.get_filename()
        if filename is not None or "filename" in str(headers.get("content-disposition", "")):
            params.files[name] = UploadedFile(
                filename=filename,
                content_type=headers.get_content_type()
                if headers.get("content-type")
                else "application/octet-stream",
                data=content,
            )
        else:
            params.add(name, content.decode("utf-8", "replace"))
