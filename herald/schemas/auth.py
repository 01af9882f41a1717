"""Bodies of /v1/auth/* and the invitation accept."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
)

from herald.db.models import User
from herald.passwords import MAX_LENGTH, MIN_LENGTH
from herald.schemas.posts import rfc3339

MAX_EMAIL = 320


def email_address(value: str) -> str:
    """A pydantic validator: one @ between a local part and a domain, no spaces."""
    value = value.strip()
    local, at, domain = value.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain.strip(".")
        or any(c.isspace() for c in value)
        or len(value) > MAX_EMAIL
    ):
        raise ValueError("not an email address")
    return value


def email_key(email: str) -> str:
    """The form accounts are unique in: addresses differing only in case are one account."""
    return email.strip().casefold()


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=MAX_EMAIL)
    # No minimum here: a short wrong password answers 401 like any wrong password.
    password: str = Field(max_length=MAX_LENGTH)


class RefreshBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=200)


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    created_at: datetime

    @field_serializer("created_at")
    def _time(self, value: datetime) -> str | None:
        return rfc3339(value)

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, email=user.email, name=user.name, created_at=user.created_at)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="Seconds the access token is valid for.")
    user: UserOut


class RoleRef(BaseModel):
    id: uuid.UUID
    name: str


class MyWorkspace(BaseModel):
    id: uuid.UUID
    name: str
    role: RoleRef


class MeOut(BaseModel):
    user: UserOut
    workspaces: list[MyWorkspace]


class SignupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(max_length=MAX_EMAIL), AfterValidator(email_address)]
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class AcceptBody(BaseModel):
    """A new user's name and password; a logged-in user sends `{}` with their token."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    password: str | None = Field(default=None, min_length=MIN_LENGTH, max_length=MAX_LENGTH)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value.strip() if value else value
