"""The asynchronous client. herald_client/_sync/client.py is generated from this file by
scripts/unasync.py (a test checks it is up to date): edit here, then regenerate."""

from __future__ import annotations

import asyncio
import mimetypes
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from herald_client import operations as ops
from herald_client._bodies import drop_none, instant, post_body
from herald_client.errors import CONNECTION_ERROR, HeraldAPIError
from herald_client.models import (
    POST_TERMINAL_STATUSES,
    Account,
    BatchResult,
    BulkResult,
    Delivery,
    ItemT,
    Me,
    Media,
    Page,
    Post,
    RetryResult,
    TokenPair,
    Upload,
    Validation,
    Webhook,
    WebhookCreated,
)
from herald_client.retry import RETRYABLE_ERRORS, RetryPolicy

DEFAULT_URL = "http://127.0.0.1:8000"


async def _every(fetch: Callable[[str | None], Awaitable[Page[ItemT]]]) -> AsyncIterator[ItemT]:
    """Every item of a list, page after page, following its keyset cursor (items made
    meanwhile neither repeat nor push others out)."""
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        for item in page.data:
            yield item
        if not page.next_cursor:
            return
        cursor = page.next_cursor


USER_AGENT = "herald-client-python/0.1"
CHUNK_BYTES = 256 * 1024

# (bytes sent so far, bytes in all): called as an upload's bytes leave.
Progress = Callable[[int, int], None]


class AsyncHeraldClient:
    """Herald's REST API. `token` is an API key (`hk_...`) or a user's access token; a user
    acting in one of several workspaces names it with `workspace_id`.

    Every write gets an Idempotency-Key (yours, or a new UUID) that its automatic retries
    reuse: connection failures, 429 after its Retry-After, 503. Errors are `HeraldAPIError`.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        workspace_id: str | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"User-Agent": USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if workspace_id:
            headers["X-Workspace-Id"] = workspace_id
        self.retry = retry or RetryPolicy()
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )
        # Signed upload URLs carry their own credential; S3 refuses one with an Authorization.
        self._files = httpx.AsyncClient(timeout=timeout_s, transport=transport)

    async def __aenter__(self) -> AsyncHeraldClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._files.aclose()

    # The one way requests go out: retries, idempotency keys, errors.

    async def _send(
        self,
        http: httpx.AsyncClient,
        method: str,
        url: str,
        make_request: Callable[[], dict[str, Any]],
    ) -> httpx.Response:
        attempt = 0
        resent = False
        while True:
            attempt += 1
            try:
                response = await http.request(method, url, **make_request())
            except RETRYABLE_ERRORS as error:
                wait = self.retry.after_error(attempt)
                if wait is None:
                    raise HeraldAPIError(
                        CONNECTION_ERROR, f"{method} {url}: {error!r} ({attempt} attempts)"
                    ) from error
                resent = True
                await asyncio.sleep(wait)
                continue
            if response.status_code < 400:
                return response
            wait = self.retry.after_response(response, attempt, resent=resent)
            if wait is None:
                raise HeraldAPIError.from_response(response)
            resent = True
            await asyncio.sleep(wait)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Any API call, with the client's retries and errors: for operations it does not wrap.
        A write gets `idempotency_key` or a new one, the same on every retry."""
        sent_headers = dict(headers or {})
        if method.upper() in ops.WRITE_METHODS:
            sent_headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        query = drop_none(params or {})

        def make_request() -> dict[str, Any]:
            return {"params": query, "json": json, "headers": sent_headers}

        return await self._send(self._http, method.upper(), path, make_request)

    async def _call(
        self,
        operation: ops.Operation,
        *,
        path: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        unknown = set(query or {}) - set(operation.query)
        if unknown:  # every parameter sent is one operations.py declares (and a test checks)
            raise ValueError(f"{operation.name} takes no query parameter {sorted(unknown)}")
        response = await self.request(
            operation.method,
            operation.url(**(path or {})),
            params=query,
            json=body,
            headers=headers,
            idempotency_key=idempotency_key,
        )
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # Posts

    async def create_post(
        self,
        content: str,
        targets: Sequence[str | Mapping[str, Any]],
        *,
        brand_id: str | None = None,
        media_ids: Sequence[str] = (),
        scheduled_at: datetime | str | None = None,
        publish_now: bool = False,
        queue: bool = False,
        draft: bool = False,
        external_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Post:
        """A post to `targets` (account ids, or `{"account_id"|"group_id", "content",
        "media_ids", "options"}`): a draft, at `scheduled_at`, now, or in each queue's slot."""
        body = post_body(
            content,
            targets,
            brand_id=brand_id,
            media_ids=media_ids,
            scheduled_at=scheduled_at,
            publish_now=publish_now,
            queue=queue,
            draft=draft,
            external_id=external_id,
        )
        answer = await self._call(ops.CREATE_POST, body=body, idempotency_key=idempotency_key)
        return Post.model_validate(answer)

    async def validate_post(
        self,
        content: str,
        targets: Sequence[str | Mapping[str, Any]],
        *,
        brand_id: str | None = None,
        media_ids: Sequence[str] = (),
        scheduled_at: datetime | str | None = None,
        queue: bool = False,
        idempotency_key: str | None = None,
    ) -> Validation:
        """Each target platform's rules applied to a post that is to publish (at
        `scheduled_at`, in the queue, or now), with nothing stored."""
        body = post_body(
            content,
            targets,
            brand_id=brand_id,
            media_ids=media_ids,
            scheduled_at=scheduled_at,
            queue=queue,
            publish_now=scheduled_at is None and not queue,
        )
        answer = await self._call(ops.VALIDATE_POST, body=body, idempotency_key=idempotency_key)
        return Validation.model_validate(answer)

    async def list_posts(
        self,
        *,
        status: str | None = None,
        brand_id: str | None = None,
        account_id: str | None = None,
        platform: str | None = None,
        scheduled_from: datetime | str | None = None,
        scheduled_to: datetime | str | None = None,
        external_id: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Post]:
        query = {
            "status": status,
            "brand_id": brand_id,
            "account_id": account_id,
            "platform": platform,
            "from": instant(scheduled_from),
            "to": instant(scheduled_to),
            "external_id": external_id,
            "cursor": cursor,
            "limit": limit,
        }
        return Page[Post].model_validate(await self._call(ops.LIST_POSTS, query=query))

    def iter_posts(
        self,
        *,
        status: str | None = None,
        brand_id: str | None = None,
        account_id: str | None = None,
        platform: str | None = None,
        scheduled_from: datetime | str | None = None,
        scheduled_to: datetime | str | None = None,
        external_id: str | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[Post]:
        """Every post matching the filters, newest first, page after page."""
        return _every(
            lambda cursor: self.list_posts(
                status=status,
                brand_id=brand_id,
                account_id=account_id,
                platform=platform,
                scheduled_from=scheduled_from,
                scheduled_to=scheduled_to,
                external_id=external_id,
                cursor=cursor,
                limit=page_size,
            )
        )

    async def get_post(self, post_id: str) -> Post:
        return Post.model_validate(await self._call(ops.GET_POST, path={"post_id": post_id}))

    async def wait_for(
        self,
        post_id: str,
        *,
        timeout_s: float = 300.0,
        interval_s: float = 1.0,
        statuses: frozenset[str] = POST_TERMINAL_STATUSES,
        on_change: Callable[[Post], None] | None = None,
    ) -> Post:
        """The post once its status is one of `statuses` (by default a final one: published,
        partial, failed, cancelled, ...). Polls every `interval_s`; raises TimeoutError after
        `timeout_s`. `on_change` sees the post each time a status (its own or a target's)
        changes."""
        deadline = time.monotonic() + timeout_s
        seen: tuple[str, ...] = ()
        while True:
            post = await self.get_post(post_id)
            now_seen = (post.status, *(t.status for t in post.targets))
            if on_change is not None and now_seen != seen:
                on_change(post)
            seen = now_seen
            if post.status in statuses:
                return post
            if time.monotonic() + interval_s > deadline:
                raise TimeoutError(f"post {post_id} is still {post.status} after {timeout_s:g} s")
            await asyncio.sleep(interval_s)

    async def update_post(
        self,
        post_id: str,
        changes: Mapping[str, Any],
        *,
        version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Post:
        """Edit before publishing starts (`content`, `media_ids`, `targets`, `scheduled_at`);
        with `version`, a stale copy is refused (412)."""
        answer = await self._call(
            ops.UPDATE_POST,
            path={"post_id": post_id},
            body=dict(changes),
            headers=_if_match(version),
            idempotency_key=idempotency_key,
        )
        return Post.model_validate(answer)

    async def delete_post(
        self, post_id: str, *, version: int | None = None, idempotency_key: str | None = None
    ) -> None:
        await self._call(
            ops.DELETE_POST,
            path={"post_id": post_id},
            headers=_if_match(version),
            idempotency_key=idempotency_key,
        )

    async def post_validation(self, post_id: str) -> Validation:
        answer = await self._call(ops.POST_VALIDATION, path={"post_id": post_id})
        return Validation.model_validate(answer)

    async def schedule_post(
        self,
        post_id: str,
        scheduled_at: datetime | str,
        *,
        version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Post:
        answer = await self._call(
            ops.SCHEDULE_POST,
            path={"post_id": post_id},
            body={"scheduled_at": instant(scheduled_at)},
            headers=_if_match(version),
            idempotency_key=idempotency_key,
        )
        return Post.model_validate(answer)

    async def _post_action(
        self,
        operation: ops.Operation,
        post_id: str,
        body: Any,
        version: int | None,
        idempotency_key: str | None,
    ) -> Any:
        return await self._call(
            operation,
            path={"post_id": post_id},
            body=body,
            headers=_if_match(version),
            idempotency_key=idempotency_key,
        )

    async def publish_post(
        self, post_id: str, *, version: int | None = None, idempotency_key: str | None = None
    ) -> Post:
        answer = await self._post_action(ops.PUBLISH_POST, post_id, None, version, idempotency_key)
        return Post.model_validate(answer)

    async def cancel_post(
        self, post_id: str, *, version: int | None = None, idempotency_key: str | None = None
    ) -> Post:
        answer = await self._post_action(ops.CANCEL_POST, post_id, None, version, idempotency_key)
        return Post.model_validate(answer)

    async def retry_post(
        self,
        post_id: str,
        *,
        target_ids: Sequence[str] | None = None,
        version: int | None = None,
        idempotency_key: str | None = None,
    ) -> RetryResult:
        """Publish the failed targets again (all, or `target_ids`)."""
        body = {"target_ids": list(target_ids)} if target_ids else {}
        answer = await self._post_action(ops.RETRY_POST, post_id, body, version, idempotency_key)
        return RetryResult.model_validate(answer)

    async def fix_target(
        self,
        post_id: str,
        target_id: str,
        *,
        content: str | None = None,
        media_ids: Sequence[str] | None = None,
        options: Mapping[str, Any] | None = None,
        version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Post:
        body = drop_none(
            {
                "content": content,
                "media_ids": list(media_ids) if media_ids is not None else None,
                "options": dict(options) if options is not None else None,
            }
        )
        answer = await self._call(
            ops.FIX_TARGET,
            path={"post_id": post_id, "target_id": target_id},
            body=body,
            headers=_if_match(version),
            idempotency_key=idempotency_key,
        )
        return Post.model_validate(answer)

    async def clone_post(self, post_id: str, *, idempotency_key: str | None = None) -> Post:
        answer = await self._post_action(ops.CLONE_POST, post_id, None, None, idempotency_key)
        return Post.model_validate(answer)

    async def duplicate_post(self, post_id: str, *, idempotency_key: str | None = None) -> Post:
        answer = await self._post_action(ops.DUPLICATE_POST, post_id, None, None, idempotency_key)
        return Post.model_validate(answer)

    async def archive_post(
        self, post_id: str, *, version: int | None = None, idempotency_key: str | None = None
    ) -> Post:
        answer = await self._post_action(ops.ARCHIVE_POST, post_id, None, version, idempotency_key)
        return Post.model_validate(answer)

    async def unpublish_post(
        self, post_id: str, *, version: int | None = None, idempotency_key: str | None = None
    ) -> Post:
        answer = await self._post_action(
            ops.UNPUBLISH_POST, post_id, None, version, idempotency_key
        )
        return Post.model_validate(answer)

    async def submit_post(
        self, post_id: str, *, version: int | None = None, idempotency_key: str | None = None
    ) -> Post:
        answer = await self._post_action(ops.SUBMIT_POST, post_id, {}, version, idempotency_key)
        return Post.model_validate(answer)

    async def bulk_create_posts(
        self, posts: Sequence[Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> BulkResult:
        """Up to 100 creates at once, each as `create_post` takes it (a JSON body)."""
        answer = await self._call(
            ops.BULK_CREATE_POSTS,
            body={"posts": [dict(p) for p in posts]},
            idempotency_key=idempotency_key,
        )
        return BulkResult.model_validate(answer)

    async def batch_posts(
        self, post_ids: Sequence[str], action: str, *, idempotency_key: str | None = None
    ) -> BatchResult:
        """`archive` or `cancel` up to 50 posts."""
        answer = await self._call(
            ops.BATCH_POSTS,
            body={"ids": list(post_ids), "action": action},
            idempotency_key=idempotency_key,
        )
        return BatchResult.model_validate(answer)

    # Accounts

    async def list_accounts(
        self,
        *,
        brand_id: str | None = None,
        platform: str | None = None,
        status: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Account]:
        query = {
            "brand_id": brand_id,
            "platform": platform,
            "status": status,
            "cursor": cursor,
            "limit": limit,
        }
        return Page[Account].model_validate(await self._call(ops.LIST_ACCOUNTS, query=query))

    def iter_accounts(
        self,
        *,
        brand_id: str | None = None,
        platform: str | None = None,
        status: str | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[Account]:
        return _every(
            lambda cursor: self.list_accounts(
                brand_id=brand_id, platform=platform, status=status, cursor=cursor, limit=page_size
            )
        )

    async def connect_account(
        self,
        platform: str,
        credentials: Mapping[str, Any],
        *,
        brand_id: str | None = None,
        settings: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Account:
        """A credential-based account (Mastodon: instance_url + access_token; Bluesky:
        identifier + app_password + service_url)."""
        body = drop_none(
            {
                "platform": platform,
                "brand_id": brand_id,
                "credentials": dict(credentials),
                "settings": dict(settings) if settings is not None else None,
            }
        )
        answer = await self._call(ops.CONNECT_ACCOUNT, body=body, idempotency_key=idempotency_key)
        return Account.model_validate(answer)

    async def test_account(self, account_id: str, *, idempotency_key: str | None = None) -> Any:
        return await self._call(
            ops.TEST_ACCOUNT, path={"account_id": account_id}, idempotency_key=idempotency_key
        )

    async def disconnect_account(
        self, account_id: str, *, idempotency_key: str | None = None
    ) -> None:
        await self._call(
            ops.DISCONNECT_ACCOUNT, path={"account_id": account_id}, idempotency_key=idempotency_key
        )

    async def next_slot(self, account_id: str) -> datetime | None:
        answer = await self._call(ops.NEXT_SLOT, path={"account_id": account_id})
        slot = answer.get("slot_at") if isinstance(answer, dict) else None
        return datetime.fromisoformat(slot) if isinstance(slot, str) else None

    # Media

    async def create_upload(
        self,
        filename: str,
        mime_type: str,
        size: int,
        *,
        brand_id: str,
        idempotency_key: str | None = None,
    ) -> Upload:
        body = {"brand_id": brand_id, "filename": filename, "mime_type": mime_type, "size": size}
        answer = await self._call(ops.CREATE_UPLOAD, body=body, idempotency_key=idempotency_key)
        return Upload.model_validate(answer)

    async def complete_upload(self, media_id: str, *, idempotency_key: str | None = None) -> Media:
        answer = await self._call(
            ops.COMPLETE_UPLOAD, path={"media_id": media_id}, idempotency_key=idempotency_key
        )
        return Media.model_validate(answer)

    async def upload_media(
        self,
        file: str | Path,
        *,
        brand_id: str,
        mime_type: str | None = None,
        progress: Progress | None = None,
    ) -> Media:
        """A file into the media library in the three steps: ask for an upload URL, PUT the
        bytes there (streamed; `progress` sees them leave), complete. Answers the validated
        media (its `status` says whether it is `ready` or `failed`, and why)."""
        path = Path(file)
        size = _file_size(path)
        upload = await self.create_upload(
            path.name, mime_type or _guess_type(path), size, brand_id=brand_id
        )
        headers = {**upload.headers, "Content-Length": str(size)}

        def make_request() -> dict[str, Any]:
            return {"content": _chunks(path, size, progress), "headers": headers}

        await self._send(self._files, upload.method.upper(), upload.upload_url, make_request)
        return await self.complete_upload(upload.media_id)

    async def import_media(
        self,
        url: str,
        *,
        brand_id: str,
        filename: str | None = None,
        idempotency_key: str | None = None,
    ) -> Media:
        """A file at a public URL, fetched by Herald in the background (`status` is `pending`
        until it is `ready` or `failed`; see get_media)."""
        body = drop_none({"brand_id": brand_id, "url": url, "filename": filename})
        answer = await self._call(ops.IMPORT_MEDIA, body=body, idempotency_key=idempotency_key)
        return Media.model_validate(answer)

    async def get_media(self, media_id: str) -> Media:
        return Media.model_validate(await self._call(ops.GET_MEDIA, path={"media_id": media_id}))

    async def list_media(
        self, *, cursor: str | None = None, limit: int | None = None
    ) -> Page[Media]:
        query = {"cursor": cursor, "limit": limit}
        return Page[Media].model_validate(await self._call(ops.LIST_MEDIA, query=query))

    def iter_media(self, *, page_size: int = 100) -> AsyncIterator[Media]:
        return _every(lambda cursor: self.list_media(cursor=cursor, limit=page_size))

    async def delete_media(self, media_id: str, *, idempotency_key: str | None = None) -> None:
        await self._call(
            ops.DELETE_MEDIA, path={"media_id": media_id}, idempotency_key=idempotency_key
        )

    # Webhooks

    async def create_webhook(
        self,
        url: str,
        events: Sequence[str],
        *,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> WebhookCreated:
        """An endpoint; the answer's `secret` (shown this once) is what verify_webhook needs."""
        body = drop_none({"url": url, "events": list(events), "description": description})
        answer = await self._call(ops.CREATE_WEBHOOK, body=body, idempotency_key=idempotency_key)
        return WebhookCreated.model_validate(answer)

    async def list_webhooks(
        self, *, cursor: str | None = None, limit: int | None = None
    ) -> Page[Webhook]:
        query = {"cursor": cursor, "limit": limit}
        return Page[Webhook].model_validate(await self._call(ops.LIST_WEBHOOKS, query=query))

    async def get_webhook(self, webhook_id: str) -> Webhook:
        answer = await self._call(ops.GET_WEBHOOK, path={"webhook_id": webhook_id})
        return Webhook.model_validate(answer)

    async def update_webhook(
        self,
        webhook_id: str,
        changes: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> Webhook:
        """`url`, `events`, `description`, `is_active`."""
        answer = await self._call(
            ops.UPDATE_WEBHOOK,
            path={"webhook_id": webhook_id},
            body=dict(changes),
            idempotency_key=idempotency_key,
        )
        return Webhook.model_validate(answer)

    async def delete_webhook(self, webhook_id: str, *, idempotency_key: str | None = None) -> None:
        await self._call(
            ops.DELETE_WEBHOOK, path={"webhook_id": webhook_id}, idempotency_key=idempotency_key
        )

    async def test_webhook(self, webhook_id: str, *, idempotency_key: str | None = None) -> Any:
        return await self._call(
            ops.TEST_WEBHOOK, path={"webhook_id": webhook_id}, idempotency_key=idempotency_key
        )

    async def list_deliveries(
        self,
        webhook_id: str,
        *,
        state: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Delivery]:
        answer = await self._call(
            ops.LIST_DELIVERIES,
            path={"webhook_id": webhook_id},
            query={"state": state, "cursor": cursor, "limit": limit},
        )
        return Page[Delivery].model_validate(answer)

    # Sign-in

    async def login(
        self, email: str, password: str, *, idempotency_key: str | None = None
    ) -> TokenPair:
        """A user's tokens (the client keeps sending its own token: make a new client with
        the answer's access_token to act as the user)."""
        answer = await self._call(
            ops.LOGIN,
            body={"email": email, "password": password},
            idempotency_key=idempotency_key,
        )
        return TokenPair.model_validate(answer)

    async def refresh(self, refresh_token: str, *, idempotency_key: str | None = None) -> TokenPair:
        answer = await self._call(
            ops.REFRESH, body={"refresh_token": refresh_token}, idempotency_key=idempotency_key
        )
        return TokenPair.model_validate(answer)

    async def logout(self, *, idempotency_key: str | None = None) -> None:
        await self._call(ops.LOGOUT, idempotency_key=idempotency_key)

    async def me(self) -> Me:
        return Me.model_validate(await self._call(ops.ME))


def _if_match(version: int | None) -> dict[str, str]:
    return {"If-Match": str(version)} if version is not None else {}


def _file_size(path: Path) -> int:
    return path.stat().st_size


def _guess_type(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


async def _chunks(path: Path, size: int, progress: Progress | None) -> AsyncIterator[bytes]:
    sent = 0
    if progress is not None:
        progress(0, size)
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            sent += len(chunk)
            yield chunk
            if progress is not None:
                progress(sent, size)
