"""Knobs of one emulator app, from keyword arguments or EMULATOR_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class EmulatorSettings:
    # How long an asynchronously processed upload (video, gifv, audio) stays "processing".
    # Real instances take seconds to minutes; one second keeps the 202→206→200 path
    # exercised without slowing tests down.
    processing_s: float = 1.0
    # Mastodon's defaults (config/initializers/rack_attack.rb): 300 API calls per token per
    # 5 minutes; 30 media uploads and 30 status deletions per account per 30 minutes.
    rate_limit: int = 300
    rate_period_s: int = 300
    media_rate_limit: int = 30
    media_rate_period_s: int = 1800
    delete_rate_limit: int = 30
    delete_rate_period_s: int = 1800
    # Mastodon keeps an Idempotency-Key for one hour (PostStatusService, redis setex 3600).
    idempotency_ttl_s: int = 3600
    max_characters: int = 500

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> EmulatorSettings:
        """Defaults, then EMULATOR_<FIELD> variables (e.g. EMULATOR_PROCESSING_S), then overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = env.get(f"EMULATOR_{item.name.upper()}")
            if raw is not None:
                values[item.name] = float(raw) if item.type == "float" else int(raw)
        return replace(cls(**values), **overrides)
