"""The worker's malloc arena cap: taken on glibc, and an operator's MALLOC_ARENA_MAX wins."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from herald.malloc_arenas import cap_malloc_arenas

ON_GLIBC = sys.platform == "linux" and os.confstr("CS_GNU_LIBC_VERSION") is not None


def _in_a_fresh_process(env: dict[str, str]) -> str:
    code = "from herald.malloc_arenas import cap_malloc_arenas; print(cap_malloc_arenas(2))"
    answer = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return answer.stdout.strip()


@pytest.mark.skipif(not ON_GLIBC, reason="the cap is glibc's")
def test_the_cap_takes_unless_the_operator_set_one() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    assert _in_a_fresh_process(env) == "True"
    assert _in_a_fresh_process({**env, "MALLOC_ARENA_MAX": "4"}) == "False"


def test_zero_leaves_the_default() -> None:
    assert cap_malloc_arenas(0) is False
