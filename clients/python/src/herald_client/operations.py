"""Every server operation the client wraps: its method, the server's path template and the
query parameters it sends. The client builds each request from these, and a test holds them
to Herald's OpenAPI document (tests/integration/test_client_openapi.py)."""

from __future__ import annotations

from dataclasses import dataclass

WRITE_METHODS = frozenset({"POST", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: str
    query: tuple[str, ...] = ()

    @property
    def writes(self) -> bool:
        """Sent with an Idempotency-Key (the server keeps one for POST, PATCH and DELETE)."""
        return self.method in WRITE_METHODS

    def url(self, **path_params: str) -> str:
        return self.path.format(**path_params)


OPERATIONS: dict[str, Operation] = {}


def _op(name: str, method: str, path: str, *query: str) -> Operation:
    operation = Operation(name, method, path, query)
    OPERATIONS[name] = operation
    return operation


_PAGE = ("cursor", "limit")

# Posts
CREATE_POST = _op("create_post", "POST", "/v1/posts")
LIST_POSTS = _op(
    "list_posts",
    "GET",
    "/v1/posts",
    "status",
    "brand_id",
    "account_id",
    "platform",
    "from",
    "to",
    "external_id",
    *_PAGE,
)
GET_POST = _op("get_post", "GET", "/v1/posts/{post_id}")
UPDATE_POST = _op("update_post", "PATCH", "/v1/posts/{post_id}")
DELETE_POST = _op("delete_post", "DELETE", "/v1/posts/{post_id}")
VALIDATE_POST = _op("validate_post", "POST", "/v1/posts/validate")
POST_VALIDATION = _op("post_validation", "GET", "/v1/posts/{post_id}/validation")
SCHEDULE_POST = _op("schedule_post", "POST", "/v1/posts/{post_id}/schedule")
PUBLISH_POST = _op("publish_post", "POST", "/v1/posts/{post_id}/publish")
CANCEL_POST = _op("cancel_post", "POST", "/v1/posts/{post_id}/cancel")
RETRY_POST = _op("retry_post", "POST", "/v1/posts/{post_id}/retry")
FIX_TARGET = _op("fix_target", "POST", "/v1/posts/{post_id}/targets/{target_id}/fix")
CLONE_POST = _op("clone_post", "POST", "/v1/posts/{post_id}/clone")
DUPLICATE_POST = _op("duplicate_post", "POST", "/v1/posts/{post_id}/duplicate")
ARCHIVE_POST = _op("archive_post", "POST", "/v1/posts/{post_id}/archive")
UNPUBLISH_POST = _op("unpublish_post", "POST", "/v1/posts/{post_id}/unpublish")
SUBMIT_POST = _op("submit_post", "POST", "/v1/posts/{post_id}/submit")
BULK_CREATE_POSTS = _op("bulk_create_posts", "POST", "/v1/posts/bulk")
BATCH_POSTS = _op("batch_posts", "PATCH", "/v1/posts/batch")

# Accounts
LIST_ACCOUNTS = _op(
    "list_accounts", "GET", "/v1/accounts", "brand_id", "platform", "status", *_PAGE
)
CONNECT_ACCOUNT = _op("connect_account", "POST", "/v1/accounts")
TEST_ACCOUNT = _op("test_account", "POST", "/v1/accounts/{account_id}/test")
DISCONNECT_ACCOUNT = _op("disconnect_account", "DELETE", "/v1/accounts/{account_id}")
NEXT_SLOT = _op("next_slot", "GET", "/v1/accounts/{account_id}/next-slot")

# Media
CREATE_UPLOAD = _op("create_upload", "POST", "/v1/media/uploads")
COMPLETE_UPLOAD = _op("complete_upload", "POST", "/v1/media/{media_id}/complete")
IMPORT_MEDIA = _op("import_media", "POST", "/v1/media/import-from-url")
LIST_MEDIA = _op("list_media", "GET", "/v1/media", *_PAGE)
GET_MEDIA = _op("get_media", "GET", "/v1/media/{media_id}")
DELETE_MEDIA = _op("delete_media", "DELETE", "/v1/media/{media_id}")

# Webhooks
CREATE_WEBHOOK = _op("create_webhook", "POST", "/v1/webhooks")
LIST_WEBHOOKS = _op("list_webhooks", "GET", "/v1/webhooks", *_PAGE)
GET_WEBHOOK = _op("get_webhook", "GET", "/v1/webhooks/{webhook_id}")
UPDATE_WEBHOOK = _op("update_webhook", "PATCH", "/v1/webhooks/{webhook_id}")
DELETE_WEBHOOK = _op("delete_webhook", "DELETE", "/v1/webhooks/{webhook_id}")
TEST_WEBHOOK = _op("test_webhook", "POST", "/v1/webhooks/{webhook_id}/test")
LIST_DELIVERIES = _op(
    "list_deliveries", "GET", "/v1/webhooks/{webhook_id}/deliveries", "state", *_PAGE
)

# Sign-in
LOGIN = _op("login", "POST", "/v1/auth/login")
REFRESH = _op("refresh", "POST", "/v1/auth/refresh")
LOGOUT = _op("logout", "POST", "/v1/auth/logout")
ME = _op("me", "GET", "/v1/auth/me")

# Server operations the client leaves to `request()` on purpose, with why. Paths under
# OUT_OF_SCOPE_PREFIXES are not wrapped at all yet (teams, mirrors, approvals, ...).
EXCLUDED: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "probe for load balancers, not an API call",
    ("GET", "/readyz"): "probe for load balancers, not an API call",
    ("POST", "/v1/accounts/connect/{platform}"): "OAuth starts in a browser",
    ("GET", "/v1/accounts/callback/{platform}"): "the platform's redirect, not a client call",
    ("POST", "/v1/accounts/{account_id}/reconnect"): "OAuth starts in a browser",
    ("POST", "/v1/accounts/{account_id}/refresh"): "token renewal runs in Herald's worker",
    ("POST", "/v1/accounts/{account_id}/select-page"): "part of the OAuth flow",
    ("PUT", "/v1/accounts/{account_id}/queue"): "queue set-up is an admin task: use request()",
    ("GET", "/v1/accounts/{account_id}/queue"): "queue set-up is an admin task: use request()",
    ("POST", "/v1/media/bulk-presign"): "upload_media() presigns one file at a time",
    ("GET", "/v1/posts/{post_id}/recurrence"): "recurrence: use request()",
    ("POST", "/v1/posts/{post_id}/recurrence"): "recurrence: use request()",
    ("PATCH", "/v1/posts/{post_id}/recurrence"): "recurrence: use request()",
    ("DELETE", "/v1/posts/{post_id}/recurrence"): "recurrence: use request()",
    ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"): "an admin task: use request()",
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"): "use request()",
    ("POST", "/v1/media"): "upload_media() takes the three-step flow, for any size",
    ("POST", "/v1/media/register"): "import_media() covers a file at a URL: use request()",
    ("POST", "/v1/media/{media_id}/validate"): "media validation: use request()",
    ("POST", "/v1/media/bulk-validate"): "media validation: use request()",
    ("GET", "/v1/media/validations/{validation_id}"): "media validation: use request()",
    ("POST", "/v1/media/bulk-video-upload-urls"): "upload_media() presigns one file at a time",
    ("POST", "/v1/posts/bulk-video"): "bulk creation: use request()",
    ("POST", "/v1/auth/signup"): "an operator's choice to open: use request()",
    ("POST", "/v1/accounts/{account_id}/backfill"): "analytics: use request()",
}
OUT_OF_SCOPE_PREFIXES = (
    "/v1/workspaces",
    "/v1/invitations",
    "/v1/account-groups",
    "/v1/mirrors",
    "/v1/approvals",
    "/v1/notifications",
    "/v1/brands",
    "/v1/audit-events",
    "/v1/analytics",
    "/v1/media-files",  # signed URLs: upload_media() follows the one the server hands out
)
