"""Encryption of platform credentials at rest, and digests of API keys."""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet

from herald.settings import Settings
from platforms.base import AccountContext

if TYPE_CHECKING:
    from herald.db.models import SocialAccount


def load_or_create_secret_key(settings: Settings) -> bytes:
    """The configured key, or one generated once into data_dir (embedded default)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path: Path = settings.data_dir / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Fernet.generate_key())
        path.chmod(0o600)
    return path.read_bytes().strip()


class CredentialCipher:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, credentials: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(credentials).encode()).decode()

    def decrypt(self, token: str) -> dict[str, Any]:
        value = json.loads(self._fernet.decrypt(token.encode()))
        assert isinstance(value, dict)
        return value

    def context_of(self, account: SocialAccount) -> AccountContext:
        """What an adapter needs to act as this account, secrets decrypted."""
        return AccountContext(
            account_id=str(account.id),
            username=account.username,
            platform_account_id=account.platform_account_id,
            credentials=self.decrypt(account.credentials_encrypted),
            settings=account.settings,
        )


API_KEY_PREFIX = "hk_"


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def api_key_digest(key: str) -> str:
    # API keys carry 256 bits of entropy, so a fast digest is enough and keeps lookup indexed.
    return hashlib.sha256(key.encode()).hexdigest()


REFRESH_TOKEN_PREFIX = "hrt_"
INVITATION_TOKEN_PREFIX = "hinv_"


def new_secret_token(prefix: str) -> str:
    """An opaque bearer token (256 bits); only `token_digest` of it is stored."""
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    # The same reasoning as API keys: random 256-bit secrets need no slow hash.
    return hashlib.sha256(token.encode()).hexdigest()
