"""Where `herald-client login` keeps the caller's credentials: `config.json` in the user's
config dir (platformdirs; HERALD_CLIENT_CONFIG_DIR overrides it), readable by its owner only."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

from herald_client.errors import HeraldAPIError

REFRESH_MARGIN_S = 60  # a user's access token this close to expiring is renewed first


@dataclass
class Credentials:
    url: str
    api_key: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    access_expires_at: float | None = None  # epoch seconds
    workspace_id: str | None = None

    @property
    def token(self) -> str | None:
        return self.api_key or self.access_token

    @property
    def needs_refresh(self) -> bool:
        return (
            self.api_key is None
            and self.refresh_token is not None
            and self.access_expires_at is not None
            and self.access_expires_at - REFRESH_MARGIN_S < time.time()
        )


def config_dir() -> Path:
    override = os.environ.get("HERALD_CLIENT_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir("herald-client"))


def config_path() -> Path:
    return config_dir() / "config.json"


def save(credentials: Credentials) -> Path:
    """Written 0600 from its first byte (never world-readable, not even for a moment)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_suffix(".tmp")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump({k: v for k, v in asdict(credentials).items() if v is not None}, out)
    os.chmod(temp, 0o600)
    os.replace(temp, path)
    return path


def load() -> Credentials | None:
    """The stored credentials, with HERALD_URL and HERALD_API_KEY from the environment
    winning (so scripts and CI need no login)."""
    stored: dict[str, object] = {}
    path = config_path()
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except ValueError as error:
            raise HeraldAPIError("INVALID_CONFIG", f"{path}: {error}") from error
    env_key = os.environ.get("HERALD_API_KEY")
    env_url = os.environ.get("HERALD_URL")
    if env_key:
        return Credentials(url=env_url or str(stored.get("url") or DEFAULT_URL), api_key=env_key)
    if not stored:
        return None
    credentials = Credentials(**{k: v for k, v in stored.items() if k in FIELDS})  # type: ignore[arg-type]
    if env_url:
        credentials.url = env_url
    return credentials


def forget() -> bool:
    path = config_path()
    if path.exists():
        path.unlink()
        return True
    return False


DEFAULT_URL = "http://127.0.0.1:8000"
FIELDS = frozenset(Credentials.__dataclass_fields__)
