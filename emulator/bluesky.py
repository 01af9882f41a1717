"""Bluesky: a PDS (and just enough AppView and video service) mounted at /bluesky, so XRPC
lives at ``/bluesky/xrpc/<nsid>`` and the "service URL" an adapter configures is
``http://host:port/bluesky``.

Follows the lexicons (com.atproto.server.*, com.atproto.repo.*, app.bsky.feed.*,
app.bsky.video.*) and the reference PDS (bluesky-social/atproto packages/pds) for auth,
errors and limits: error bodies ``{"error": "InvalidRequest", "message": "..."}``, expired
access tokens as 400 ``ExpiredToken``, ``RateLimit-*`` headers.

Credentials: every emulator account is a repo whose DID is the account id (a ``did:plc:``
derived from the username, so it is the same in every run) and whose handle is
``<username>.bsky.emulator``. Its *app password* is the account's token, so
``createSession {identifier: <handle or DID>, password: <token>}`` opens a session (the
sandbox account: ``herald_sandbox.bsky.emulator`` / ``emulator-bluesky-sandbox-token``).
Access JWTs last ``bluesky_access_ttl_s`` (2 h) on the emulator clock; refreshSession with the
refresh JWT as bearer rotates both. A reset invalidates every session.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from emulator.atproto import (
    BadJwt,
    TidClock,
    blob_cid,
    decode_jwt,
    did_web,
    format_bytes,
    record_cid,
    sign_jwt,
    valid_nsid,
    valid_record_key,
)
from emulator.bluesky_records import (
    POST_COLLECTION,
    PROFILE_COLLECTION,
    BlobUse,
    RecordInvalid,
    parse_post,
)
from emulator.bluesky_views import (
    HANDLE_DOMAIN,
    PLATFORM,
    blob_url,
    did_doc,
    feed_view_post,
    handle_of,
    live_posts,
    post_view,
    profile_detailed,
    rkey_of,
)
from emulator.faults import Fault
from emulator.media_meta import sniff_mime
from emulator.platform import PlatformEmulator, PlatformError, RequestInfo
from emulator.ratelimit import RateLimitResult
from emulator.state import Account, EmulatorState, MediaItem, Post, state_of

# Scopes of a session (packages/pds/src/auth-scope.ts); app passwords get appPass.
SCOPE_APP_PASS = "com.atproto.appPass"
SCOPE_REFRESH = "com.atproto.refresh"
ACCESS_SCOPES = ("com.atproto.access", SCOPE_APP_PASS, "com.atproto.appPassPrivileged")
# Repo write costs in rate-limit points (docs.bsky.app rate-limits: create 3, update 2, delete 1).
_WRITE_COSTS = {
    "/xrpc/com.atproto.repo.createRecord": 3,
    "/xrpc/com.atproto.repo.putRecord": 2,
    "/xrpc/com.atproto.repo.deleteRecord": 1,
}
VIDEO_LIMIT = 100_000_000
DAILY_VIDEO_COUNT = 25
DAILY_VIDEO_BYTES = 10 * 1024 * 1024 * 1024

# @atproto/xrpc ResponseTypeNames / ResponseTypeStrings.
_ERROR_NAMES = {
    400: ("InvalidRequest", "Invalid Request"),
    401: ("AuthenticationRequired", "Authentication Required"),
    403: ("Forbidden", "Forbidden"),
    404: ("XRPCNotSupported", "XRPC Not Supported"),
    413: ("PayloadTooLarge", "Payload Too Large"),
    415: ("UnsupportedMediaType", "Unsupported Media Type"),
    429: ("RateLimitExceeded", "Rate Limit Exceeded"),
    500: ("InternalServerError", "Internal Server Error"),
    501: ("MethodNotImplemented", "Method Not Implemented"),
    502: ("UpstreamFailure", "Upstream Failure"),
    503: ("NotEnoughResources", "Not Enough Resources"),
    504: ("UpstreamTimeout", "Upstream Timeout"),
}


def xrpc_error(
    status: int, error: str, message: str, headers: dict[str, str] | None = None
) -> PlatformError:
    return PlatformError(status, {"error": error, "message": message}, headers)


def invalid(message: str, error: str = "InvalidRequest") -> PlatformError:
    return xrpc_error(400, error, message)


class BlueskyEmulator(PlatformEmulator):
    name = PLATFORM

    def router(self) -> APIRouter:
        return router

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        name, text = _ERROR_NAMES.get(status, (None, None))
        if name is None:
            phrase = self.default_message(status)
            name, text = phrase.title().replace(" ", ""), phrase
        return {"error": name, "message": message or text}

    def rate_limit(self, state: EmulatorState, request: RequestInfo) -> RateLimitResult | None:
        settings = state.settings
        now = state.now()
        counter = state.rate_counter
        results = [
            counter.hit(
                "bluesky:ip",
                request.client_host,
                settings.bluesky_rate_limit,
                settings.bluesky_rate_period_s,
                now,
            )
        ]
        cost = _WRITE_COSTS.get(request.path)
        did = _bearer_subject(state, request.headers.get("authorization", "")) if cost else None
        if cost and did and request.method == "POST":
            results.append(
                counter.hit(
                    "bluesky:write-hour", did, settings.bluesky_write_points_hour, 3600, now, cost
                )
            )
            results.append(
                counter.hit(
                    "bluesky:write-day", did, settings.bluesky_write_points_day, 86400, now, cost
                )
            )
        return _tightest(results)

    def rate_limit_headers(self, result: RateLimitResult) -> dict[str, str]:
        return _ratelimit_headers(result.limit, result.remaining, result.reset_at, result.period_s)

    def rate_limited_error(self, result: RateLimitResult) -> PlatformError:
        return xrpc_error(
            429, "RateLimitExceeded", "Rate Limit Exceeded", self.rate_limit_headers(result)
        )

    def fault_headers(self, state: EmulatorState, fault: Fault) -> dict[str, str]:
        headers = super().fault_headers(state, fault)
        if fault.spec.status == 429:
            settings = state.settings
            reset = state.now() + timedelta(seconds=fault.spec.retry_after or 0)
            headers.update(
                _ratelimit_headers(
                    settings.bluesky_rate_limit, 0, reset, settings.bluesky_rate_period_s
                )
            )
        return headers

    def media_url(self, base_url: str, media: MediaItem) -> str:
        return blob_url(f"{base_url.rstrip('/')}/{PLATFORM}", media.account_id, media.id)


def _tightest(results: list[RateLimitResult]) -> RateLimitResult:
    """CombinedRateLimiter: an exceeded limit wins, else the one with the fewest points left."""
    exceeded = [r for r in results if r.exceeded]
    return exceeded[0] if exceeded else min(results, key=lambda r: r.remaining)


def _ratelimit_headers(
    limit: int, remaining: int, reset_at: datetime, period_s: int
) -> dict[str, str]:
    # xrpc-server setStatusHeaders: reset in epoch seconds, policy "<limit>;w=<seconds>".
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(int(reset_at.timestamp())),
        "RateLimit-Policy": f"{limit};w={period_s}",
    }


# -- sessions -----------------------------------------------------------------------------------


def _scratch(state: EmulatorState) -> dict[str, Any]:
    data = state.scratch(PLATFORM)
    if "jwt_key" not in data:
        # A fresh signing key per world: a reset invalidates every outstanding session.
        data["jwt_key"] = secrets.token_bytes(32)
        data["refresh"] = {}
        data["jobs"] = {}
        data["tids"] = TidClock(state.clock)
    return data


def _key(state: EmulatorState) -> bytes:
    key: bytes = _scratch(state)["jwt_key"]
    return key


def _bearer(authorization: str) -> tuple[str | None, str | None]:
    scheme, _, credential = authorization.strip().partition(" ")
    if not scheme:
        return None, None
    return scheme.lower(), credential.strip()


def _bearer_subject(state: EmulatorState, authorization: str) -> str | None:
    """The DID a bearer JWT speaks for (signature checked, expiry not), for rate limiting."""
    scheme, token = _bearer(authorization)
    if scheme != "bearer" or not token:
        return None
    try:
        _header, payload = decode_jwt(_key(state), token)
    except BadJwt:
        return None
    sub = payload.get("sub") or payload.get("iss")
    return sub if isinstance(sub, str) else None


def _host(request: Request) -> str:
    return request.url.netloc or "localhost"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + f"/{PLATFORM}"


def _issue_tokens(
    state: EmulatorState, request: Request, account: Account, jti: str | None = None
) -> tuple[str, str]:
    now = state.now()
    iat = int(now.timestamp())
    settings = state.settings
    aud = did_web(_host(request))
    access = sign_jwt(
        _key(state),
        {"typ": "at+jwt"},
        {
            "scope": SCOPE_APP_PASS,
            "aud": aud,
            "sub": account.id,
            "iat": iat,
            "exp": iat + settings.bluesky_access_ttl_s,
        },
    )
    jti = jti or secrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=settings.bluesky_refresh_ttl_s)
    refreshes: dict[str, dict[str, Any]] = _scratch(state)["refresh"]
    refreshes.setdefault(jti, {"did": account.id, "expires_at": expires_at, "next_id": None})
    refresh = sign_jwt(
        _key(state),
        {"typ": "refresh+jwt"},
        {
            "scope": SCOPE_REFRESH,
            "aud": aud,
            "sub": account.id,
            "jti": jti,
            "iat": iat,
            "exp": int(refreshes[jti]["expires_at"].timestamp()),
        },
    )
    return access, refresh


def _verify(request: Request, expected_typ: str, scopes: tuple[str, ...]) -> dict[str, Any]:
    """AuthVerifier.verifyBearerJwt: the claims of a valid bearer JWT, or the PDS's error."""
    state = state_of(request)
    scheme, token = _bearer(request.headers.get("authorization", ""))
    if scheme is None:
        raise xrpc_error(401, "AuthMissing", "Authentication Required")
    if scheme != "bearer":
        raise invalid("Unexpected authorization type", "InvalidToken")
    if not token:
        raise xrpc_error(401, "AuthMissing", "Authentication Required")
    try:
        header, payload = decode_jwt(_key(state), token)
    except BadJwt as exc:
        raise invalid("Token could not be verified", "InvalidToken") from exc
    exp = payload.get("exp")
    if not isinstance(exp, int) or state.now().timestamp() >= exp:
        raise invalid("Token has expired", "ExpiredToken")
    if header.get("typ") and header.get("typ") != expected_typ:
        raise invalid("Invalid token type", "InvalidToken")
    if payload.get("scope") not in scopes:
        raise invalid("Bad token scope", "InvalidToken")
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub.startswith("did:"):
        raise invalid("Malformed token", "InvalidToken")
    return payload


def _account_for(state: EmulatorState, did: str) -> Account:
    account = state.account(PLATFORM, did)
    if account is None:
        raise xrpc_error(403, "AccountNotFound", "Account not found")
    return account


def access_account(request: Request) -> Account:
    payload = _verify(request, "at+jwt", ACCESS_SCOPES)
    return _account_for(state_of(request), payload["sub"])


def optional_viewer(request: Request) -> Account | None:
    if not request.headers.get("authorization"):
        return None
    return access_account(request)


Me = Annotated[Account, Depends(access_account)]
Viewer = Annotated[Account | None, Depends(optional_viewer)]


def appview_gate(request: Request) -> None:
    """Without an AppView the PDS has nowhere to proxy app.bsky.* to (the reference PDS then
    answers UpstreamFailure for reads and writes alike); com.atproto.* is its own."""
    if state_of(request).switches.bluesky_appview:
        return
    if request.url.path.split("/xrpc/", 1)[-1].startswith("app.bsky."):
        raise xrpc_error(502, "UpstreamFailure", "Upstream service unreachable")


router = APIRouter(dependencies=[Depends(appview_gate)])


# -- request helpers ----------------------------------------------------------------------------


async def _json_input(request: Request) -> dict[str, Any]:
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not body:
        raise invalid("Request encoding (Content-Type) required but not provided")
    if content_type != "application/json":
        raise invalid(f"Wrong request encoding (Content-Type): {content_type or 'none'}")
    try:
        decoded = json.loads(body)
    except ValueError as exc:
        raise invalid("Unable to parse request body as JSON") from exc
    if not isinstance(decoded, dict):
        raise invalid("Input must be an object")
    return decoded


def _input_str(body: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise invalid(f'Input must have the property "{name}"')
        return None
    if not isinstance(value, str):
        raise invalid(f"Input/{name} must be a string")
    return value


def _param(request: Request, name: str, required: bool = True) -> str | None:
    value = request.query_params.get(name)
    if value is None and required:
        raise invalid(f'Params must have the property "{name}"')
    return value


def _limit(request: Request, default: int = 50, maximum: int = 100) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not re.fullmatch(r"-?\d+", raw):
        raise invalid("Params/limit must be an integer")
    value = int(raw)
    if value < 1:
        raise invalid("Params/limit can not be less than 1")
    if value > maximum:
        raise invalid(f"Params/limit can not be greater than {maximum}")
    return value


def _bool_param(request: Request, name: str) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return False
    if raw not in ("true", "false"):
        raise invalid(f"Params/{name} must be a boolean")
    return raw == "true"


def _account_by_actor(state: EmulatorState, actor: str) -> Account | None:
    """A DID or a handle (``alice.bsky.emulator``), as repos and actors are named."""
    if actor.startswith("did:"):
        return state.account(PLATFORM, actor)
    handle = actor.lower().lstrip("@")
    suffix = f".{HANDLE_DOMAIN}"
    if not handle.endswith(suffix):
        return None
    return state.account_by_username(PLATFORM, handle[: -len(suffix)])


def _own_repo(state: EmulatorState, repo: str, me: Account) -> None:
    account = _account_by_actor(state, repo)
    if account is None:
        raise invalid(f"Could not find repo: {repo}")
    if account.id != me.id:
        raise xrpc_error(401, "AuthenticationRequired", "Authentication Required")


def _commit(state: EmulatorState) -> dict[str, str]:
    rev = _scratch(state)["tids"].next()
    return {"cid": record_cid({"rev": rev}), "rev": rev}


def _blob_json(item: MediaItem) -> dict[str, Any]:
    return {
        "$type": "blob",
        "ref": {"$link": item.id},
        "mimeType": item.mime_type,
        "size": item.size,
    }


def _usable_blob(state: EmulatorState, did: str, cid: str) -> MediaItem | None:
    item = state.media_item(PLATFORM, cid)
    if item is None or did not in item.meta.get("owners", ()):
        return None
    if item.meta.get("failed") or not item.processed(state.now()):
        return None  # a video job still encoding has not reached the repo yet
    return item


# -- server: sessions ---------------------------------------------------------------------------


def _session_limit(state: EmulatorState, identifier: str) -> dict[str, str]:
    """createSession: 30 per 5 minutes and 300 per day, per account (keyed on the
    identifier as given, lower-cased)."""
    settings = state.settings
    now = state.now()
    key = identifier.lower()
    results = [
        state.rate_counter.hit(
            "bluesky:session-5m", key, settings.bluesky_session_rate_limit, 300, now
        ),
        state.rate_counter.hit(
            "bluesky:session-day", key, settings.bluesky_session_daily_limit, 86400, now
        ),
    ]
    tightest = _tightest(results)
    headers = _ratelimit_headers(
        tightest.limit, tightest.remaining, tightest.reset_at, tightest.period_s
    )
    if tightest.exceeded:
        raise xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded", headers)
    return headers


def _session_body(request: Request, account: Account) -> dict[str, Any]:
    return {
        "did": account.id,
        "didDoc": did_doc(_base(request), account),
        "handle": handle_of(account),
        "emailConfirmed": False,
        "active": True,
    }


@router.post("/xrpc/com.atproto.server.createSession")
async def create_session(request: Request) -> JSONResponse:
    state = state_of(request)
    body = await _json_input(request)
    identifier = _input_str(body, "identifier")
    password = _input_str(body, "password")
    assert identifier is not None and password is not None
    headers = _session_limit(state, identifier)
    account = _account_by_actor(state, identifier.strip())
    if account is None or not secrets.compare_digest(account.token, password):
        raise xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
    access, refresh = _issue_tokens(state, request, account)
    return JSONResponse(
        {"accessJwt": access, "refreshJwt": refresh, **_session_body(request, account)},
        headers=headers,
    )


@router.post("/xrpc/com.atproto.server.refreshSession")
async def refresh_session(request: Request) -> dict[str, Any]:
    """Rotates the refresh token. The old one keeps working for a grace period (and yields
    the same successor), so a client whose refresh answer was lost can try again."""
    state = state_of(request)
    payload = _verify(request, "refresh+jwt", (SCOPE_REFRESH,))
    account = state.account(PLATFORM, payload["sub"])
    if account is None:
        raise invalid(f"Could not find user info for account: {payload['sub']}")
    refreshes: dict[str, dict[str, Any]] = _scratch(state)["refresh"]
    jti = payload.get("jti")
    record = refreshes.get(jti) if isinstance(jti, str) else None
    now = state.now()
    if record is None or record["expires_at"] <= now:
        if isinstance(jti, str):
            refreshes.pop(jti, None)
        raise invalid("Token has been revoked", "ExpiredToken")
    grace = now + timedelta(seconds=state.settings.bluesky_refresh_grace_s)
    record["expires_at"] = min(record["expires_at"], grace)
    record["next_id"] = record["next_id"] or secrets.token_urlsafe(32)
    access, refresh = _issue_tokens(state, request, account, jti=record["next_id"])
    return {"accessJwt": access, "refreshJwt": refresh, **_session_body(request, account)}


@router.get("/xrpc/com.atproto.server.getSession")
async def get_session(request: Request, me: Me) -> dict[str, Any]:
    return _session_body(request, me)


@router.post("/xrpc/com.atproto.server.deleteSession")
async def delete_session(request: Request) -> Response:
    state = state_of(request)
    payload = _verify(request, "refresh+jwt", (SCOPE_REFRESH,))
    jti = payload.get("jti")
    if isinstance(jti, str):
        _scratch(state)["refresh"].pop(jti, None)
    return Response(status_code=200)


@router.get("/xrpc/com.atproto.server.describeServer")
async def describe_server(request: Request) -> dict[str, Any]:
    return {
        "did": did_web(_host(request)),
        "availableUserDomains": [f".{HANDLE_DOMAIN}"],
        "inviteCodeRequired": True,
        "links": {},
        "contact": {},
    }


@router.get("/xrpc/com.atproto.server.getServiceAuth")
async def get_service_auth(request: Request, me: Me) -> dict[str, Any]:
    """A short-lived token for another service (the video service wants one with
    lxm=com.atproto.repo.uploadBlob). Real ones are ES256K-signed with the repo key."""
    state = state_of(request)
    aud = _param(request, "aud")
    lxm = _param(request, "lxm", required=False)
    now = int(state.now().timestamp())
    raw_exp = _param(request, "exp", required=False)
    exp = int(raw_exp) if raw_exp and raw_exp.isdigit() else now + 60
    if exp - now > 3600:
        raise invalid("expiration is too far in the future (max 60 minutes)", "BadExpiration")
    payload: dict[str, Any] = {
        "iat": now,
        "iss": me.id,
        "aud": aud,
        "exp": exp,
        "jti": secrets.token_hex(16),
    }
    if lxm:
        if not valid_nsid(lxm):
            raise invalid("Params/lxm must be a valid nsid")
        payload["lxm"] = lxm
    return {"token": sign_jwt(_key(state), {"typ": "JWT"}, payload)}


@router.get("/xrpc/com.atproto.identity.resolveHandle")
async def resolve_handle(request: Request) -> dict[str, Any]:
    handle = _param(request, "handle")
    assert handle is not None
    account = _account_by_actor(state_of(request), handle)
    if account is None or handle.startswith("did:"):
        raise invalid("Unable to resolve handle")
    return {"did": account.id}


# -- repo: blobs and records --------------------------------------------------------------------


def _store_blob(
    state: EmulatorState, me: Account, data: bytes, declared: str
) -> tuple[MediaItem, bool]:
    """The stored blob (one per CID, shared by the repos that uploaded it) and whether this
    upload created it."""
    cid = blob_cid(data)
    mime = sniff_mime(data) or declared or "application/octet-stream"
    item = state.media_item(PLATFORM, cid)
    now = state.now()
    created = item is None
    if item is None:
        kind = mime.split("/", 1)[0]
        item = MediaItem(
            platform=PLATFORM,
            id=cid,
            account_id=me.id,
            type=kind if kind in ("image", "video") else "blob",
            mime_type=mime,
            data=data,
            description=None,
            created_at=now,
            ready_at=now,
            meta={"owners": [me.id]},
        )
        state.media[cid] = item
    elif me.id not in item.meta.setdefault("owners", []):
        item.meta["owners"].append(me.id)
    item.discarded = False
    return item, created


@router.post("/xrpc/com.atproto.repo.uploadBlob")
async def upload_blob(request: Request, me: Me) -> dict[str, Any]:
    state = state_of(request)
    data = await request.body()
    if len(data) > state.settings.bluesky_blob_upload_limit:
        raise xrpc_error(413, "PayloadTooLarge", "request entity too large")
    if not data:
        raise invalid("Request encoding (Content-Type) required but not provided")
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    item, _created = _store_blob(state, me, data, declared)
    return {"blob": _blob_json(item)}


def _check_blobs(state: EmulatorState, me: Account, uses: list[BlobUse], strict: bool) -> None:
    """verifyBlob, in the PDS's order: existence, size, declared type, accepted types."""
    for use in uses:
        item = _usable_blob(state, me.id, use.cid)
        if item is None:
            raise invalid(f"Could not find blob: {use.cid}", "BlobNotFound")
        if strict and item.size > use.max_size:
            raise invalid(
                f"This file is too large. It is {format_bytes(item.size)} but the maximum "
                f"size is {format_bytes(use.max_size)}.",
                "BlobTooLarge",
            )
        if use.mime_type != item.mime_type:
            raise invalid(
                "Referenced Mimetype does not match stored blob. "
                f"Expected: {item.mime_type}, Got: {use.mime_type}",
                "InvalidMimeType",
            )
        if strict and not any(_mime_matches(use.mime_type, a) for a in use.accept):
            raise invalid(
                f"Wrong type of file. It is {use.mime_type} but it must match "
                f"{','.join(use.accept)}.",
                "InvalidMimeType",
            )


def _mime_matches(mime: str, accept: str) -> bool:
    if accept.endswith("/*"):
        return mime.startswith(accept[:-1])
    return mime == accept


@router.post("/xrpc/com.atproto.repo.createRecord")
async def create_record(request: Request, me: Me) -> dict[str, Any]:
    state = state_of(request)
    body = await _json_input(request)
    repo = _input_str(body, "repo")
    collection = _input_str(body, "collection")
    rkey = _input_str(body, "rkey", required=False)
    assert repo is not None and collection is not None
    record = body.get("record")
    if not isinstance(record, dict):
        raise invalid('Input must have the property "record"')
    validate = body.get("validate")
    _own_repo(state, repo, me)
    if not valid_nsid(collection):
        raise invalid(f"Invalid collection: {collection}")
    if collection != POST_COLLECTION:
        # Not a PDS rule: the emulator only models posts.
        raise invalid(f"The emulator stores only {POST_COLLECTION} records, not {collection}")
    record = dict(record)
    record_type = record.setdefault("$type", collection)
    if record_type != collection:
        raise invalid(f"Invalid $type: expected {collection}, got {record_type}")
    try:
        parsed = parse_post(record, validate=validate is not False)
    except RecordInvalid as exc:
        raise invalid(f"Invalid {collection} record: {exc}") from exc
    if rkey is not None and not valid_record_key(rkey):
        raise invalid(f"Invalid record key: {rkey}")

    async with state.lock:
        _check_blobs(state, me, parsed.blobs, strict=validate is not False)
        key = rkey or _scratch(state)["tids"].next()
        uri = f"at://{me.id}/{collection}/{key}"
        existing = state.post(PLATFORM, uri)
        if existing is not None and not existing.deleted:
            # The MST refuses a second value at the same key ("There is already a value at
            # key"), which the PDS does not catch: a bare 500.
            raise xrpc_error(500, "InternalServerError", "Internal Server Error")
        if existing is not None:
            state.remove_post(uri)  # a deleted record's key may be written again
        cid = record_cid(record)
        media_ids = list(dict.fromkeys(use.cid for use in parsed.blobs))
        for use in parsed.blobs:
            if use.alt is not None:
                state.media[use.cid].description = use.alt
        post = Post(
            platform=PLATFORM,
            id=uri,
            account_id=me.id,
            text=parsed.text,
            media_ids=media_ids,
            created_at=state.now(),
            in_reply_to_id=parsed.reply_parent,
            idempotency_key=rkey,
            options={
                "record": record,
                "cid": cid,
                "collection": collection,
                "root": parsed.reply_root,
                "embed_type": parsed.embed_type,
            },
        )
        state.add_post(post)
    return {
        "uri": uri,
        "cid": cid,
        "commit": _commit(state),
        "validationStatus": "valid" if validate is not False else "unknown",
    }


@router.post("/xrpc/com.atproto.repo.deleteRecord")
async def delete_record(request: Request, me: Me) -> dict[str, Any]:
    state = state_of(request)
    body = await _json_input(request)
    repo = _input_str(body, "repo")
    collection = _input_str(body, "collection")
    rkey = _input_str(body, "rkey")
    assert repo is not None
    _own_repo(state, repo, me)
    post = state.post(PLATFORM, f"at://{me.id}/{collection}/{rkey}")
    if post is None or post.deleted:
        return {}  # deleting what is not there is a no-op, without a commit
    post.deleted_at = state.now()
    still_used = {m for p in live_posts(state) for m in p.media_ids}
    for cid in post.media_ids:
        item = state.media.get(cid)
        if item is not None and cid not in still_used:
            item.post_id = None
            item.discarded = True  # the PDS drops blobs no record references any more
    return {"commit": _commit(state)}


def _profile_record(account: Account) -> dict[str, Any]:
    """The account's app.bsky.actor.profile record, as the Bluesky app writes it at sign-up
    (the emulator models no avatar)."""
    value = {"$type": PROFILE_COLLECTION, "displayName": account.display_name}
    return {
        "uri": f"at://{account.id}/{PROFILE_COLLECTION}/self",
        "cid": record_cid(value),
        "value": value,
    }


def _record_json(post: Post) -> dict[str, Any]:
    return {"uri": post.id, "cid": post.options["cid"], "value": post.options["record"]}


@router.get("/xrpc/com.atproto.repo.getRecord")
async def get_record(request: Request) -> dict[str, Any]:
    state = state_of(request)
    repo = _param(request, "repo")
    collection = _param(request, "collection")
    rkey = _param(request, "rkey")
    cid = _param(request, "cid", required=False)
    assert repo is not None
    account = _account_by_actor(state, repo)
    if account is None:
        raise invalid(f"Could not find repo: {repo}")
    uri = f"at://{account.id}/{collection}/{rkey}"
    if collection == PROFILE_COLLECTION and rkey == "self":
        return _profile_record(account)
    post = state.post(PLATFORM, uri)
    if post is None or post.deleted or (cid is not None and post.options["cid"] != cid):
        raise invalid(f"Could not locate record: {uri}", "RecordNotFound")
    return _record_json(post)


@router.get("/xrpc/com.atproto.repo.listRecords")
async def list_records(request: Request) -> dict[str, Any]:
    """Newest first by record key (TIDs sort by time); ``reverse=true`` for oldest first.
    Like the PDS, the cursor is the last record key returned, present whenever the page is
    not empty: a client pages until it gets no records."""
    state = state_of(request)
    repo = _param(request, "repo")
    collection = _param(request, "collection")
    limit = _limit(request)
    cursor = _param(request, "cursor", required=False)
    reverse = _bool_param(request, "reverse")
    assert repo is not None
    account = _account_by_actor(state, repo)
    if account is None:
        raise invalid(f"Could not find repo: {repo}")
    posts = [p for p in live_posts(state, account) if p.options.get("collection") == collection]
    posts.sort(key=rkey_of, reverse=not reverse)
    if cursor:
        posts = [p for p in posts if (rkey_of(p) > cursor if reverse else rkey_of(p) < cursor)]
    page = posts[:limit]
    body: dict[str, Any] = {"records": [_record_json(p) for p in page]}
    if page:
        body["cursor"] = rkey_of(page[-1])
    return body


@router.get("/xrpc/com.atproto.sync.getBlob")
async def get_blob(request: Request) -> Response:
    state = state_of(request)
    did = _param(request, "did")
    cid = _param(request, "cid")
    assert did is not None and cid is not None
    if state.account(PLATFORM, did) is None:
        raise invalid(f"Could not find repo for DID: {did}", "RepoNotFound")
    item = _usable_blob(state, did, cid)
    if item is None or item.discarded:
        raise invalid("Blob not found", "BlobNotFound")
    return Response(
        content=item.data,
        media_type=item.mime_type,
        headers={
            "x-content-type-options": "nosniff",
            "content-security-policy": "default-src 'none'; sandbox",
        },
    )


# -- AppView: feeds and profiles ----------------------------------------------------------------

_FEED_FILTERS = (
    "posts_with_replies",
    "posts_no_replies",
    "posts_with_media",
    "posts_and_author_threads",
    "posts_with_video",
)


def _feed_keys(state: EmulatorState) -> dict[str, tuple[datetime, int]]:
    """Sort keys: indexing time, then creation order (posts can share a millisecond)."""
    return {
        uri: (post.created_at, index)
        for index, (uri, post) in enumerate(state.posts.items())
        if post.platform == PLATFORM
    }


def _feed_cursor(post: Post) -> str:
    return f"{int(post.created_at.timestamp() * 1000)}::{post.options['cid']}"


@router.get("/xrpc/app.bsky.feed.getAuthorFeed")
async def get_author_feed(request: Request, viewer: Viewer) -> dict[str, Any]:
    """Newest first; the cursor is ``<indexedAt ms>::<cid>`` of the last item (the AppView's
    TimeCidKeyset), present whenever the page is not empty."""
    state = state_of(request)
    actor = _param(request, "actor")
    limit = _limit(request)
    cursor = _param(request, "cursor", required=False)
    feed_filter = _param(request, "filter", required=False) or "posts_with_replies"
    assert actor is not None
    if feed_filter not in _FEED_FILTERS:
        raise invalid(f"Params/filter must be one of ({'|'.join(_FEED_FILTERS)})")
    account = _account_by_actor(state, actor)
    if account is None:
        raise invalid("Profile not found")
    posts = live_posts(state, account)
    if feed_filter == "posts_no_replies":
        posts = [p for p in posts if p.in_reply_to_id is None]
    elif feed_filter == "posts_and_author_threads":
        posts = [p for p in posts if p.in_reply_to_id is None or _self_thread(state, p)]
    elif feed_filter == "posts_with_media":
        posts = [
            p for p in posts if _has_embed(p, ("app.bsky.embed.images", "app.bsky.embed.video"))
        ]
    elif feed_filter == "posts_with_video":
        posts = [p for p in posts if _has_embed(p, ("app.bsky.embed.video",))]
    keys = _feed_keys(state)
    posts.sort(key=lambda p: keys[p.id], reverse=True)
    if cursor:
        ms, _, cid = cursor.partition("::")
        if not ms.isdigit():
            raise invalid("Malformed cursor")
        anchor = next(
            (p for p in state.posts.values() if p.platform == PLATFORM and p.options["cid"] == cid),
            None,
        )
        if anchor is not None:
            posts = [p for p in posts if keys[p.id] < keys[anchor.id]]
        else:
            posts = [p for p in posts if p.created_at.timestamp() * 1000 < int(ms)]
    page = posts[:limit]
    base = _base(request)
    body: dict[str, Any] = {"feed": [feed_view_post(base, state, p, viewer) for p in page]}
    if page:
        body["cursor"] = _feed_cursor(page[-1])
    return body


def _has_embed(post: Post, kinds: tuple[str, ...]) -> bool:
    embed = post.options["record"].get("embed") or {}
    kind = embed.get("$type")
    if kind == "app.bsky.embed.recordWithMedia":
        kind = (embed.get("media") or {}).get("$type")
    return kind in kinds


def _self_thread(state: EmulatorState, post: Post) -> bool:
    root = state.post(PLATFORM, post.options.get("root") or "")
    parent = state.post(PLATFORM, post.in_reply_to_id or "")
    return (
        root is not None
        and parent is not None
        and root.account_id == post.account_id
        and parent.account_id == post.account_id
    )


@router.get("/xrpc/app.bsky.feed.getPosts")
async def get_posts(request: Request, viewer: Viewer) -> dict[str, Any]:
    state = state_of(request)
    uris = request.query_params.getlist("uris")
    if not uris:
        raise invalid('Params must have the property "uris"')
    if len(uris) > 25:
        raise invalid("Params/uris must not have more than 25 elements")
    base = _base(request)
    posts = []
    for uri in uris:
        post = state.post(PLATFORM, uri)
        if post is not None and not post.deleted:
            posts.append(post_view(base, state, post, viewer))
    return {"posts": posts}


@router.get("/xrpc/app.bsky.actor.getProfile")
async def get_profile(request: Request, viewer: Viewer) -> dict[str, Any]:
    state = state_of(request)
    actor = _param(request, "actor")
    assert actor is not None
    account = _account_by_actor(state, actor)
    if account is None:
        raise invalid("Profile not found")
    return profile_detailed(state, account)


# -- video service (video.bsky.app's API, served here too) --------------------------------------


def _video_uploader(request: Request) -> Account:
    """The video service takes a service-auth token (getServiceAuth, lxm uploadBlob) or, as a
    convenience of the emulator, a plain access token."""
    state = state_of(request)
    scheme, token = _bearer(request.headers.get("authorization", ""))
    if scheme == "bearer" and token:
        try:
            _header, payload = decode_jwt(_key(state), token)
        except BadJwt as exc:
            raise xrpc_error(401, "AuthenticationRequired", "jwt signature does not match") from exc
        if "iss" in payload and "sub" not in payload:
            exp = payload.get("exp")
            if not isinstance(exp, int) or state.now().timestamp() >= exp:
                raise xrpc_error(401, "BadJwt", "jwt expired")
            if payload.get("lxm") not in (None, "com.atproto.repo.uploadBlob"):
                raise xrpc_error(401, "BadJwtLexiconMethod", 'bad jwt lexicon method ("lxm")')
            return _account_for(state, str(payload["iss"]))
    return access_account(request)


def _job_status(state: EmulatorState, job_id: str, job: dict[str, Any]) -> dict[str, Any]:
    item = state.media.get(job["cid"])
    now = state.now()
    status: dict[str, Any] = {"jobId": job_id, "did": job["did"]}
    total = (job["ready_at"] - job["created_at"]).total_seconds()
    elapsed = (now - job["created_at"]).total_seconds()
    fraction = 1.0 if total <= 0 else min(1.0, elapsed / total)
    if fraction >= 1.0 and job["failed"]:
        status.update(
            {
                "state": "JOB_STATE_FAILED",
                "progress": 100,
                "error": "Video failed to process",
                "message": "The file is not a video the service can transcode",
            }
        )
    elif fraction >= 1.0 and item is not None:
        status.update({"state": "JOB_STATE_COMPLETED", "progress": 100, "blob": _blob_json(item)})
    elif fraction < 0.2:
        status.update({"state": "JOB_STATE_CREATED", "progress": 0})
    else:
        status.update({"state": "JOB_STATE_ENCODING", "progress": int(fraction * 100)})
    return status


@router.post("/xrpc/app.bsky.video.uploadVideo")
async def upload_video(request: Request) -> dict[str, Any]:
    state = state_of(request)
    me = _video_uploader(request)
    did = _param(request, "did")
    _param(request, "name")
    if did != me.id:
        raise xrpc_error(401, "AuthenticationRequired", "did does not match the token")
    data = await request.body()
    if not data:
        raise invalid("Request body is required")
    if len(data) > VIDEO_LIMIT:
        raise invalid(
            f"This file is too large. It is {format_bytes(len(data))} but the maximum size is "
            f"{format_bytes(VIDEO_LIMIT)}.",
            "BlobTooLarge",
        )
    now = state.now()
    item, created = _store_blob(state, me, data, "video/mp4")
    failed = False
    if created:
        # The blob reaches the repo only when the job completes; bytes that are not a video
        # fail at the end of processing instead.
        item.ready_at = now + timedelta(seconds=state.settings.processing_s)
        failed = not (sniff_mime(data) or "").startswith("video/")
        item.meta["failed"] = failed
    job_id = secrets.token_hex(8)
    job = {
        "did": me.id,
        "cid": item.id,
        "created_at": now,
        "ready_at": max(item.ready_at, now),
        "failed": failed,
    }
    _scratch(state)["jobs"][job_id] = job
    return {"jobStatus": _job_status(state, job_id, job)}


@router.get("/xrpc/app.bsky.video.getJobStatus")
async def get_job_status(request: Request) -> dict[str, Any]:
    state = state_of(request)
    job_id = _param(request, "jobId")
    job = _scratch(state)["jobs"].get(job_id)
    if job is None:
        raise invalid("Job not found", "NotFound")
    return {"jobStatus": _job_status(state, str(job_id), job)}


@router.get("/xrpc/app.bsky.video.getUploadLimits")
async def get_upload_limits(request: Request, me: Me) -> dict[str, Any]:
    return {
        "canUpload": True,
        "remainingDailyVideos": DAILY_VIDEO_COUNT,
        "remainingDailyBytes": DAILY_VIDEO_BYTES,
    }


# -- everything else ----------------------------------------------------------------------------

# The HTTP method each implemented NSID expects (queries GET, procedures POST).
_METHODS = {
    route.path.removeprefix("/xrpc/"): sorted(route.methods or ())
    for route in router.routes
    if isinstance(route, APIRoute)
}


@router.api_route(
    "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
)
async def not_implemented(request: Request, rest: str) -> None:
    if not rest.startswith("xrpc/"):
        raise xrpc_error(404, "NotFound", "Not Found")
    nsid = rest.removeprefix("xrpc/")
    expected = _METHODS.get(nsid)
    if expected:
        raise invalid(f"Incorrect HTTP method ({request.method}) expected {expected[0]}")
    raise xrpc_error(501, "MethodNotImplemented", "Method Not Implemented")
