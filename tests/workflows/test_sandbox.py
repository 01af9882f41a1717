"""Herald's workflow runner (worker.workflow_runner) refuses what would break determinism in a
workflow module's own code: the clock, randomness, files. A runner that passes every module
through (faster, see its docstring) lets all three run; this is what keeps it out. The
worker's workflow modules are compiled once per process (herald/workflow_modules.py): the
probe's module is loaded that way here too, and the refusals hold."""

from __future__ import annotations

import random
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import RestrictedWorkflowAccessError

with workflow.unsafe.imports_passed_through():
    from herald.workflow_modules import compile_workflow_modules_once
    from worker import workflow_runner

BIN = Path(sys.executable).parent


@workflow.defn(name="SandboxProbeWorkflow")
class SandboxProbeWorkflow:
    @workflow.run
    async def run(self, what: str) -> float:
        if what == "clock":
            return time.time()
        if what == "random":
            return random.random()
        if what == "file":
            return float(len(open("/etc/hostname").read()))  # noqa: ASYNC230
        return workflow.now().timestamp()


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server")
    )
    try:
        yield environment
    finally:
        await environment.shutdown()


async def _run(env: WorkflowEnvironment, what: str) -> float:
    queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    compile_workflow_modules_once([SandboxProbeWorkflow])
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[SandboxProbeWorkflow],
        workflow_runner=workflow_runner(),
        # A refused call fails the run at once instead of retrying its task forever.
        workflow_failure_exception_types=[RestrictedWorkflowAccessError],
    ):
        return await env.client.execute_workflow(
            SandboxProbeWorkflow.run, what, id=f"probe/{uuid.uuid4()}", task_queue=queue
        )


@pytest.mark.parametrize("what", ["clock", "random", "file"])
async def test_nondeterministic_calls_are_still_refused(
    env: WorkflowEnvironment, what: str
) -> None:
    with pytest.raises(WorkflowFailureError) as failure:
        await _run(env, what)
    assert "Cannot access" in str(failure.value.cause)


async def test_deterministic_code_runs(env: WorkflowEnvironment) -> None:
    assert await _run(env, "workflow clock") > 0
