"""Signed media URLs: only the exact method, key, expiry and size verify."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from herald.storage.signing import UrlSigner


def test_signatures_bind_every_part_and_expire() -> None:
    signer = UrlSigner(b"secret")
    now = datetime.now(UTC)
    expires = int((now + timedelta(minutes=5)).timestamp())
    good = signer.sign("PUT", "w/m", expires, 10)
    assert signer.verify("PUT", "w/m", expires, good, now, 10) is None
    assert signer.verify("GET", "w/m", expires, good, now, 10) is not None
    assert signer.verify("PUT", "w/other", expires, good, now, 10) is not None
    assert signer.verify("PUT", "w/m", expires, good, now, 11) is not None
    assert signer.verify("PUT", "w/m", expires + 1, good, now, 10) is not None
    later = now + timedelta(minutes=6)
    assert "expired" in str(signer.verify("PUT", "w/m", expires, good, later, 10))
    assert UrlSigner(b"other").verify("PUT", "w/m", expires, good, now, 10) is not None


def test_garbage_signatures_are_refused_not_crashed_on() -> None:
    signer = UrlSigner(b"secret")
    now = datetime.now(UTC)
    assert signer.verify("GET", "k", int(now.timestamp()) + 60, "ünïcode", now) is not None
