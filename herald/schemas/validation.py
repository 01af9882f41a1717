"""What a per-platform validation answers (`/v1/posts/validate`, a post's `/validation`)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel


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
