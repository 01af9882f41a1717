"""Builds the configured storage backend."""

from __future__ import annotations

from herald.crypto import load_or_create_secret_key
from herald.settings import Settings
from herald.storage.base import MediaStorage
from herald.storage.local import LocalStorage
from herald.storage.signing import UrlSigner


def build_storage(settings: Settings) -> MediaStorage:
    if settings.media_backend == "s3":
        # Only here: boto3 is 9 MB of every process's memory, and the embedded default does
        # without it.
        from herald.storage.s3 import S3Storage

        return S3Storage(settings.s3_bucket, settings.s3_endpoint_url, settings.s3_region)
    root = settings.resolved_media_dir
    root.mkdir(parents=True, exist_ok=True)
    return LocalStorage(root, settings.api_url, UrlSigner(load_or_create_secret_key(settings)))
