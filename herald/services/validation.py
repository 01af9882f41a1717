"""Per-platform validation of a post, from each adapter's own rules (no side effects)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from pydantic import BaseModel

from herald.errors import HeraldError
from platforms.base import PublishRequest
from platforms.registry import AdapterRegistry


class Problem(BaseModel):
    code: str
    message: str
    path: str


class TargetValidation(BaseModel):
    account_id: uuid.UUID
    platform: str
    valid: bool
    problems: list[Problem]


class ValidationOut(BaseModel):
    valid: bool
    targets: list[TargetValidation]


@dataclass(frozen=True)
class TargetDraft:
    """What one target would publish: its own content or the post's."""

    index: int
    account_id: uuid.UUID
    platform: str
    text: str
    own_content: bool
    options: dict[str, object] = field(default_factory=dict)


def validate_targets(adapters: AdapterRegistry, drafts: list[TargetDraft]) -> ValidationOut:
    results = []
    for draft in drafts:
        try:
            adapter = adapters.get(draft.platform)
        except HeraldError:
            problems = [
                Problem(
                    code="unsupported_platform",
                    message=f"publishing to {draft.platform} is not available yet",
                    path=f"targets.{draft.index}.account_id",
                )
            ]
        else:
            request = PublishRequest(
                text=draft.text, idempotency_key="", options=dict(draft.options)
            )
            problems = [
                Problem(
                    code=p.code,
                    message=p.message,
                    path=(
                        f"targets.{draft.index}.{p.path}"
                        if draft.own_content or p.path not in ("content",)
                        else p.path
                    ),
                )
                for p in adapter.validate(request)
            ]
        results.append(
            TargetValidation(
                account_id=draft.account_id,
                platform=draft.platform,
                valid=not problems,
                problems=problems,
            )
        )
    return ValidationOut(valid=all(r.valid for r in results), targets=results)
