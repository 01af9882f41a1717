"""Platform settings from the environment: per-platform concurrency caps, and where each
platform's API and OAuth app are (production, the emulator, or explicit values field by field)."""

from __future__ import annotations

import pytest

from emulator.oauth import CLIENT_ID as EMULATOR_CLIENT_ID
from herald.adapters import resolve_app
from herald.dev import with_emulator_apps
from herald.settings import Settings
from platforms.registry import ADAPTERS


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(f"HERALD_{name.upper()}", value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_per_platform_caps_replace_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(
        monkeypatch, platform_concurrency="7", platform_concurrency_overrides='{"tiktok": 2}'
    )
    assert settings.concurrency_of("tiktok") == 2
    assert settings.concurrency_of("x") == 7


def test_production_urls_unless_the_emulator_or_explicit_values_say_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = ADAPTERS["x"]
    production = resolve_app(_settings(monkeypatch), "x", spec)
    assert production.api_url == "https://api.x.com" and production.client_id is None

    emulated = resolve_app(
        with_emulator_apps(
            _settings(monkeypatch, platforms_use_emulator="true", emulator_port="9911")
        ),
        "x",
        spec,
    )
    assert emulated.api_url.startswith("http://127.0.0.1:9911/x")
    assert emulated.client_id == EMULATOR_CLIENT_ID

    explicit = resolve_app(
        with_emulator_apps(
            _settings(
                monkeypatch,
                platforms_use_emulator="false",
                platform_apps='{"x": {"client_id": "mine", "client_secret": "s3cret"}}',
            )
        ),
        "x",
        spec,
    )
    assert (explicit.api_url, explicit.client_id, explicit.client_secret) == (
        "https://api.x.com",
        "mine",
        "s3cret",
    )
    assert explicit.authorize_url == production.authorize_url


def test_an_unknown_field_in_a_platform_app_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="client_idd"):
        _settings(monkeypatch, platform_apps='{"x": {"client_idd": "typo"}}')
