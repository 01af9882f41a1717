"""Workflow modules are compiled once per worker process: the sandbox's import of a workflow
module for each new run executes the same code objects in a fresh namespace, and reads
nothing from disk (so a running worker runs the code it started with)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from herald.workflow_modules import WorkflowModuleFinder, compile_workflow_modules_once


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh package `wfonce` with a workflow-like class in `wfonce.flow`."""
    root = tmp_path / "wfonce"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "flow.py").write_text("class Flow:\n    def step(self) -> str:\n        return 'v1'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    importlib.import_module("wfonce.flow")
    before = list(sys.meta_path)
    yield root
    for name in ("wfonce.flow", "wfonce"):
        sys.modules.pop(name, None)
    for finder in sys.meta_path:
        if isinstance(finder, WorkflowModuleFinder) and finder not in before:
            sys.meta_path.remove(finder)
        elif isinstance(finder, WorkflowModuleFinder):
            finder.sources.pop("wfonce.flow", None)
            finder.sources.pop("wfonce", None)


def _import_afresh() -> ModuleType:
    """As the sandbox imports a workflow module for a new run: nothing of it in sys.modules."""
    for name in ("wfonce.flow", "wfonce"):
        sys.modules.pop(name, None)
    return importlib.import_module("wfonce.flow")


def test_each_run_gets_its_own_module_running_the_same_code(package: Path) -> None:
    compile_workflow_modules_once([sys.modules["wfonce.flow"].Flow])
    first, second = _import_afresh(), _import_afresh()

    assert first is not second and first.Flow is not second.Flow  # runs share no state
    assert first.Flow.step.__code__ is second.Flow.step.__code__  # nor compile it again
    assert second.Flow().step() == "v1"


def test_a_running_worker_keeps_the_code_it_started_with(package: Path) -> None:
    compile_workflow_modules_once([sys.modules["wfonce.flow"].Flow])
    assert _import_afresh().Flow().step() == "v1"

    (package / "flow.py").write_text(
        "class Flow:\n    def step(self) -> str:\n        return 'v2'\n"
    )
    importlib.invalidate_caches()

    assert _import_afresh().Flow().step() == "v1"


def test_installing_twice_keeps_one_finder(package: Path) -> None:
    flow = sys.modules["wfonce.flow"].Flow
    first = compile_workflow_modules_once([flow])
    assert compile_workflow_modules_once([flow]) is first
    assert sum(isinstance(f, WorkflowModuleFinder) for f in sys.meta_path) == 1
    assert {"wfonce", "wfonce.flow"} <= set(first.sources)
