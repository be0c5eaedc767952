"""Image rules and generated placeholders, without a service: keys, URLs, limits, the polyglot
check, the placeholder recipes (deterministic, distinct) and their drawing."""

from __future__ import annotations

import pytest
from vanity_catalog.images.placeholder import (
    MOTIFS,
    Placeholder,
    name_colour,
    product_placeholder,
    render,
    shade_placeholder,
)
from vanity_catalog.images.rules import (
    ImageKey,
    UploadLimits,
    image_url,
    pixel_problems,
    public_url,
    stored_ref,
    trailing_data_problem,
)
from vanity_catalog.images.store import LocalFolderStore

from .images import jpeg_with_metadata, png, zip_archive

KEY = "0123456789abcdef0123456789abcdef-1200x800"


def test_keys_name_the_content_and_its_size():
    key = ImageKey.parse(KEY)
    assert key is not None and (key.width, key.height) == (1200, 800) and str(key) == KEY
    assert key.variant_height(480) == 320 and key.variant_height(160) == 107
    assert ImageKey.of(b"abc", 10, 20) == ImageKey.of(b"abc", 10, 20)
    assert ImageKey.of(b"abc", 10, 20) != ImageKey.of(b"abd", 10, 20)
    for bad in [
        KEY.upper(),
        KEY + "/",
        "0123456789abcdef-1200x800",  # too short a digest
        KEY.replace("1200x800", "0x800"),
        KEY.replace("1200x800", "20000x800"),  # no side over WebP's limit
        "../" + KEY,
        "",
    ]:
        assert ImageKey.parse(bad) is None, bad


def test_urls_round_trip_and_external_urls_pass_through():
    assert public_url(KEY) == f"/api/v1/images/{KEY}/480.webp" == image_url(KEY)
    assert stored_ref(public_url(KEY)) == KEY
    assert stored_ref(f"/api/v1/images/{KEY}/960.webp") == KEY  # any size we make
    for kept in [
        "https://cdn.example/a.jpg",
        f"/api/v1/images/{KEY}/300.webp",  # not a size of ours
        f"https://elsewhere.example/api/v1/images/{KEY}/480.webp",
        f"/api/v1/images/{KEY}/480.webp?x=1",
    ]:
        assert stored_ref(kept) == kept
    assert public_url("https://cdn.example/a.jpg") == "https://cdn.example/a.jpg"


def test_pixel_limits_are_checked_from_the_size_alone():
    limits = UploadLimits(max_bytes=1000, max_pixels=1_000_000)
    assert pixel_problems(limits, 1000, 1000) == []
    [problem] = pixel_problems(limits, 1001, 1000)
    assert problem.field == "file" and "1001x1000" in problem.message
    [problem] = pixel_problems(UploadLimits(1000, 10**9), 20000, 10)
    assert "16383" in problem.message


def test_an_image_followed_by_anything_else_is_a_polyglot():
    jpeg, image = jpeg_with_metadata(64, 48), png(40, 30)
    assert trailing_data_problem("JPEG", jpeg) is None
    assert trailing_data_problem("PNG", image) is None
    assert trailing_data_problem("JPEG", jpeg + zip_archive()).field == "file"
    assert trailing_data_problem("PNG", image + b"\n<script>") is not None
    webp = b"RIFF" + (12).to_bytes(4, "little") + b"WEBPVP8 \x00\x00\x00\x00"
    assert trailing_data_problem("WEBP", webp) is None
    assert trailing_data_problem("WEBP", webp + b"PK\x03\x04") is not None
    assert trailing_data_problem("GIF", b"GIF89a") is not None  # nothing else is known clean


def test_placeholders_are_deterministic_and_distinct():
    a = product_placeholder("velvet-lip", "Velvet Lip", "Atelier Rouge", None)
    assert a == product_placeholder("velvet-lip", "Velvet Lip", "Atelier Rouge", None)
    assert a.key == Placeholder.from_dict(a.as_dict()).key
    assert a.initial == "A" and a.motif in MOTIFS
    # what the category's products look like, another motif for each further picture
    lipstick = product_placeholder("velvet-lip", "Velvet Lip", "Atelier Rouge", None, 0, "lipstick")
    assert lipstick.motif == "lipstick"
    assert product_placeholder("c", "C", "B", None, 0, "night-cream").motif == "jar"
    assert product_placeholder("c", "C", "B", None, 0, "womens-eau-de-parfum").motif == "bottle"
    assert product_placeholder("c", "C", "B", None, 1, "night-cream").motif != "jar"
    # the web app's drawn art picks the same colour (web/src/lib/colour.test.ts pins these)
    assert name_colour("Hydrating Serum") == "#79c391"
    assert name_colour("Clay Mask") == "#7997c3"
    assert a.colour == name_colour("Velvet Lip")
    shaded = product_placeholder("velvet-lip", "Velvet Lip", "Atelier Rouge", "#A0312F")
    assert shaded.colour == "#a0312f"
    keys = {
        a.key,
        shaded.key,
        product_placeholder("velvet-lip", "Velvet Lip", "Atelier Rouge", None, index=1).key,
        product_placeholder("velvet-lips", "Velvet Lip", "Atelier Rouge", None).key,
        shade_placeholder("LIP-01", "Atelier Rouge", "#A0312F").key,
        shade_placeholder("LIP-02", "Atelier Rouge", "#A0312F").key,
        shade_placeholder("LIP-01", "Atelier Rouge", "#A0312E").key,
    }
    assert len(keys) == 7
    assert all((k.width, k.height) == (960, 960) for k in keys)


@pytest.mark.parametrize("motif", [*MOTIFS, "swatch"])
def test_every_motif_draws_at_every_size(motif):
    p = Placeholder(colour="#c379b5", initial="N", motif=motif, seed=12345)
    first = render(p, 160)
    assert first.size == (160, 160) and first.mode == "RGB"
    assert render(p, 160).tobytes() == first.tobytes()  # the same recipe, the same pixels
    assert len(first.getcolors(maxcolors=100_000) or []) > 50  # a picture, not a flat colour
    assert render(p, 480).size == (480, 480)


async def test_the_local_store_never_leaves_its_folder(tmp_path):
    store = LocalFolderStore(tmp_path / "images")
    await store.put(f"{KEY}/480.webp", b"x", "image/webp")
    assert await store.get(f"{KEY}/480.webp") == b"x"
    assert await store.get(f"{KEY}/160.webp") is None
    assert await store.exists(f"{KEY}/480.webp") and not await store.exists(KEY)
    for bad in ["../escape", "/etc/passwd", f"{KEY}/../../x", "A/b", "", "a//b"]:
        with pytest.raises(ValueError):
            await store.get(bad)
    assert [p.name for p in (tmp_path / "images" / KEY).iterdir()] == ["480.webp"]  # no temp left
