"""`herald doctor`: checks a deployment's settings and what they point at — the database (and
that it is migrated), the Temporal namespace and Herald's search attributes, the media
storage — and says what to fix. Exit status 0 when every check passes."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

from herald import temporal as names
from herald.db.engine import create_engine
from herald.migrate import alembic_config
from herald.settings import Settings
from herald.storage.factory import build_storage
from herald.storage.s3 import S3Storage

TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str


class Problem(Exception):
    """A check's failure, worded as what to fix."""


async def _database(settings: Settings) -> str:
    engine = create_engine(settings.resolved_database_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            current = await connection.run_sync(_revision)
    except Problem:
        raise
    except Exception as err:
        raise Problem(
            f"cannot connect ({type(err).__name__}: {err}); check HERALD_DATABASE_URL"
        ) from err
    finally:
        await engine.dispose()
    head = ScriptDirectory.from_config(
        alembic_config(settings.resolved_database_url)
    ).get_current_head()
    if current != head:
        raise Problem(
            f"schema at {current or 'nothing'}, code expects {head}: run `herald migrate`"
        )
    return f"reachable, migrated to {head}"


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def _temporal(settings: Settings) -> str:
    try:
        client = await asyncio.wait_for(names.connect(settings), TIMEOUT_S)
    except Exception as err:
        raise Problem(
            f"cannot connect to {settings.temporal_address} ({err}); "
            "check HERALD_TEMPORAL_ADDRESS and that the server runs"
        ) from err
    namespace = settings.temporal_namespace
    try:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace)
        )
    except Exception as err:
        raise Problem(
            f"namespace {namespace!r} not found: create it "
            f"(temporal operator namespace create --namespace {namespace}) "
            "or set HERALD_TEMPORAL_NAMESPACE"
        ) from err
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = [k.name for k in names.SEARCH_ATTRIBUTES if k.name not in listed.custom_attributes]
    if missing:
        raise Problem(
            f"search attributes missing: {', '.join(missing)}; a `herald worker` registers "
            "them when it starts"
        )
    return f"reachable, namespace {namespace!r} with Herald's search attributes"


async def _storage(settings: Settings) -> str:
    storage = build_storage(settings)
    if isinstance(storage, S3Storage):
        try:
            await storage.check_bucket()
        except Exception as err:
            raise Problem(
                f"bucket {settings.s3_bucket!r} not reachable ({err}); check HERALD_S3_* and "
                "the AWS_* credentials"
            ) from err
        return f"S3 bucket {settings.s3_bucket!r} reachable"
    folder = settings.resolved_media_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise Problem(f"{folder} is not writable ({err}); check HERALD_MEDIA_DIR") from err
    return f"local folder {folder} writable"


CHECKS: dict[str, Callable[[Settings], Awaitable[str]]] = {
    "database": _database,
    "temporal": _temporal,
    "storage": _storage,
}


async def diagnose(settings: Settings) -> list[Finding]:
    findings = []
    for name, check in CHECKS.items():
        try:
            detail = await asyncio.wait_for(check(settings), TIMEOUT_S * 2)
            findings.append(Finding(name, True, detail))
        except Problem as problem:
            findings.append(Finding(name, False, str(problem)))
        except TimeoutError:
            findings.append(Finding(name, False, "no answer in time"))
    return findings


def report(findings: list[Finding]) -> str:
    lines = [f"{'ok  ' if f.ok else 'FAIL'} {f.check:<9} {f.detail}" for f in findings]
    failed = sum(not f.ok for f in findings)
    lines.append("all checks passed" if not failed else f"{failed} check(s) failed")
    return "\n".join(lines)
