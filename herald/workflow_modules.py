"""Workflow modules compiled once per worker process, whatever the sandbox re-imports.

Temporal's workflow sandbox imports the module of a workflow afresh for every run it starts.
Through the ordinary loader each of those imports reads the module's bytecode from disk and
unmarshals a new tree of code objects (or, with PYTHONDONTWRITEBYTECODE=1 and an editable
install, compiles the source again): for the post workflow that was a fifth of what creating a
run cost the worker's CPU and half of each cached run's memory (bench/README.md, 2026-12-03).
Code objects are immutable, so every run can execute the same ones: the module body still runs
in each run's own sandboxed namespace, with the sandbox's restrictions, exactly as before.

A consequence worth having: a worker runs the workflow code it started with. Editing a file
under a running worker no longer changes what its next runs execute (the SDK's own issue
temporalio/sdk-python#607); a deployment restarts workers to change it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterable, Sequence
from types import CodeType, ModuleType


class _CompiledOnceLoader(importlib.machinery.SourceFileLoader):
    """A source loader that hands out one code object per module for the process's life."""

    _codes: dict[str, CodeType] = {}

    def get_code(self, fullname: str) -> CodeType:
        code = self._codes.get(fullname)
        if code is None:
            loaded = super().get_code(fullname)
            if loaded is None:  # only for modules without code, which a workflow's is not
                raise ImportError(f"no code for {fullname}", name=fullname)
            code = self._codes[fullname] = loaded
        return code


class WorkflowModuleFinder(importlib.abc.MetaPathFinder):
    """Finds the workflow modules (and their packages) it was given, with the loader above."""

    def __init__(self) -> None:
        self.sources: dict[str, str] = {}

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        source = self.sources.get(fullname)
        if source is None:
            return None
        return importlib.util.spec_from_file_location(
            fullname, source, loader=_CompiledOnceLoader(fullname, source)
        )


def _sources_of(workflow_classes: Iterable[type]) -> dict[str, str]:
    sources: dict[str, str] = {}
    for cls in workflow_classes:
        # The module and the packages it sits in: the sandbox imports those too.
        parts = cls.__module__.split(".")
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            source = getattr(sys.modules.get(name), "__file__", None)
            if source and source.endswith(".py"):
                sources[name] = source
    return sources


def compile_workflow_modules_once(workflow_classes: Iterable[type]) -> WorkflowModuleFinder:
    """Makes every later import of these workflows' modules (the sandbox's, one per run) use
    code compiled once in this process. Idempotent; returns the finder that does it."""
    finder = next((f for f in sys.meta_path if isinstance(f, WorkflowModuleFinder)), None)
    if finder is None:
        finder = WorkflowModuleFinder()
        sys.meta_path.insert(0, finder)
    finder.sources.update(_sources_of(workflow_classes))
    return finder
