"""Test images, made with Pillow: a photo-like JPEG carrying metadata, PNGs, polyglots."""

from __future__ import annotations

import io

from PIL import Image, ImageCms, ImageDraw

SECRET_MAKE = "SecretCam 9000"
SECRET_ARTIST = "Jane Photographer, 1 Private Lane"


def picture(width: int, height: int) -> Image.Image:
    """Not a flat colour: gradients and shapes, as a product shot has."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse([width * 0.2, height * 0.2, width * 0.8, height * 0.8], fill=(190, 60, 90))
    draw.rectangle([width * 0.05, height * 0.05, width * 0.2, height * 0.3], fill=(30, 120, 60))
    return image


def jpeg_with_metadata(width: int = 640, height: int = 480, orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = SECRET_MAKE  # Make
    exif[0x013B] = SECRET_ARTIST  # Artist
    exif[0x0112] = orientation  # Orientation
    gps = exif.get_ifd(0x8825)  # GPSInfo
    gps[1], gps[2] = "N", (52.0, 22.0, 7.5)
    out = io.BytesIO()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    picture(width, height).save(out, "JPEG", quality=92, exif=exif, icc_profile=srgb)
    return out.getvalue()


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    image = picture(width, height)
    if mode == "RGBA":
        image.putalpha(Image.linear_gradient("L").resize((width, height)))
    image.save(out, "PNG")
    return out.getvalue()


def noisy_png(width: int, height: int, seed: int = 7) -> bytes:
    """Random pixels: a PNG that does not compress (a large file of few pixels)."""
    import random

    out = io.BytesIO()
    noise = random.Random(seed).randbytes(width * height * 3)
    Image.frombytes("RGB", (width, height), noise).save(out, "PNG")
    return out.getvalue()


def flat_png(width: int, height: int) -> bytes:
    """Many pixels in few bytes (a flat colour compresses to almost nothing)."""
    out = io.BytesIO()
    Image.new("L", (width, height), 128).save(out, "PNG", optimize=True)
    return out.getvalue()


def gif(width: int = 32, height: int = 32) -> bytes:
    out = io.BytesIO()
    Image.new("P", (width, height), 3).save(out, "GIF")
    return out.getvalue()


def zip_archive() -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("index.html", "<script>alert(document.cookie)</script>")
    return out.getvalue()


def decoded(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image
