"""Bodies of workspaces, members, invitations, roles and API keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
)

from herald.db.models import ApiKey, Invitation, Role, User, Workspace
from herald.instants import to_utc
from herald.principal import Permission
from herald.roles import BUILTIN_BY_ID, GRANTABLE, role_permissions
from herald.schemas.auth import MAX_EMAIL, UserOut, email_address
from herald.schemas.posts import rfc3339
from herald.timezones import known_zone

Email = Annotated[str, Field(max_length=MAX_EMAIL), AfterValidator(email_address)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


def _grantable(values: list[Permission]) -> list[Permission]:
    unknown = [p for p in values if p not in GRANTABLE]
    if unknown:
        raise ValueError(f"{unknown[0]} cannot be granted (reading is implied by membership)")
    return sorted(set(values))


Permissions = Annotated[list[Permission], Field(max_length=40), AfterValidator(_grantable)]


class WorkspaceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approval_required: bool = False
    approval_timeout_s: float | None = Field(
        default=None, gt=0, le=90 * 86400, description="Pending approvals expire after this."
    )
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return known_zone(value)


class SettingsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approval_required: bool | None = None
    approval_timeout_s: float | None = Field(default=None, gt=0, le=90 * 86400)
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return known_zone(value) if value is not None else None


class WorkspaceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    settings: WorkspaceSettings = Field(default_factory=WorkspaceSettings)


class WorkspacePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    settings: SettingsPatch | None = None


class WorkspaceOut(BaseModel):
    id: uuid.UUID
    name: str
    settings: WorkspaceSettings
    created_at: datetime

    @field_serializer("created_at")
    def _time(self, value: datetime) -> str | None:
        return rfc3339(value)

    @classmethod
    def of(cls, workspace: Workspace) -> WorkspaceOut:
        known = set(WorkspaceSettings.model_fields)
        stored: dict[str, Any] = {k: v for k, v in workspace.settings.items() if k in known}
        return cls(
            id=workspace.id,
            name=workspace.name,
            settings=WorkspaceSettings.model_validate(stored),
            created_at=workspace.created_at,
        )


class WorkspaceList(BaseModel):
    data: list[WorkspaceOut]
    next_cursor: str | None = None


class RoleOut(BaseModel):
    id: uuid.UUID
    name: str
    builtin: bool
    permissions: list[str]
    description: str | None = None

    @classmethod
    def of(cls, role: Role) -> RoleOut:
        builtin = BUILTIN_BY_ID.get(role.id)
        granted = role_permissions(role.id, role.permissions) - {Permission.WORKSPACE_READ}
        return cls(
            id=role.id,
            name=role.name,
            builtin=builtin is not None,
            permissions=sorted(granted),
            description=builtin.description if builtin else None,
        )


class RoleList(BaseModel):
    data: list[RoleOut]
    next_cursor: str | None = None


class RoleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    permissions: Permissions


class RolePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    permissions: Permissions | None = None


class MemberOut(BaseModel):
    id: uuid.UUID = Field(description="The user's id.")
    email: str
    name: str
    role_id: uuid.UUID
    role_name: str
    joined_at: datetime

    @field_serializer("joined_at")
    def _time(self, value: datetime) -> str | None:
        return rfc3339(value)

    @classmethod
    def of(cls, user: User, role: Role, joined_at: datetime) -> MemberOut:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role_id=role.id,
            role_name=role.name,
            joined_at=joined_at,
        )


class MemberList(BaseModel):
    data: list[MemberOut]
    next_cursor: str | None = None


class MemberPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role_id: uuid.UUID


class InviteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    role_id: uuid.UUID


class InvitationCreated(BaseModel):
    id: uuid.UUID
    email: str
    role_id: uuid.UUID
    token: str = Field(description="Shown in this answer only: pass it on to the invitee.")
    expires_at: datetime

    @field_serializer("expires_at")
    def _time(self, value: datetime) -> str | None:
        return rfc3339(value)

    @classmethod
    def of(cls, invitation: Invitation, token: str) -> InvitationCreated:
        return cls(
            id=invitation.id,
            email=invitation.email,
            role_id=invitation.role_id,
            token=token,
            expires_at=invitation.expires_at,
        )


class Accepted(BaseModel):
    workspace_id: uuid.UUID
    role_id: uuid.UUID
    user: UserOut


def _expiry(value: datetime | None) -> datetime | None:
    return to_utc(value) if value is not None else None


class ApiKeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    permissions: Permissions | None = Field(
        default=None, description="What the key may do; omitted: what its creator may do."
    )
    expires_at: Annotated[datetime | None, AfterValidator(_expiry)] = None


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="The first characters of the key, to recognise it.")
    permissions: list[str] | None = Field(description="None: every permission.")
    created_at: datetime
    last_used_at: datetime | None = Field(description="Kept to the minute.")
    expires_at: datetime | None

    @field_serializer("created_at", "last_used_at", "expires_at")
    def _times(self, value: datetime | None) -> str | None:
        return rfc3339(value)

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.key_prefix,
            permissions=sorted(key.permissions) if key.permissions is not None else None,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            expires_at=key.expires_at,
        )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret, in this answer only.")


class ApiKeyList(BaseModel):
    data: list[ApiKeyOut]
    next_cursor: str | None = None
