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


@dataclass(frozen=True)
class Principal:
    workspace_id: uuid.UUID
    actor_type: ActorType
    actor_id: str
    permissions: frozenset[Permission]

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions
