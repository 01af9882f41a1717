"""What the API process holds for its lifetime: settings, engine, sessions, Temporal gateway."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth import Authenticator
from api.counters import Counters
from api.gateway import TemporalGateway
from api.key_usage import KeyUsage
from api.login_throttle import LoginThrottle
from api.rate_limits import RequestLimits
from herald.access_tokens import AccessTokens
from herald.adapters import build_registry
from herald.clock import Clock
from herald.crypto import CredentialCipher, load_or_create_secret_key
from herald.db.engine import SessionFactory, create_engine, create_session_factory
from herald.outbound import platform_client, platform_policy, webhook_client
from herald.posts.platform_checks import PlatformRules
from herald.services.plan_limits import PlanDefaults
from herald.settings import Settings
from herald.storage.base import MediaStorage
from herald.storage.factory import build_storage
from platforms.outbound import OutboundPolicy
from platforms.registry import AdapterRegistry


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    temporal: TemporalGateway
    # Validation rules, account verification and OAuth code exchange; publishing is the worker's.
    adapters: AdapterRegistry = field(init=False)
    # Each target checked by its platform (create, edit, schedule, validate).
    rules: PlatformRules = field(init=False)
    # Sessions for requests that only read (GET, HEAD).
    read_sessions: SessionFactory = field(init=False)
    storage: MediaStorage = field(init=False)
    cipher: CredentialCipher = field(init=False)
    http: httpx.AsyncClient = field(init=False)
    platform_policy: OutboundPolicy = field(init=False)
    # POST /v1/webhooks/{id}/test sends from the API; every other delivery is the worker's.
    webhook_http: httpx.AsyncClient = field(init=False)
    # Now, for token and invitation expiries; tests move it instead of sleeping.
    clock: Clock = field(init=False)
    # Who is calling and what they may do (api/auth.py).
    auth: Authenticator = field(init=False)
    # Rate-limit counters (Redis or memory) and what counts in them.
    counters: Counters = field(init=False)
    login_throttle: LoginThrottle = field(init=False)
    request_limits: RequestLimits = field(init=False)
    # Each workspace's plan limits unless it names its own (herald/services/plan_limits.py).
    plan: PlanDefaults = field(init=False)

    def __post_init__(self) -> None:
        self.read_sessions = create_session_factory(self.engine, read_only=True)
        self.storage = build_storage(self.settings)
        secret = load_or_create_secret_key(self.settings)
        self.cipher = CredentialCipher(secret)
        self.clock = Clock()
        tokens = AccessTokens(
            secret, self.settings.access_token_ttl_s, self.settings.signing_key_period_s
        )
        self.auth = Authenticator(tokens, self.clock, KeyUsage(self.sessions))
        self.counters = Counters(
            self.settings.redis_url, self.settings.redis_key_prefix, self.settings.redis_timeout_s
        )
        self.login_throttle = LoginThrottle.of(self.settings, self.counters)
        self.request_limits = RequestLimits(self.settings, self.counters)
        self.plan = PlanDefaults.of(self.settings)
        self.platform_policy = platform_policy(self.settings)
        self.http = platform_client(self.settings)
        self.adapters = build_registry(self.http, self.settings)
        self.rules = PlatformRules(self.adapters, self.cipher)
        self.webhook_http = webhook_client(self.settings)

    @classmethod
    def build(cls, settings: Settings) -> Resources:
        engine = create_engine(settings.resolved_database_url)
        return cls(settings, engine, create_session_factory(engine), TemporalGateway(settings))

    async def close(self) -> None:
        await self.auth.usage.close()
        await self.http.aclose()
        await self.webhook_http.aclose()
        await self.engine.dispose()
