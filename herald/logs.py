"""One log format for every Herald process."""

from __future__ import annotations

import logging
import re


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    quiet_libraries()


def quiet_libraries() -> None:
    # httpx logs every request URL at INFO, and some platform APIs (Graph token exchanges)
    # carry tokens in the query string: never let those lines out. Platform calls are logged
    # by the activities instead.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("temporalio.activity").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


_SIGNATURE = re.compile(r"(signature|X-Amz-Signature|X-Amz-Credential)=[^&\s\"]*", re.IGNORECASE)


class SignedUrlRedaction(logging.Filter):
    """Access logs name each request's path and query: a signed media URL's signature is a
    credential (whoever has the line can upload or download until it expires), so it is
    written as "signature=…"."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SIGNATURE.sub(r"\1=…", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _SIGNATURE.sub(r"\1=…", record.msg)
        return True


def redact_access_log() -> None:
    """Installs SignedUrlRedaction on uvicorn's access log (once, after uvicorn set it up)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, SignedUrlRedaction) for f in access.filters):
        access.addFilter(SignedUrlRedaction())
