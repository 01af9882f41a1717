"""Records the history of a post workflow run (rescheduled, then published with one target
failing) into tests/workflows/histories/, for the replay test. Rerun only on purpose, for a
history that is not there yet: `python -m tests.workflows.record_history [NAME]` — a released
history must keep replaying, never be re-recorded. NAME is one of RUNS (default: the first)."""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from herald import temporal as names
from herald.payloads import PostWorkflowInput, RescheduleRequest
from tests.workflows.test_post_workflow import FakeActivities, workers_for
from workflows.post import PostWorkflow

OUT = Path(__file__).parent / "histories"
# Each recorded run: the flags of its start. The first predates the flags; the second starts
# as the API did from 2026-12-02 (database steps as local activities), the third as it has
# since 2026-12-03 (each batch's first attempts in one activity per platform).
RUNS = {
    "post_rescheduled_partial": {},
    "post_rescheduled_partial_local_steps": {"lean_publish": True, "local_steps": True},
    "post_rescheduled_partial_batched": {
        "lean_publish": True,
        "local_steps": True,
        "batch_publish": True,
    },
}


async def main(name: str) -> None:
    out = OUT / f"{name}.json"
    if out.exists():
        raise SystemExit(f"{out} exists: a recorded history is never re-recorded")
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    await names.register_search_attributes(env.client, "default")
    try:
        start = await env.get_current_time()
        fake = FakeActivities(env, start + timedelta(hours=1), fail_platform="x")
        queue = f"record-{uuid.uuid4().hex[:6]}"
        async with workers_for(env, fake, queue):
            handle = await env.client.start_workflow(
                PostWorkflow.run,
                PostWorkflowInput(post_id=str(uuid.uuid4()), **RUNS[name]),
                id=f"post/{uuid.uuid4()}",
                task_queue=queue,
            )
            await handle.execute_update(
                PostWorkflow.reschedule, RescheduleRequest(scheduled_at=start + timedelta(hours=2))
            )
            await handle.result()
            history = await handle.fetch_history()
        OUT.mkdir(exist_ok=True)
        out.write_text(history.to_json())
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else next(iter(RUNS))))
