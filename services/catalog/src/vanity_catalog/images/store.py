"""The object-storage port for product images, and its two adapters.

`ImageStore` is what the use cases see: named blobs (`<key>/<file>`, images/rules.py) put,
read and checked for. `LocalFolderStore` keeps them in a folder (development, tests, one
machine); `S3Store` in an S3-compatible bucket through boto3, with bucket versioning on, so an
overwritten or deleted object can be recovered (the overview's object storage). Both are
blocking underneath and run their I/O in worker threads.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

from vanity_catalog.images.rules import CACHE_CONTROL
from vanity_catalog.images.settings import ImageSettings

_NAME_RE = re.compile(r"^[0-9a-z][0-9a-z._-]*(?:/[0-9a-z][0-9a-z._-]*)*$")


def _checked(name: str) -> str:
    """Names are made by the use cases, never taken from a request as they are; still, nothing
    that could leave the store's root (`..`, absolute paths) is ever used."""
    if not _NAME_RE.match(name) or ".." in name or len(name) > 200:
        raise ValueError(f"not an image object name: {name!r}")
    return name


class ImageStore(Protocol):
    kind: str  # "local" | "s3", for logs and readiness

    async def put(self, name: str, content: bytes, content_type: str) -> None: ...

    async def get(self, name: str) -> bytes | None:
        """The object's bytes, or None when there is none."""
        ...

    async def exists(self, name: str) -> bool: ...

    async def setup(self) -> None:
        """Create what the store needs (folder; bucket, versioning on). Idempotent."""
        ...

    async def ping(self) -> None:
        """Raise when the store cannot be reached (readiness)."""
        ...

    async def close(self) -> None: ...


class LocalFolderStore:
    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        return self.root / _checked(name)

    def _write(self, path: Path, content: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # a reader sees the old file or the whole new one, never half of it
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    async def put(self, name: str, content: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, self._path(name), content)

    async def get(self, name: str) -> bytes | None:
        return await asyncio.to_thread(self._read, self._path(name))

    async def exists(self, name: str) -> bool:
        return await asyncio.to_thread(self._path(name).is_file)

    async def setup(self) -> None:
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)

    async def ping(self) -> None:
        await self.setup()
        if not os.access(self.root, os.W_OK):
            raise PermissionError(f"{self.root} is not writable")

    async def close(self) -> None:
        return None


class S3Store:
    kind = "s3"

    def __init__(self, client: Any, bucket: str, *, prefix: str = "", region: str | None = None):
        self.client = client  # a boto3 S3 client (thread-safe)
        self.bucket = bucket
        self.prefix = prefix
        self.region = region

    @classmethod
    def from_settings(cls, settings: ImageSettings) -> S3Store:
        import boto3  # only a service configured for S3 pays for the import
        from botocore.config import Config

        def secret(value) -> str | None:
            return value.get_secret_value() if value is not None else None

        client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.images_s3_endpoint_url,
            region_name=settings.images_s3_region,
            aws_access_key_id=secret(settings.images_s3_access_key_id),
            aws_secret_access_key=secret(settings.images_s3_secret_access_key),
            config=Config(
                connect_timeout=2,
                read_timeout=10,
                retries={"mode": "standard", "max_attempts": 3},
                max_pool_connections=32,
                # path-style URLs: what MinIO and local fakes expect without DNS tricks
                s3={"addressing_style": "path" if settings.images_s3_endpoint_url else "auto"},
            ),
        )
        return cls(
            client,
            settings.images_s3_bucket,
            prefix=settings.images_s3_prefix,
            region=settings.images_s3_region,
        )

    def _key(self, name: str) -> str:
        return self.prefix + _checked(name)

    @staticmethod
    def _missing(exc: Exception) -> bool:
        error = getattr(exc, "response", {}).get("Error", {})
        return str(error.get("Code")) in ("NoSuchKey", "404", "NotFound", "NoSuchBucket")

    async def put(self, name: str, content: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.bucket,
            Key=self._key(name),
            Body=content,
            ContentType=content_type,
            CacheControl=CACHE_CONTROL,  # for a CDN that serves the bucket directly
        )

    def _get(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if self._missing(exc):
                return None
            raise
        with response["Body"] as body:
            return body.read()

    async def get(self, name: str) -> bytes | None:
        return await asyncio.to_thread(self._get, self._key(name))

    def _exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if self._missing(exc):
                return False
            raise
        return True

    async def exists(self, name: str) -> bool:
        return await asyncio.to_thread(self._exists, self._key(name))

    def _setup(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if not self._missing(exc):
                raise
            options: dict[str, Any] = {}
            if self.region and self.region != "us-east-1":  # AWS refuses the default region here
                options["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            self.client.create_bucket(Bucket=self.bucket, **options)
        self.client.put_bucket_versioning(
            Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
        )

    async def setup(self) -> None:
        await asyncio.to_thread(self._setup)

    async def versioning(self) -> str | None:
        """The bucket's versioning status ("Enabled", "Suspended"; None: never turned on)."""
        answer = await asyncio.to_thread(self.client.get_bucket_versioning, Bucket=self.bucket)
        return answer.get("Status")

    async def ping(self) -> None:
        await asyncio.to_thread(self.client.head_bucket, Bucket=self.bucket)

    async def close(self) -> None:
        await asyncio.to_thread(self.client.close)


def store_from_settings(settings: ImageSettings) -> ImageStore:
    if settings.image_store == "s3":
        return S3Store.from_settings(settings)
    assert settings.images_dir is not None  # set by ImageSettings.model_post_init
    return LocalFolderStore(settings.images_dir)


def setup_command(settings: ImageSettings, args: list[str]) -> int:
    """`python -m vanity_catalog images-setup`: the folder, or the bucket with versioning on
    (run at deploy time, like `migrate`: the serving processes need no right to create it)."""

    async def run() -> str:
        store = store_from_settings(settings)
        try:
            await store.setup()
            if isinstance(store, S3Store):
                return f"bucket {store.bucket}: versioning {await store.versioning()}"
            return f"folder {settings.images_dir}"
        finally:
            await store.close()

    print(asyncio.run(run()))
    return 0
