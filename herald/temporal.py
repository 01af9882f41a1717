"""Every Temporal name Herald uses, in one place: workflow types, workflow ids, task queues,
search attributes and the error type Update validators raise. Workflow definitions take their
type names from here, and callers use typed references (`PostWorkflow.cancel`), so no other
module spells a workflow, Update or signal name as a string."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterator

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from herald.errors import HeraldError
from herald.settings import Settings
from herald.tracing import temporal_interceptors

log = logging.getLogger(__name__)

# Workflow types. The server records them in every history: renaming one orphans every run
# started under the old name, so these strings never change.
POST_WORKFLOW = "PostWorkflow"
UNPUBLISH_WORKFLOW = "UnpublishWorkflow"
MEDIA_IMPORT_WORKFLOW = "MediaImportWorkflow"
MEDIA_VALIDATION_WORKFLOW = "MediaValidationWorkflow"
MIRROR_WORKFLOW = "MirrorWorkflow"
MIRRORED_POST_WORKFLOW = "MirroredPostWorkflow"
RECONCILER_WORKFLOW = "ReconcilerWorkflow"
ACCOUNT_TOKENS_WORKFLOW = "AccountTokensWorkflow"
RECURRENCE_OCCURRENCE_WORKFLOW = "RecurrenceOccurrenceWorkflow"
WEBHOOK_DISPATCH_WORKFLOW = "WebhookDispatchWorkflow"
WEBHOOK_RETRY_WORKFLOW = "WebhookRetryWorkflow"
RETENTION_WORKFLOW = "RetentionWorkflow"
ANALYTICS_SYNC_WORKFLOW = "AnalyticsSyncWorkflow"
ANALYTICS_EXPORT_WORKFLOW = "AnalyticsExportWorkflow"

# The ApplicationError type an Update validator raises for a change the post's state forbids;
# the gateway turns it into herald.errors.IllegalTransition (409).
ILLEGAL_TRANSITION = "IllegalTransition"

POST_ID = SearchAttributeKey.for_keyword("HeraldPostId")
WORKSPACE_ID = SearchAttributeKey.for_keyword("HeraldWorkspaceId")
PLATFORMS = SearchAttributeKey.for_keyword_list("HeraldPlatforms")
STATUS = SearchAttributeKey.for_keyword("HeraldStatus")
SCHEDULED_AT = SearchAttributeKey.for_datetime("HeraldScheduledAt")

SEARCH_ATTRIBUTES = (POST_ID, WORKSPACE_ID, PLATFORMS, STATUS, SCHEDULED_AT)


def search_attribute_flags() -> list[str]:
    """`temporal server start-dev` flags that register Herald's search attributes."""
    kinds = {"KEYWORD": "Keyword", "KEYWORD_LIST": "KeywordList", "DATETIME": "Datetime"}
    flags: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags


async def register_search_attributes(client: Client, namespace: str) -> None:
    """Adds any of Herald's search attributes the namespace lacks (idempotent): the dev server
    gets them from flags, a cluster or the time-skipping test server from this call."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        existing = set(listed.custom_attributes)
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:  # the test server cannot list them
            raise
        existing = set()
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type.value)
        for key in SEARCH_ATTRIBUTES
        if key.name not in existing
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )


def recurrence_schedule_id(recurrence_id: uuid.UUID | str) -> str:
    return f"recurrence/{recurrence_id}"


def unpublish_workflow_id(post_id: uuid.UUID | str) -> str:
    return f"unpublish/{post_id}"


def account_tokens_workflow_id(account_id: uuid.UUID | str) -> str:
    return f"account-tokens/{account_id}"


def post_workflow_id(post_id: uuid.UUID | str) -> str:
    return f"post/{post_id}"


def mirror_workflow_id(mirror_id: uuid.UUID | str) -> str:
    return f"mirror/{mirror_id}"


def mirrored_post_workflow_id(mirror_post_id: uuid.UUID | str) -> str:
    return f"mirror-post/{mirror_post_id}"


def media_import_workflow_id(media_id: uuid.UUID | str) -> str:
    return f"media-import/{media_id}"


def media_validation_workflow_id(validation_id: uuid.UUID | str) -> str:
    return f"media-validation/{validation_id}"


def webhook_retry_workflow_id(delivery_id: uuid.UUID | str) -> str:
    return f"webhook-delivery/{delivery_id}"


def webhook_dispatch_workflow_id(main_queue: str) -> str:
    # One per deployment (its task queue): it drains that deployment's outbox.
    return f"{main_queue}-webhooks"


def platform_task_queue(main_queue: str, platform: str) -> str:
    # A queue per network: one slow or rate-limited platform never starves the others.
    return f"{main_queue}-platform-{platform}"


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        runtime=runtime,
        interceptors=temporal_interceptors(),
    )


async def connect_patiently(
    settings: Settings, runtime: Runtime | None = None, *, within_s: float = 60.0
) -> Client:
    """Connects, trying again for `within_s` while the server is not up yet (a worker started
    beside its Temporal server, or while it restarts)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return await connect(settings, runtime)
        except RuntimeError as err:
            if time.monotonic() > deadline:
                raise
            log.warning("Temporal at %s is not reachable yet: %s", settings.temporal_address, err)
            await asyncio.sleep(1.0)


@contextlib.contextmanager
def engine_call(*, missing_ok: bool = False) -> Iterator[None]:
    """Temporal's RPC failures become 503 (Retry-After); with `missing_ok` a workflow or
    schedule that does not exist is no error."""
    try:
        yield
    except RPCError as err:
        if missing_ok and err.status == RPCStatusCode.NOT_FOUND:
            return
        raise HeraldError.engine_unreachable() from err


def analytics_schedule_id(account_id: uuid.UUID | str) -> str:
    return f"analytics/{account_id}"


def analytics_sync_workflow_id(account_id: uuid.UUID | str) -> str:
    return f"analytics/{account_id}/sync"


def analytics_backfill_workflow_id(account_id: uuid.UUID | str) -> str:
    return f"analytics/{account_id}/backfill"


def analytics_export_workflow_id(export_id: uuid.UUID | str) -> str:
    return f"analytics-export/{export_id}"
