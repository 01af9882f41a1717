"""What the LinkedIn routes share: Rest.li error bodies, bearer auth, the versioning headers,
URNs and the "little" text format of post commentary.

Error bodies as LinkedIn sends them (learn.microsoft.com "Error Handling"; the shapes seen in
the wild):

* request-level: ``{"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN",
  "message": "Invalid access token"}``, ``{"status": 426, "code": "NONEXISTENT_VERSION",
  "message": "Requested version 20240101 is not active"}``;
* content refusals: ``{"errorDetailType": "com.linkedin.common.error.BadRequest", "message":
  "com.linkedin.content.common.exception.BadRequestResponseException: ...", "errorDetails":
  {"inputErrors": [{"description", "input", "code"}]}, "status": 422}``.

Deviation: expired, revoked and unknown tokens all answer INVALID_ACCESS_TOKEN (65600).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request

from emulator.platform import PlatformError
from emulator.state import Account, EmulatorState, state_of

PLATFORM = "linkedin"
PERSON = "urn:li:person:"
SHARE = "urn:li:share:"
BAD_REQUEST = "com.linkedin.common.error.BadRequest"
CONTENT_EXCEPTION = "com.linkedin.content.common.exception.BadRequestResponseException"
# Versions stay active for about a year after release (learn.microsoft.com "Versioning").
ACTIVE_MONTHS = 12
_VERSION = re.compile(r"\A(20\d\d)(0[1-9]|1[0-2])(?:\.\d\d)?\Z")


def rest_error(
    status: int, code: str, message: str, service_code: int | None = None
) -> PlatformError:
    body: dict[str, Any] = {"status": status}
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    body["code"] = code
    body["message"] = message
    return PlatformError(status, body)


def input_error(
    message: str, code: str, description: str, status: int = 422, **extra: Any
) -> PlatformError:
    """A content refusal, in the shape the Posts API uses for validation failures."""
    return PlatformError(
        status,
        {
            "errorDetailType": BAD_REQUEST,
            "message": f"{CONTENT_EXCEPTION}: {message}",
            "errorDetails": {
                "inputErrors": [{"description": description, "input": {}, "code": code, **extra}]
            },
            "status": status,
        },
    )


def missing_field(path: str) -> PlatformError:
    """Rest.li's schema validation failure, e.g. for a request without ``visibility``."""
    return PlatformError(
        422,
        {
            "message": f"ERROR :: {path} :: field is required but not found and has no "
            "default value\n",
            "status": 422,
        },
    )


def not_found(what: str) -> PlatformError:
    return rest_error(404, "NOT_FOUND", f"{what} does not exist")


def forbidden(message: str) -> PlatformError:
    return rest_error(403, "ACCESS_DENIED", message, 100)


def bearer_token(authorization: str) -> str | None:
    scheme, _, credential = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return credential.strip()
    return None


def member(request: Request) -> Account:
    token = bearer_token(request.headers.get("authorization", ""))
    account = state_of(request).account_by_token(PLATFORM, token) if token else None
    if account is None:
        raise rest_error(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
    return account


Member = Annotated[Account, Depends(member)]


def check_version(request: Request) -> None:
    """Every /rest call names a version (``LinkedIn-Version: YYYYMM``) that is still active."""
    raw = request.headers.get("linkedin-version")
    if not raw:
        raise rest_error(
            400,
            "VERSION_MISSING",
            "A version must be present. Please specify a version by adding the "
            "LinkedIn-Version header.",
        )
    match = _VERSION.match(raw.strip())
    if match is None or not _active(state_of(request).now(), int(match[1]), int(match[2])):
        raise rest_error(426, "NONEXISTENT_VERSION", f"Requested version {raw} is not active")


def _active(now: datetime, year: int, month: int) -> bool:
    age = (now.year - year) * 12 + (now.month - month)
    return 0 <= age < ACTIVE_MONTHS


Versioned = Depends(check_version)


def person_urn(account: Account) -> str:
    return f"{PERSON}{account.id}"


def next_id(state: EmulatorState) -> str:
    """Share, activity and comment ids: 19-digit numbers that grow with time."""
    data = state.scratch(PLATFORM)
    candidate = int(state.now().timestamp() * 1000) << 22
    last: int = max(candidate, data.get("last_id", 0) + 1)
    data["last_id"] = last
    return str(last)


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# -- little text ----------------------------------------------------------------------------

RESERVED = frozenset("|{}@[]()<>#\\*_~")
_URL = re.compile(r"https?://[^\s]+")
_MENTION = re.compile(r"@\[([^\]\\]*)\]\((urn:li:(?:person|organization):[A-Za-z0-9_-]+)\)")
_HASHTAG = re.compile(r"#\w")


def _url_at(text: str, index: int) -> str | None:
    """A URL is linked up to its last character that is not closing punctuation."""
    if text[index] not in "hH" or (index > 0 and text[index - 1].isalnum()):
        return None
    found = _URL.match(text, index)
    if found is None:
        return None
    url = found.group(0).split("\\", 1)[0]
    return url.rstrip(".,;:!?'\")]}>")


def render_little(commentary: str) -> tuple[str, int]:
    """Plain text of a commentary in LinkedIn's "little" format, and how much of the raw
    commentary that covers.

    Reserved characters must be backslash-escaped; LinkedIn does not refuse a post with an
    unescaped one but silently cuts the commentary there (reported by API users, e.g. at
    the first parenthesis). Mentions ``@[Name](urn:li:person:...)``, hashtags and URLs are
    elements, not breaks."""
    out: list[str] = []
    index = 0
    while index < len(commentary):
        char = commentary[index]
        if char == "\\" and index + 1 < len(commentary):
            out.append(commentary[index + 1])
            index += 2
            continue
        url = _url_at(commentary, index)
        if url:
            out.append(url)
            index += len(url)
            continue
        if char == "#" and _HASHTAG.match(commentary, index):
            out.append(char)
            index += 1
            continue
        if char == "@":
            mention = _MENTION.match(commentary, index)
            if mention:
                out.append(mention[1])
                index = mention.end()
                continue
        if char in RESERVED:
            return "".join(out), index
        out.append(char)
        index += 1
    return "".join(out), len(commentary)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
