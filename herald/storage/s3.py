"""S3-compatible media (AWS S3, MinIO, R2, ...): presigned PUT and GET URLs, boto3 off the loop."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from herald.storage.base import (
    READ_PIECE_BYTES,
    MediaStorage,
    ShortObject,
    UploadTarget,
    content_disposition,
    upload_key,
)


class S3Storage(MediaStorage):
    def __init__(self, bucket: str, endpoint_url: str | None, region: str) -> None:
        self._bucket = bucket
        # boto3 is blocking: every call below runs in a worker thread.
        self._client: Any = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    @staticmethod
    def _ttl(expires_at: datetime) -> int:
        return max(1, int((expires_at - datetime.now(UTC)).total_seconds()))

    async def check_bucket(self) -> None:
        """Raises unless the bucket exists and the credentials may use it."""
        await asyncio.to_thread(self._client.head_bucket, Bucket=self._bucket)

    async def ensure_bucket(self) -> None:
        try:
            await asyncio.to_thread(self._client.head_bucket, Bucket=self._bucket)
        except ClientError:
            await asyncio.to_thread(self._client.create_bucket, Bucket=self._bucket)

    async def upload_target(
        self, key: str, content_type: str, size: int, expires_at: datetime
    ) -> UploadTarget:
        url = await asyncio.to_thread(
            self._client.generate_presigned_url,
            "put_object",
            Params={"Bucket": self._bucket, "Key": upload_key(key), "ContentType": content_type},
            ExpiresIn=self._ttl(expires_at),
        )
        return UploadTarget(url=url, headers={"Content-Type": content_type})

    async def seal(self, key: str) -> None:
        staged = upload_key(key)
        if await self.size_of(staged) is None:
            return
        # A server-side copy: the bytes never pass through Herald.
        await asyncio.to_thread(
            self._client.copy_object,
            Bucket=self._bucket,
            Key=key,
            CopySource={"Bucket": self._bucket, "Key": staged},
        )
        await asyncio.to_thread(self._client.delete_object, Bucket=self._bucket, Key=staged)

    async def download_url(self, key: str, expires_at: datetime, content_type: str) -> str:
        # S3 overrides the stored headers with these; it cannot add nosniff to a presigned GET
        # (a bucket behind a CDN can), so the disposition carries the weight there.
        params = {
            "Bucket": self._bucket,
            "Key": key,
            "ResponseContentType": content_type,
            "ResponseContentDisposition": content_disposition(content_type),
        }
        url: str = await asyncio.to_thread(
            self._client.generate_presigned_url,
            "get_object",
            Params=params,
            ExpiresIn=self._ttl(expires_at),
        )
        return url

    async def size_of(self, key: str) -> int | None:
        try:
            head = await asyncio.to_thread(self._client.head_object, Bucket=self._bucket, Key=key)
        except ClientError:
            return None
        return int(head["ContentLength"])

    @contextlib.asynccontextmanager
    async def local_copy(self, key: str) -> AsyncIterator[Path]:
        with tempfile.TemporaryDirectory(prefix="herald-media-") as folder:
            path = Path(folder) / "object"
            await asyncio.to_thread(self._client.download_file, self._bucket, key, str(path))
            yield path

    async def chunks(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        if end is not None and end <= start:
            return
        request: dict[str, Any] = {"Bucket": self._bucket, "Key": key}
        if start or end is not None:
            # One ranged GET whose body is read as it is consumed (StreamingBody), not one
            # request per piece.
            request["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            response = await asyncio.to_thread(self._client.get_object, **request)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "InvalidRange":
                raise ShortObject(f"{key} ends before byte {start}") from err
            raise
        body = response["Body"]
        pieces = body.iter_chunks(READ_PIECE_BYTES)
        position = start
        try:
            while (piece := await asyncio.to_thread(next, pieces, b"")) != b"":
                position += len(piece)
                yield piece
        finally:
            body.close()
        if end is not None and position < end:
            raise ShortObject(f"{key} ends at byte {position}, before byte {end}")

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        await asyncio.to_thread(
            self._client.upload_file,
            str(path),
            self._bucket,
            key,
            ExtraArgs={"ContentType": content_type},
        )

    async def delete(self, key: str) -> None:
        for each in (key, upload_key(key)):
            await asyncio.to_thread(self._client.delete_object, Bucket=self._bucket, Key=each)
