"""What the CLI prints: tables and lines for people, JSON for scripts, a progress bar."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from herald_client.models import Account, Post, Target


def as_json(value: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> str:
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if isinstance(value, dict):
        return json.dumps(value)
    return json.dumps([item.model_dump(mode="json") for item in value])


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


def accounts_table(accounts: Sequence[Account]) -> str:
    rows = [(a.id, a.platform, a.username, a.status) for a in accounts]
    return table(rows, ("ID", "PLATFORM", "USERNAME", "STATUS"))


def _short(text: str, width: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def posts_table(posts: Sequence[Post]) -> str:
    rows = [
        (
            p.id,
            p.status,
            p.scheduled_at.isoformat() if p.scheduled_at else "-",
            ",".join(t.platform for t in p.targets),
            _short(p.content),
        )
        for p in posts
    ]
    return table(rows, ("ID", "STATUS", "SCHEDULED", "PLATFORMS", "CONTENT"))


def target_line(target: Target) -> str:
    where = target.platform_post_url or (
        f"{target.error.code}: {target.error.message}" if target.error else ""
    )
    return f"  {target.platform:<10} {target.status:<11} {where}".rstrip()


def post_summary(post: Post) -> str:
    when = f" at {post.scheduled_at.isoformat()}" if post.scheduled_at else ""
    lines = [f"post {post.id}: {post.status}{when}"]
    lines += [target_line(t) for t in post.targets]
    return "\n".join(lines)


class ProgressBar:
    """A bar on stderr for uploads of at least `threshold` bytes (smaller ones finish before
    a bar would tell anyone anything)."""

    def __init__(self, label: str, threshold: int = 512 * 1024, width: int = 30) -> None:
        self.label = label
        self.threshold = threshold
        self.width = width
        self._last = -1

    def __call__(self, sent: int, total: int) -> None:
        if total < self.threshold:
            return
        percent = sent * 100 // total
        if percent == self._last:
            return
        self._last = percent
        filled = self.width * sent // total
        bar = "#" * filled + "-" * (self.width - filled)
        sys.stderr.write(f"\r{self.label} [{bar}] {percent:3d}% {sent}/{total} bytes")
        if sent >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
