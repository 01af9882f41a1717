"""One log format for every Herald process."""

from __future__ import annotations

import logging


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    quiet_libraries()


def quiet_libraries() -> None:
    # httpx logs every request URL at INFO, and some platform APIs (Graph token exchanges)
    # carry tokens in the query string: never let those lines out. Platform calls are logged
    # by the activities instead.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("temporalio.activity").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
