"""The five built-in roles and what each may do. They are rows of `roles` (shared by every
workspace, `workspace_id` NULL, fixed ids) so members and invitations name them by foreign key
like custom roles; their permissions are these sets, whatever the rows say."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from herald.principal import ALL_PERMISSIONS, Permission

P = Permission

# What a role may be given: the 20 permissions of API.md. Reading is implied by membership.
GRANTABLE = ALL_PERMISSIONS - {P.WORKSPACE_READ}

_CONTENT = frozenset(
    {
        P.POSTS_CREATE,
        P.POSTS_EDIT,
        P.POSTS_DELETE,
        P.POSTS_PUBLISH,
        P.POSTS_SCHEDULE,
        P.MEDIA_UPLOAD,
        P.MEDIA_DELETE,
        P.ANALYTICS_VIEW,
    }
)


@dataclass(frozen=True)
class BuiltinRole:
    id: uuid.UUID
    name: str
    permissions: frozenset[Permission]
    description: str


OWNER = BuiltinRole(
    uuid.UUID("5739f93b-811d-5ac7-9977-2a66e916570a"),
    "owner",
    GRANTABLE,
    "everything; the only role that may change workspace settings, API keys and owners",
)
ADMIN = BuiltinRole(
    uuid.UUID("facf3fb1-1334-5bf9-97ad-d6e56502ee98"),
    "admin",
    GRANTABLE - {P.WORKSPACE_SETTINGS},
    "everything but workspace settings and API keys: content, brands, accounts, team, roles",
)
EDITOR = BuiltinRole(
    uuid.UUID("2ec818d4-fb1c-5ce1-a02f-12c5aecdbf74"),
    "editor",
    _CONTENT,
    "writes, schedules and publishes posts and media; cannot approve",
)
REVIEWER = BuiltinRole(
    uuid.UUID("add01968-d594-5a8b-8246-f9109b69f87c"),
    "reviewer",
    frozenset({P.POSTS_APPROVE, P.POSTS_EDIT, P.ANALYTICS_VIEW}),
    "approves or rejects posts waiting for approval, and may edit them",
)
VIEWER = BuiltinRole(
    uuid.UUID("9a2ac9de-2654-5664-8488-e1aa03fb29c2"),
    "viewer",
    frozenset({P.ANALYTICS_VIEW}),
    "reads everything in the workspace, changes nothing",
)

BUILTIN_ROLES = (OWNER, ADMIN, EDITOR, REVIEWER, VIEWER)
BUILTIN_BY_ID = {role.id: role for role in BUILTIN_ROLES}
BUILTIN_NAMES = frozenset(role.name for role in BUILTIN_ROLES)


def role_permissions(role_id: uuid.UUID, stored: list[str]) -> frozenset[Permission]:
    """What a member with this role may do: a built-in role's fixed set, or a custom role's
    stored one (names no longer known are ignored), plus reading the workspace."""
    builtin = BUILTIN_BY_ID.get(role_id)
    granted = (
        builtin.permissions
        if builtin is not None
        else frozenset(Permission(p) for p in stored if p in GRANTABLE)
    )
    return granted | {P.WORKSPACE_READ}
