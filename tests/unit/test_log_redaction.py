"""Signed media URLs in access log lines lose their signatures."""

from __future__ import annotations

import logging

from herald.logs import SignedUrlRedaction, redact_access_log


def _access_line(path: str) -> str:
    # uvicorn's access logger: '%s - "%s %s HTTP/%s" %d' with the path and its query.
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "PUT", path, "1.1", 200),
        None,
    )
    SignedUrlRedaction().filter(record)
    return record.getMessage()


def test_signatures_are_redacted_and_the_rest_is_kept() -> None:
    line = _access_line("/v1/media-files/w/m?expires=1800000000&signature=ab12cd&size=10")
    assert line == (
        '127.0.0.1:5000 - "PUT /v1/media-files/w/m?expires=1800000000&signature=…&size=10'
        ' HTTP/1.1" 200'
    )
    s3 = _access_line("/b/k?X-Amz-Credential=AKIA%2F&X-Amz-Signature=f00d")
    assert "AKIA" not in s3 and "f00d" not in s3
    assert (
        _access_line("/v1/posts?limit=5") == '127.0.0.1:5000 - "PUT /v1/posts?limit=5 HTTP/1.1" 200'
    )


def test_the_filter_is_installed_once() -> None:
    redact_access_log()
    redact_access_log()
    access = logging.getLogger("uvicorn.access")
    assert sum(isinstance(f, SignedUrlRedaction) for f in access.filters) == 1
