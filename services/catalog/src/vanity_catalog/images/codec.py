"""Decoding, checking and re-encoding images with Pillow. CPU-bound and blocking: the use cases
run it in a worker thread (Pillow releases the GIL while it decodes, resizes and encodes).

An upload is decoded only as JPEG, PNG or WebP, its size is checked from the header before any
pixel is decoded, and what is kept is a new image made of its pixels alone: turned upright by
its EXIF orientation, converted to sRGB by its colour profile, then written as WebP without any
metadata (no EXIF, GPS, camera serial, XMP or ICC). The uploaded bytes are never stored.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from vanity_common.errors import FieldError, InvalidArgument

from vanity_catalog.images.rules import (
    SIZES,
    UPLOAD_FIELD,
    ImageKey,
    UploadLimits,
    pixel_problems,
    trailing_data_problem,
)

MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MASTER_QUALITY = 90
VARIANT_QUALITY = 82
_DECODERS = ("JPEG", "PNG", "WEBP")  # nothing else is even tried (no TIFF, SVG, PSD, ...)


@dataclass(frozen=True)
class Encoded:
    key: ImageKey
    master: bytes  # WebP
    variants: dict[int, bytes]  # width -> WebP


def _refuse(message: str, reason: str, detail: str) -> InvalidArgument:
    return InvalidArgument(message, reason=reason, errors=[FieldError(UPLOAD_FIELD, detail)])


def _open(data: bytes, limits: UploadLimits) -> Image.Image:
    with warnings.catch_warnings():
        # our own pixel limit (below) is lower than Pillow's warning threshold
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=_DECODERS)
        except Image.DecompressionBombError as exc:
            raise _refuse(
                "The image has too many pixels.", "IMAGE_TOO_MANY_PIXELS", str(exc)[:200]
            ) from exc
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise _refuse(
                "The file is not a JPEG, PNG or WebP image.",
                "IMAGE_UNREADABLE",
                "not a JPEG, PNG or WebP image",
            ) from exc
    if problems := pixel_problems(limits, *image.size):
        raise InvalidArgument(
            "The image has too many pixels.", reason="IMAGE_TOO_MANY_PIXELS", errors=problems
        )
    return image


def _format(image: Image.Image) -> str:
    # A multi-picture JPEG (MPO, some phone cameras) is a JPEG whose first picture we keep.
    return "JPEG" if image.format == "MPO" else str(image.format)


def _upright_srgb(image: Image.Image) -> Image.Image:
    """The pixels alone: orientation applied, sRGB, RGB(A); the metadata left behind."""
    image = ImageOps.exif_transpose(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    mode = "RGBA" if has_alpha else "RGB"
    profile = image.info.get("icc_profile")
    if profile and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        # an unreadable profile: the pixels are kept as they are
        with contextlib.suppress(ImageCms.PyCMSError, OSError, ValueError):
            image = ImageCms.profileToProfile(
                image,
                ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                ImageCms.createProfile("sRGB"),
                outputMode=mode if image.mode != "L" else "RGB",
            )
    clean = image.convert(mode)
    clean.info = {}  # nothing of the upload's metadata reaches the encoder
    return clean


def encode_webp(image: Image.Image, quality: int = VARIANT_QUALITY) -> bytes:
    out = io.BytesIO()
    image.save(out, "WEBP", quality=quality, method=4)
    return out.getvalue()


def resized(image: Image.Image, width: int, height: int) -> Image.Image:
    if image.size == (width, height):
        return image
    # reducing_gap: a fast integer reduction first, then Lanczos: same look, a fraction of the time
    return image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)


def variants_of(image: Image.Image, key: ImageKey, sizes=SIZES) -> dict[int, bytes]:
    """Every size, largest first, each resized from the smallest image already made that is at
    least as wide (never from an enlarged one)."""
    made: list[Image.Image] = []
    out: dict[int, bytes] = {}
    for size in sorted(sizes, reverse=True):
        source = min(
            (m for m in [*made, image] if m.width >= size), key=lambda m: m.width, default=image
        )
        variant = resized(source, size, key.variant_height(size))
        if variant.width <= image.width:
            made.append(variant)
        out[size] = encode_webp(variant)
    return out


def process_upload(data: bytes, limits: UploadLimits, declared_type: str | None) -> Encoded:
    """Check, decode and re-encode an upload; raises `InvalidArgument` naming the field."""
    image = _open(data, limits)
    image_format = _format(image)
    sent_as = (declared_type or "").split(";")[0].strip().lower()
    if sent_as in MEDIA_TYPES.values() and sent_as != MEDIA_TYPES[image_format]:
        raise _refuse(
            "The file is not what its Content-Type says.",
            "IMAGE_TYPE_MISMATCH",
            f"is a {image_format} image, sent as {sent_as}",
        )
    if getattr(image, "is_animated", False) and image_format != "JPEG":
        raise _refuse("Animated images are not supported.", "IMAGE_ANIMATED", "an animated image")
    try:
        image.load()  # bounded: the pixel count was checked above
        clean = _upright_srgb(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise _refuse(
            "The image is damaged or truncated.",
            "IMAGE_UNREADABLE",
            "the image data is damaged or truncated",
        ) from exc
    finally:
        image.close()
    # after decoding, so that a file cut short reads as truncated, not as one with extra data
    if problem := trailing_data_problem(image_format, data):
        raise InvalidArgument(
            "The file holds more than an image.", reason="IMAGE_TRAILING_DATA", errors=[problem]
        )
    master = encode_webp(clean, MASTER_QUALITY)
    key = ImageKey.of(master, clean.width, clean.height)
    return Encoded(key=key, master=master, variants=variants_of(clean, key))


def variant_from_master(master: bytes, key: ImageKey, size: int) -> bytes:
    """A size made later from the stored master (a size added after the upload)."""
    with Image.open(io.BytesIO(master), formats=("WEBP",)) as image:
        image.load()
        return encode_webp(resized(image, size, key.variant_height(size)))
