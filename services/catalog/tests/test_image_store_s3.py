"""The S3 adapter against moto's S3-compatible server (a real HTTP endpoint, boto3 unmocked):
bucket set-up with versioning on, put/get/exists, versions kept, and the catalog serving and
storing uploads through it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer
from vanity_catalog.images.rules import ImageKey, master_name, variant_name
from vanity_catalog.images.store import S3Store, setup_command, store_from_settings
from vanity_catalog.settings import CatalogSettings

from .conftest import _start, small_catalog
from .images import decoded, png

NAME = "0123456789abcdef0123456789abcdef-10x10/480.webp"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _s3_settings(endpoint: str, tmp_path, **over) -> dict:
    return {
        "image_store": "s3",
        "images_s3_endpoint_url": endpoint,
        "images_s3_bucket": f"vanity-test-{uuid.uuid4().hex[:12]}",
        "images_s3_region": "eu-west-1",
        # moto takes any credentials; these only keep boto3 from looking for real ones
        "images_s3_access_key_id": "test-key-id",
        "images_s3_secret_access_key": "test-secret",
        "data_dir": tmp_path,
        **over,
    }


def _raw_client(settings: CatalogSettings):
    return boto3.client(
        "s3",
        endpoint_url=settings.images_s3_endpoint_url,
        region_name=settings.images_s3_region,
        aws_access_key_id="test-key-id",
        aws_secret_access_key="test-secret",
    )


async def test_setup_creates_the_bucket_with_versioning_and_objects_round_trip(
    s3_endpoint, tmp_path
):
    settings = CatalogSettings(**_s3_settings(s3_endpoint, tmp_path))
    store = store_from_settings(settings)
    assert isinstance(store, S3Store)
    try:
        with pytest.raises(Exception):  # noqa: B017 - botocore's ClientError: no bucket yet
            await store.ping()
        await store.setup()
        await store.setup()  # idempotent
        assert await store.versioning() == "Enabled"
        await store.ping()

        assert await store.get(NAME) is None and not await store.exists(NAME)
        await store.put(NAME, b"first", "image/webp")
        await store.put(NAME, b"second", "image/webp")
        assert await store.get(NAME) == b"second" and await store.exists(NAME)

        raw = _raw_client(settings)
        key = "images/" + NAME  # IMAGES_S3_PREFIX
        head = raw.head_object(Bucket=settings.images_s3_bucket, Key=key)
        assert head["ContentType"] == "image/webp"
        assert head["CacheControl"] == "public, max-age=31536000, immutable"
        versions = raw.list_object_versions(Bucket=settings.images_s3_bucket, Prefix=key)
        kept = sorted(
            raw.get_object(Bucket=settings.images_s3_bucket, Key=key, VersionId=v["VersionId"])[
                "Body"
            ].read()
            for v in versions["Versions"]
        )
        assert kept == [b"first", b"second"]  # the overwritten one can be recovered
        with pytest.raises(ValueError):
            await store.get("../outside")
    finally:
        await store.close()


def test_the_setup_command_reports_versioning(s3_endpoint, tmp_path, capsys):
    settings = CatalogSettings(**_s3_settings(s3_endpoint, tmp_path))
    assert setup_command(settings, []) == 0
    printed = capsys.readouterr().out.strip().splitlines()  # after any log lines
    assert printed[-1] == f"bucket {settings.images_s3_bucket}: versioning Enabled"


async def test_the_catalog_stores_and_serves_uploads_through_s3(
    s3_endpoint, sqlite_url, token_minter, tmp_path
):
    options = _s3_settings(s3_endpoint, tmp_path / "data")
    settings = CatalogSettings(**options)
    bucket = store_from_settings(settings)  # what `images-setup` does at deploy time
    await bucket.setup()
    await bucket.close()
    async for catalog in _start(tmp_path, sqlite_url, token_minter, **options):
        await catalog.load(small_catalog())
        pid = (await catalog.client.get("/api/v1/products/retinol")).json()["id"]
        resp = await catalog.client.post(
            f"/api/v1/admin/products/{pid}/images",
            content=png(320, 240),
            headers={**catalog.admin, "Content-Type": "image/png"},
        )
        assert resp.status_code == 201, resp.text
        url = resp.headers["location"]
        key = url.split("/")[4]
        raw = _raw_client(settings)
        listed = raw.list_objects_v2(Bucket=settings.images_s3_bucket, Prefix=f"images/{key}/")
        names = sorted(o["Key"].rsplit("/", 1)[1] for o in listed["Contents"])
        assert names == ["160.webp", "480.webp", "960.webp", "master.webp"]
        served = await catalog.client.get(url)
        assert served.status_code == 200
        body = raw.get_object(Bucket=settings.images_s3_bucket, Key=f"images/{key}/480.webp")
        assert served.content == body["Body"].read()
        assert decoded(served.content).size == (480, 360)
        store = catalog.app.state.container.images.store
        assert isinstance(store, S3Store)
        assert not (tmp_path / "data" / "images").exists()  # nothing went to the local folder
        parsed = ImageKey.parse(key)
        assert await store.exists(master_name(parsed))
        assert await store.get(variant_name(parsed, 160)) is not None
