"""Product images through the API: admin uploads (checked, re-encoded, stored with their sizes,
attached), the public variants (long-lived caching, ETag), and the views' image URLs."""

from __future__ import annotations

import grpc
from sqlalchemy import select
from vanity.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from vanity_catalog.images.rules import SIZES, ImageKey, master_name, variant_name
from vanity_catalog.tables import products, variants

from .conftest import _start, small_catalog
from .images import (
    SECRET_ARTIST,
    SECRET_MAKE,
    decoded,
    flat_png,
    gif,
    jpeg_with_metadata,
    noisy_png,
    png,
    zip_archive,
)

CACHE_FOREVER = "public, max-age=31536000, immutable"


async def _product_id(catalog, slug: str) -> int:
    resp = await catalog.client.get(f"/api/v1/products/{slug}")
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def _path(pid: int) -> str:
    return f"/api/v1/admin/products/{pid}/images"


async def _upload(catalog, pid: int, content: bytes, content_type="image/jpeg", **kw):
    headers = {**catalog.admin, **({"Content-Type": content_type} if content_type else {})}
    return await catalog.client.post(_path(pid), content=content, headers=headers, **kw)


def _fields(resp) -> set[str]:
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.text
    return {e["field"] for e in resp.json().get("errors", [])}


def _key_of(url: str) -> ImageKey:
    key = ImageKey.parse(url.split("/")[4])
    assert key is not None, url
    return key


def _store(catalog):
    return catalog.app.state.container.images.store


async def _stored_objects(catalog) -> list[str]:
    root = _store(catalog).root
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# ---- upload -----------------------------------------------------------------------------------


async def test_upload_is_re_encoded_without_metadata_stored_in_every_size_and_attached(catalog):
    await catalog.load(small_catalog())
    pid = await _product_id(catalog, "ruby-matte")
    sent = jpeg_with_metadata(640, 480)
    assert SECRET_MAKE.encode() in sent and b"Exif" in sent  # the test's own premise

    resp = await _upload(catalog, pid, sent)
    assert resp.status_code == 201, resp.text
    url = resp.headers["location"]
    key = _key_of(url)
    assert url == f"/api/v1/images/{key}/480.webp"
    assert (key.width, key.height) == (640, 480)
    assert resp.json()["images"] == ["https://cdn.example/ruby-matte.jpg", url]

    store = _store(catalog)
    master = await store.get(master_name(key))
    assert master is not None and master != sent
    assert decoded(master).size == (640, 480)
    for size in SIZES:
        assert await store.exists(variant_name(key, size)), size
        served = await catalog.client.get(f"/api/v1/images/{key}/{size}.webp")
        assert served.status_code == 200
        assert served.headers["content-type"] == "image/webp"
        body = served.content
        assert body != sent
        for secret in (SECRET_MAKE.encode(), SECRET_ARTIST.encode(), b"Exif", b"ICC_PROFILE"):
            assert secret not in body, (size, secret)
        image = decoded(body)
        assert image.format == "WEBP" and image.size == (size, key.variant_height(size))
        assert not image.getexif() and not {"exif", "icc_profile", "xmp"} & set(image.info)

    # the public views name the image by its URL, the database by its key
    detail = (await catalog.client.get("/api/v1/products/ruby-matte")).json()
    assert detail["images"][-1] == url
    async with catalog.app.state.container.db.connect() as conn:
        stored = await conn.scalar(select(products.c.images).where(products.c.id == pid))
    assert stored == ["https://cdn.example/ruby-matte.jpg", str(key)]

    # the same picture again: the same key, stored once, listed once
    before = await _stored_objects(catalog)
    again = await _upload(catalog, pid, sent)
    assert again.status_code == 201 and again.headers["location"] == url
    assert again.json()["images"].count(url) == 1
    assert await _stored_objects(catalog) == before


async def test_upload_is_turned_upright_by_its_exif_orientation(sqlite_catalog):
    catalog = sqlite_catalog
    await catalog.load(small_catalog())
    pid = await _product_id(catalog, "retinol")
    # stored 640x480, "rotate 90° clockwise to display" (orientation 6): upright it is 480x640
    resp = await _upload(catalog, pid, jpeg_with_metadata(640, 480, orientation=6))
    assert resp.status_code == 201, resp.text
    key = _key_of(resp.headers["location"])
    assert (key.width, key.height) == (480, 640)
    served = await catalog.client.get(f"/api/v1/images/{key}/160.webp")
    assert decoded(served.content).size == (160, 213)


async def test_png_with_transparency_keeps_it(sqlite_catalog):
    catalog = sqlite_catalog
    await catalog.load(small_catalog())
    pid = await _product_id(catalog, "retinol")
    resp = await _upload(catalog, pid, png(300, 300, "RGBA"), content_type="image/png")
    assert resp.status_code == 201, resp.text
    key = _key_of(resp.headers["location"])
    image = decoded((await catalog.client.get(f"/api/v1/images/{key}/480.webp")).content)
    assert image.mode == "RGBA" and image.size == (480, 480)  # enlarged, never cropped


async def test_upload_sets_a_variants_image_and_the_price_source_reports_it(catalog):
    await catalog.load(small_catalog())
    pid = await _product_id(catalog, "vitamin-c")
    resp = await _upload(
        catalog, pid, png(400, 400), content_type="image/png", params={"sku": "VITAMIN-C-1"}
    )
    assert resp.status_code == 201, resp.text
    url = resp.headers["location"]
    by_sku = {v["sku"]: v for v in resp.json()["variants"]}
    assert by_sku["VITAMIN-C-1"]["image"] == url and by_sku["VITAMIN-C-0"]["image"] is None
    assert resp.json()["images"] == ["https://cdn.example/vitamin-c.jpg"]  # product's untouched

    detail = (await catalog.client.get("/api/v1/products/vitamin-c")).json()
    assert {v["sku"]: v["image"] for v in detail["variants"]}["VITAMIN-C-1"] == url

    channel = grpc.aio.insecure_channel(f"127.0.0.1:{catalog.app.state.grpc_port}")
    async with channel:
        stub = catalog_pb2_grpc.CatalogServiceStub(channel)
        answer = await stub.GetVariants(
            catalog_pb2.GetVariantsRequest(skus=["VITAMIN-C-1", "VITAMIN-C-0"])
        )
    urls = {v.sku: v.image_url for v in answer.variants}
    assert urls == {"VITAMIN-C-1": url, "VITAMIN-C-0": "https://cdn.example/vitamin-c.jpg"}

    unknown = await _upload(
        catalog, pid, png(64, 64), content_type="image/png", params={"sku": "RETINOL-0"}
    )
    assert unknown.status_code == 404 and _fields(unknown) == {"sku"}


async def test_images_are_reordered_and_removed_with_the_product_update(catalog):
    await catalog.load(small_catalog())
    pid = await _product_id(catalog, "hyaluronic")
    first = (await _upload(catalog, pid, png(200, 100), content_type="image/png")).headers[
        "location"
    ]
    second = (await _upload(catalog, pid, png(100, 200), content_type="image/png")).headers[
        "location"
    ]
    # admins send back the URLs they were shown, any size of them
    other_size = second.replace("/480.webp", "/960.webp")
    resp = await catalog.client.patch(
        f"/api/v1/admin/products/{pid}", json={"images": [other_size, first]}, headers=catalog.admin
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["images"] == [second, first]
    async with catalog.app.state.container.db.connect() as conn:
        stored = await conn.scalar(select(products.c.images).where(products.c.id == pid))
    assert stored == [str(_key_of(second)), str(_key_of(first))]
    resp = await catalog.client.patch(
        f"/api/v1/admin/products/{pid}", json={"images": [first]}, headers=catalog.admin
    )
    assert resp.json()["images"] == [first]
    listed = (await catalog.client.get("/api/v1/products", params={"q": "hyaluronic"})).json()
    assert listed["items"][0]["image"] == first


async def test_a_product_holds_at_most_twelve_images(sqlite_catalog):
    catalog = sqlite_catalog
    await catalog.load(small_catalog())
    pid = await _product_id(catalog, "retinol")
    full = [f"https://cdn.example/r{i}.jpg" for i in range(12)]
    await catalog.client.patch(
        f"/api/v1/admin/products/{pid}", json={"images": full}, headers=catalog.admin
    )
    resp = await _upload(catalog, pid, png(64, 64), content_type="image/png")
    assert resp.status_code == 409 and _fields(resp) == {"images"}
    assert resp.json()["reason"] == "TOO_MANY_IMAGES"


# ---- refused uploads ---------------------------------------------------------------------------


async def test_what_is_not_a_plain_image_is_refused_naming_the_field(sqlite_catalog):
    catalog = sqlite_catalog
    await catalog.load(small_catalog())
    pid = await _product_id(catalog, "retinol")
    jpeg = jpeg_with_metadata(120, 90)
    cases = [
        # (body, content type, status, field, reason)
        (b"<html><script>alert(1)</script></html>", "image/png", 422, "file", "IMAGE_UNREADABLE"),
        (b"%PDF-1.7\n" + b"0" * 500, "image/jpeg", 422, "file", "IMAGE_UNREADABLE"),
        (gif(), "image/png", 422, "file", "IMAGE_UNREADABLE"),  # a format we do not take
        (jpeg[: len(jpeg) // 2], "image/jpeg", 422, "file", "IMAGE_UNREADABLE"),  # cut short
        # polyglots: an image that is also an archive or a page
        (jpeg + zip_archive(), "image/jpeg", 422, "file", "IMAGE_TRAILING_DATA"),
        (
            png(50, 50) + b"<script>alert(1)</script>",
            "image/png",
            422,
            "file",
            "IMAGE_TRAILING_DATA",
        ),
        (jpeg, "image/png", 422, "file", "IMAGE_TYPE_MISMATCH"),
        (b"", "image/png", 422, "file", "IMAGE_REQUIRED"),
        (jpeg, "text/html", 415, "Content-Type", "UNSUPPORTED_MEDIA_TYPE"),
        (jpeg, "multipart/form-data; boundary=x", 415, "Content-Type", "UNSUPPORTED_MEDIA_TYPE"),
    ]
    for body, content_type, status, field, reason in cases:
        resp = await _upload(catalog, pid, body, content_type=content_type)
        assert resp.status_code == status, (reason, resp.text)
        assert _fields(resp) == {field}, reason
        assert resp.json()["reason"] == reason
    assert await _stored_objects(catalog) == []  # nothing of any of them was kept
    detail = (await catalog.client.get("/api/v1/products/retinol")).json()
    assert detail["images"] == ["https://cdn.example/retinol.jpg"]


async def test_too_large_and_too_many_pixels(sqlite_url, token_minter, tmp_path):
    async for catalog in _start(
        tmp_path, sqlite_url, token_minter, image_max_bytes=20_000, image_max_pixels=1_000_000
    ):
        await catalog.load(small_catalog())
        pid = await _product_id(catalog, "retinol")
        big = noisy_png(100, 100)
        assert len(big) > 20_000
        resp = await _upload(catalog, pid, big, content_type="image/png")
        assert resp.status_code == 413 and _fields(resp) == {"file"}, resp.text
        assert resp.json()["reason"] == "IMAGE_TOO_LARGE"

        async def chunked(data: bytes):  # no Content-Length: refused while reading
            for start in range(0, len(data), 4096):
                yield data[start : start + 4096]

        resp = await _upload(catalog, pid, chunked(big), content_type="image/png")
        assert resp.status_code == 413 and _fields(resp) == {"file"}

        bomb = flat_png(1500, 1000)  # 1.5 MP in a few kB
        assert len(bomb) < 20_000
        resp = await _upload(catalog, pid, bomb, content_type="image/png")
        assert resp.status_code == 422 and _fields(resp) == {"file"}, resp.text
        assert resp.json()["reason"] == "IMAGE_TOO_MANY_PIXELS"
        assert "1500x1000" in resp.json()["errors"][0]["message"]
        assert await _stored_objects(catalog) == []

        ok = await _upload(catalog, pid, flat_png(1000, 1000), content_type="image/png")
        assert ok.status_code == 201, ok.text


async def test_upload_needs_an_admin_with_catalog_permission(sqlite_catalog):
    catalog = sqlite_catalog
    await catalog.load(small_catalog())
    pid = await _product_id(catalog, "retinol")
    minter = catalog.minter
    body = png(64, 64)
    for headers, status in [
        ({}, 401),
        ({"Authorization": "Bearer not.a.jwt"}, 401),
        (catalog.customer, 403),
        (minter.headers(minter.admin(perms=("inventory",))), 403),
    ]:
        resp = await catalog.client.post(
            _path(pid), content=body, headers={**headers, "Content-Type": "image/png"}
        )
        assert resp.status_code == status, (headers, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
    assert await _stored_objects(catalog) == []
    missing = await _upload(catalog, 999_999, body, content_type="image/png")
    assert missing.status_code == 404 and missing.json()["reason"] == "PRODUCT_NOT_FOUND"


# ---- serving ----------------------------------------------------------------------------------


async def test_serving_caches_forever_and_revalidates_with_the_etag(sqlite_catalog):
    catalog = sqlite_catalog
    await catalog.load(small_catalog())
    pid = await _product_id(catalog, "retinol")
    url = (await _upload(catalog, pid, png(300, 200), content_type="image/png")).headers["location"]

    resp = await catalog.client.get(url)  # public: no token
    assert resp.status_code == 200
    assert resp.headers["cache-control"] == CACHE_FOREVER
    assert resp.headers["x-content-type-options"] == "nosniff"
    etag = resp.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')

    again = await catalog.client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["cache-control"] == CACHE_FOREVER
    listed = await catalog.client.get(url, headers={"If-None-Match": f'"other", {etag}'})
    assert listed.status_code == 304
    stale = await catalog.client.get(url, headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.content == resp.content

    head = await catalog.client.head(url)
    assert head.status_code == 200 and head.headers["etag"] == etag

    other_size = await catalog.client.get(url.replace("/480.webp", "/160.webp"))
    assert other_size.headers["etag"] != etag  # each size its own bytes, its own tag


async def test_unknown_images_and_sizes_are_404_problems(sqlite_catalog):
    catalog = sqlite_catalog
    await catalog.load(small_catalog())
    pid = await _product_id(catalog, "retinol")
    url = (await _upload(catalog, pid, png(300, 200), content_type="image/png")).headers["location"]
    key = url.split("/")[4]
    for path in [
        f"/api/v1/images/{'0' * 32}-300x200/480.webp",  # well-formed, never stored
        f"/api/v1/images/{key}/300.webp",  # not a size we make
        f"/api/v1/images/{key}/0480.webp",
        f"/api/v1/images/{key}/abc.webp",
        "/api/v1/images/not-a-key/480.webp",
        f"/api/v1/images/{key.upper()}/480.webp",
        "/api/v1/images/..%2F..%2Fetc%2Fpasswd/480.webp",
    ]:
        resp = await catalog.client.get(path)
        assert resp.status_code == 404, path
        assert resp.headers["content-type"].startswith("application/problem+json"), path
    assert (await catalog.client.get(f"/api/v1/images/{key}/master.webp")).status_code == 404


async def test_a_size_missing_from_the_store_is_made_again_from_the_master(sqlite_catalog):
    catalog = sqlite_catalog
    await catalog.load(small_catalog())
    pid = await _product_id(catalog, "retinol")
    url = (await _upload(catalog, pid, png(500, 250), content_type="image/png")).headers["location"]
    key = _key_of(url)
    path = _store(catalog).root / variant_name(key, 960)
    path.unlink()  # e.g. a size added after the upload
    resp = await catalog.client.get(url.replace("/480.webp", "/960.webp"))
    assert resp.status_code == 200 and decoded(resp.content).size == (960, 480)
    assert path.is_file()


async def test_variant_rows_without_image_keep_null(sqlite_catalog):
    catalog = sqlite_catalog
    await catalog.load(small_catalog())
    async with catalog.app.state.container.db.connect() as conn:
        images = {r.image for r in await conn.execute(select(variants.c.image))}
    assert images == {None}
    detail = (await catalog.client.get("/api/v1/products/ruby-matte")).json()
    assert all(v["image"] is None for v in detail["variants"])
