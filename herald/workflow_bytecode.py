"""Bytecode for workflow modules, whatever PYTHONDONTWRITEBYTECODE says.

Temporal's workflow sandbox imports the module of a workflow afresh for every run it starts.
With no cached bytecode (PYTHONDONTWRITEBYTECODE=1 and an editable install, as in `make run`
and CI here) each of those imports compiles the module's source again: for the post workflow
that was the largest single cost a post added to the worker. Writing the .pyc once at start-up
lets every later import load it; an image built with `pip install .` has it already.
"""

from __future__ import annotations

import importlib.util
import logging
import py_compile
import sys
from collections.abc import Iterable

log = logging.getLogger("herald.worker")


def _sources_of(workflow_classes: Iterable[type]) -> set[str]:
    sources: set[str] = set()
    for cls in workflow_classes:
        # The module and the packages it sits in: the sandbox imports those too.
        parts = cls.__module__.split(".")
        for depth in range(1, len(parts) + 1):
            module = sys.modules.get(".".join(parts[:depth]))
            source = getattr(module, "__file__", None)
            if source and source.endswith(".py"):
                sources.add(source)
    return sources


def compile_workflow_modules(workflow_classes: Iterable[type]) -> int:
    """Writes the .pyc of each workflow's module (and its packages) where imports look for
    it; a read-only tree is left as it is. Returns how many were written."""
    written = 0
    for source in sorted(_sources_of(workflow_classes)):
        target = importlib.util.cache_from_source(source)
        try:
            py_compile.compile(source, cfile=target, doraise=True)
        except (OSError, py_compile.PyCompileError) as err:
            log.debug("no bytecode for %s: %s", source, err)
            continue
        written += 1
    return written
