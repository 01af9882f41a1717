"""Workflow modules get their bytecode written at worker start-up, even where Python is told
not to write any, because the workflow sandbox imports them again for every run."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from herald.workflow_bytecode import compile_workflow_modules


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh package `wfpkg` with a workflow-like class in `wfpkg.flow`, imported without
    writing bytecode (as under PYTHONDONTWRITEBYTECODE=1)."""
    root = tmp_path / "wfpkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "flow.py").write_text("class Flow:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    importlib.invalidate_caches()
    importlib.import_module("wfpkg.flow")
    yield root
    for name in ("wfpkg.flow", "wfpkg"):
        sys.modules.pop(name, None)


def test_writes_the_bytecode_of_the_module_and_its_package(package: Path) -> None:
    flow = sys.modules["wfpkg.flow"].Flow
    cached = [
        importlib.util.cache_from_source(str(package / n)) for n in ("flow.py", "__init__.py")
    ]
    assert not any(os.path.exists(c) for c in cached)

    assert compile_workflow_modules([flow]) == 2

    assert all(os.path.exists(c) for c in cached)
    # The import system takes it: the next import (the sandbox's) compiles nothing.
    spec = importlib.util.find_spec("wfpkg.flow")
    assert spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader)

    def no_compiling(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the source was compiled again")

    monkeypatch = pytest.MonkeyPatch()
    with monkeypatch.context() as patch:
        patch.setattr(spec.loader, "source_to_code", no_compiling)
        assert spec.loader.get_code("wfpkg.flow") is not None


def test_a_tree_it_cannot_write_to_is_left_alone(package: Path) -> None:
    flow = sys.modules["wfpkg.flow"].Flow
    # Even root cannot make a folder where a file stands.
    (package / "__pycache__").write_text("not a folder")
    assert compile_workflow_modules([flow]) == 0
