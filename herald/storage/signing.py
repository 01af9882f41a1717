"""HMAC-signed, expiring URLs for the local backend (the API serves the bytes itself)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime


class UrlSigner:
    def __init__(self, secret: bytes) -> None:
        # A key of its own: a leaked URL signature says nothing about the credentials key.
        self._key = hmac.new(secret, b"herald media urls", hashlib.sha256).digest()

    def sign(
        self, method: str, key: str, expires: int, size: int | None = None, content_type: str = ""
    ) -> str:
        """`content_type` of a download: the type the file is served as, so a URL cannot be
        rewritten to serve it as another."""
        sized = size if size is not None else ""
        message = f"{method.upper()}\n{key}\n{expires}\n{sized}\n{content_type}"
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def verify(
        self,
        method: str,
        key: str,
        expires: int,
        signature: str,
        now: datetime,
        size: int | None = None,
        content_type: str = "",
    ) -> str | None:
        """None when valid, else why not."""
        expected = self.sign(method, key, expires, size, content_type).encode()
        if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
            return "the URL's signature is not valid"
        if now.timestamp() > expires:
            return "the URL has expired; ask for a new one"
        return None
