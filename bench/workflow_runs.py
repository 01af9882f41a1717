"""What creating a workflow run costs Herald's worker, with its workflow modules loaded the
ordinary way (each run's sandboxed import reads and unmarshals the module's bytecode again)
against compiled once per process (herald/workflow_modules.py), side by side in one process.

`python -m bench.workflow_runs [--runs N] [--rounds N]`: creates N post-workflow runs through
the worker's own sandboxed runner (what the worker does for every new post, and again for a
cached run evicted and rebuilt), alternating the two loaders round by round, and prints CPU per
run (median of rounds) and memory per run kept alive (as the sticky cache keeps them).
No Temporal server is needed: the runner is driven directly, as the SDK validates a workflow.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import subprocess
import sys
import time
from typing import Any

from temporalio import workflow
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from herald.workflow_modules import WorkflowModuleFinder, compile_workflow_modules_once
from worker import workflow_runner
from workflows.post import PostWorkflow


def _resident_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return 0


def _use_compiled_once(on: bool) -> None:
    for finder in [f for f in sys.meta_path if isinstance(f, WorkflowModuleFinder)]:
        sys.meta_path.remove(finder)
    if on:
        compile_workflow_modules_once([PostWorkflow])


def _cpu_ms_per_run(runner: SandboxedWorkflowRunner, defn: Any, runs: int) -> float:
    started = time.process_time()
    for _ in range(runs):
        runner.prepare_workflow(defn)
    return (time.process_time() - started) / runs * 1000


def _kept_kb_per_run(runner: SandboxedWorkflowRunner, defn: Any, runs: int) -> float:
    kept: list[object] = []
    create = type(runner).create_instance

    def keeping(self: SandboxedWorkflowRunner, details: Any) -> Any:
        instance = create(self, details)
        kept.append(instance)
        return instance

    type(runner).create_instance = keeping  # type: ignore[method-assign]
    try:
        gc.collect()
        before = _resident_kb()
        for _ in range(runs):
            runner.prepare_workflow(defn)
        gc.collect()
        return (_resident_kb() - before) / runs
    finally:
        type(runner).create_instance = create  # type: ignore[method-assign]


def _kept_kb_in_subprocess(once: bool, runs: int) -> float:
    loader = "once" if once else "ordinary"
    command = [sys.executable, "-m", "bench.workflow_runs", "--memory", loader, "--runs", str(runs)]
    return float(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


async def memory_only(once: bool, runs: int) -> None:
    _use_compiled_once(once)
    runner = workflow_runner()
    defn = workflow._Definition.must_from_class(PostWorkflow)
    runner.prepare_workflow(defn)
    print(f"{_kept_kb_per_run(runner, defn, runs):.1f}")


async def main(runs: int, rounds: int) -> None:
    runner = workflow_runner()
    defn = workflow._Definition.must_from_class(PostWorkflow)
    runner.prepare_workflow(defn)  # warm: the sandbox's own first-use costs
    cpu: dict[bool, list[float]] = {False: [], True: []}
    for round_ in range(rounds):
        for once in (False, True) if round_ % 2 == 0 else (True, False):
            _use_compiled_once(once)
            cpu[once].append(_cpu_ms_per_run(runner, defn, runs))
    # Memory in a process of its own per loader: in one process the second measurement
    # would reuse the heap the first one freed.
    memory = {once: _kept_kb_in_subprocess(once, runs) for once in (False, True)}
    plain, compiled = statistics.median(cpu[False]), statistics.median(cpu[True])
    print(f"[workflow_runs] {runs} post-workflow runs x {rounds} rounds per loader")
    print(f"[workflow_runs] CPU per run: ordinary {plain:.2f} ms, compiled once {compiled:.2f} ms")
    print(f"[workflow_runs]   rounds: ordinary {[round(c, 2) for c in cpu[False]]}")
    print(f"[workflow_runs]   rounds: compiled once {[round(c, 2) for c in cpu[True]]}")
    print(
        f"[workflow_runs] memory per run kept: ordinary {memory[False]:.0f} KB, "
        f"compiled once {memory[True]:.0f} KB"
    )
    print(f"[workflow_runs] ratio compiled once / ordinary, CPU: {compiled / plain:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.workflow_runs", description=__doc__)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory", choices=("ordinary", "once"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory:
        asyncio.run(memory_only(args.memory == "once", args.runs))
    else:
        asyncio.run(main(args.runs, args.rounds))
