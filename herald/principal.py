"""Who is calling: the workspace, the actor and what they may do."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum


class Permission(StrEnum):
    POSTS_CREATE = "posts.create"
    POSTS_EDIT = "posts.edit"
    POSTS_DELETE = "posts.delete"
    POSTS_PUBLISH = "posts.publish"
    POSTS_SCHEDULE = "posts.schedule"
    POSTS_APPROVE = "posts.approve"
    MEDIA_UPLOAD = "media.upload"
    MEDIA_DELETE = "media.delete"
    BRANDS_CREATE = "brands.create"
    BRANDS_EDIT = "brands.edit"
    BRANDS_DELETE = "brands.delete"
    ACCOUNTS_CONNECT = "accounts.connect"
    ACCOUNTS_DISCONNECT = "accounts.disconnect"
    ANALYTICS_VIEW = "analytics.view"
    ANALYTICS_EXPORT = "analytics.export"
    USERS_INVITE = "users.invite"
    USERS_MANAGE = "users.manage"
    ROLES_MANAGE = "roles.manage"
    WORKSPACE_SETTINGS = "workspace.settings"
    WEBHOOKS_MANAGE = "webhooks.manage"
    # Reading is implied by membership; named so every route can declare what it needs.
    WORKSPACE_READ = "workspace.read"


ALL_PERMISSIONS = frozenset(Permission)


class ActorType(StrEnum):
    USER = "user"
    API_KEY = "api_key"
    # Herald itself: a mirror's copy, a recurrence's occurrence, an approval that timed out.
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """Who did something, as the audit log names them."""

    type: ActorType
    id: str


@dataclass(frozen=True)
class Principal:
    workspace_id: uuid.UUID
    actor_type: ActorType
    actor_id: str
    permissions: frozenset[Permission]

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def actor(self) -> Actor:
        return Actor(self.actor_type, self.actor_id)


def system_actor(what: str) -> Actor:
    """Herald acting on its own: `what` names the part (`mirror:<id>`, `recurrence:<id>`)."""
    return Actor(ActorType.SYSTEM, what)


def system_principal(workspace_id: uuid.UUID, what: str) -> Principal:
    """Herald making a change in a workspace (a mirror's post, a recurrence's copy)."""
    return Principal(workspace_id, ActorType.SYSTEM, what, frozenset())
