"""One log format for every Herald process: text for people, or JSON lines (HERALD_LOG_FORMAT
=json) for a log pipeline, carrying the request's id in the API and the workflow's (and the
post's) in activities."""

from __future__ import annotations

import contextvars
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from temporalio import activity

# The API request being served (set by api.middleware.RequestIdMiddleware).
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "herald_request_id", default=None
)
_POST_WORKFLOW_PREFIXES = ("post/", "unpublish/")


def configure_logging(level: str, log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    logging.basicConfig(level=level.upper(), handlers=[handler])
    quiet_libraries()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and what the line is about
    (request_id; workflow_id, activity and post_id inside an activity); exceptions too."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            line["request_id"] = request_id
        if activity.in_activity():
            info = activity.info()
            workflow_id = info.workflow_id or ""
            line["workflow_id"] = workflow_id
            line["activity"] = info.activity_type
            for prefix in _POST_WORKFLOW_PREFIXES:
                if workflow_id.startswith(prefix):
                    line["post_id"] = workflow_id.removeprefix(prefix)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


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
