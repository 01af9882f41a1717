"""How many malloc arenas the worker's threads share (glibc only).

glibc gives threads that allocate at the same moment arenas of their own, up to eight per
core, and each keeps what was freed in it for reuse rather than handing it back. The worker's
threads (the Temporal core's, the workflow task pool, aiosqlite's connections) all allocate, so
a worker that has taken in many runs holds that slack in several arenas at once. With two, a
worker with 20,000 sleeping posts held about 20 MB less (bench/README.md, 2026-12-03)."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def cap_malloc_arenas(count: int) -> bool:
    """Caps the arenas at `count` (0: leave glibc's default). An operator's own
    MALLOC_ARENA_MAX wins; elsewhere than glibc this does nothing. True if the cap took."""
    if count <= 0 or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl has no mallopt to speak of)
    if mallopt(_M_ARENA_MAX, count) != 1:
        log.warning("could not cap malloc arenas at %d", count)
        return False
    return True
