"""Settings handed to a child process (`herald worker`, `herald api`) as HERALD_* variables
come back unchanged from that process's Settings()."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from herald.settings import PlatformAppSettings, Settings

FIELDS = (
    "data_dir",
    "database_url",
    "secret_key",
    "temporal_address",
    "platform_concurrency",
    "platform_concurrency_overrides",
    "platform_allow_hosts",
    "platform_apps",
    "platforms_use_emulator",
    "mirror_poll_interval_s",
    "log_level",
)


def test_a_child_reads_back_the_same_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    parent = Settings(
        _env_file=None,
        data_dir=tmp_path / "data dir",
        database_url="postgresql+psycopg://postgres@127.0.0.1:5432/herald",
        secret_key=SecretStr("s3cret key"),
        temporal_address="127.0.0.1:7299",
        platform_concurrency=7,
        platform_concurrency_overrides={"tiktok": 2},
        platform_allow_hosts=["127.0.0.1:8300", "localhost:8123"],
        platform_apps={
            "x": PlatformAppSettings(
                api_url="http://x.test", client_id="abc", client_secret=SecretStr("app secret")
            )
        },
        platforms_use_emulator=True,
        mirror_poll_interval_s=0.5,
        log_level="WARNING",
    )
    env = parent.as_environment(*FIELDS)
    assert env["HERALD_SECRET_KEY"] == "s3cret key"
    assert env["HERALD_PLATFORMS_USE_EMULATOR"] == "true"
    assert "app secret" in env["HERALD_PLATFORM_APPS"]

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    child = Settings(_env_file=None)
    for name in FIELDS:
        assert getattr(child, name) == getattr(parent, name), name


def test_unset_settings_are_left_out() -> None:
    settings = Settings(_env_file=None, secret_key=None, database_url=None)
    assert settings.as_environment("secret_key", "database_url", "api_port") == {
        "HERALD_API_PORT": "8000"
    }


def test_a_name_that_is_not_a_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="emulator_prot"):
        Settings(_env_file=None).as_environment("emulator_port", "emulator_prot")
