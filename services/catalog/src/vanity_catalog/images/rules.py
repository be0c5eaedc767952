"""Product image rules: keys, served sizes, public URLs and upload limits. Pure: no I/O, no Pillow.

An image is stored once under a content-addressed key, `<digest>-<width>x<height>`: the first 128
bits of the SHA-256 of its re-encoded master (or of a placeholder's recipe) and the master's
pixel size, so a client can reserve the right box before the image arrives. Objects under a key:

    <key>/master.webp        an upload, decoded, checked and re-encoded (never the uploaded bytes)
    <key>/<size>.webp        the served variants, `size` px wide
    placeholders.json        the recipes of the generated placeholders, by key (one object: the
                             seeder writes it once, not one object per picture)

The API names an image by the URL of its 480 px variant (`/api/v1/images/<key>/480.webp`); the
other sizes are the same path with 160 or 960. Products may also hold external URLs
(`https://...`), which are passed through unchanged.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from vanity_common.errors import FieldError

SIZES = (160, 480, 960)  # widths of the served variants: thumbnails, cards, the product page
DEFAULT_SIZE = 480  # the variant the API's plain URL fields name
URL_BASE = "/api/v1/images"  # gateway-relative: the same origin as the web app and the API
CACHE_CONTROL = "public, max-age=31536000, immutable"  # a key's content never changes

MAX_SIDE = 16383  # WebP cannot hold a longer side
UPLOAD_FIELD = "file"  # how problems name the uploaded image (the request body)

_KEY_RE = re.compile(r"^(?P<digest>[0-9a-f]{32})-(?P<w>[1-9][0-9]{0,4})x(?P<h>[1-9][0-9]{0,4})$")
_URL_RE = re.compile(
    "^"
    + re.escape(URL_BASE)
    + r"/(?P<key>[0-9a-f]{32}-[0-9]{1,5}x[0-9]{1,5})/(?P<size>[0-9]+)\.webp$"
)


@dataclass(frozen=True)
class ImageKey:
    digest: str
    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.digest}-{self.width}x{self.height}"

    @staticmethod
    def of(content: bytes, width: int, height: int) -> ImageKey:
        return ImageKey(hashlib.sha256(content).hexdigest()[:32], width, height)

    @staticmethod
    def parse(text: str) -> ImageKey | None:
        match = _KEY_RE.match(text)
        if match is None:
            return None
        width, height = int(match["w"]), int(match["h"])
        if width > MAX_SIDE or height > MAX_SIDE:
            return None
        return ImageKey(match["digest"], width, height)

    def variant_height(self, width: int) -> int:
        """A variant keeps the master's proportions."""
        return max(1, round(self.height * width / self.width))


def master_name(key: ImageKey) -> str:
    return f"{key}/master.webp"


PLACEHOLDERS = "placeholders.json"


def variant_name(key: ImageKey, size: int) -> str:
    return f"{key}/{size}.webp"


def image_url(key: ImageKey | str, size: int = DEFAULT_SIZE) -> str:
    return f"{URL_BASE}/{key}/{size}.webp"


def public_url(ref: str) -> str:
    """What a product's stored image reference looks like to clients: a stored image's key
    becomes its URL; an external URL is passed through."""
    key = ImageKey.parse(ref)
    return image_url(key) if key is not None else ref


def stored_ref(url: str) -> str:
    """The reverse of `public_url` for what admins send back (an edited `images` list): one of
    our image URLs, whatever its size, is stored as its key; anything else as sent."""
    match = _URL_RE.match(url)
    if match and int(match["size"]) in SIZES and (key := ImageKey.parse(match["key"])):
        return str(key)
    return url


# ---- uploads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    max_pixels: int


def byte_size_problem(limits: UploadLimits, size: int) -> FieldError | None:
    if size > limits.max_bytes:
        return FieldError(UPLOAD_FIELD, f"at most {_megabytes(limits.max_bytes)}")
    return None


def pixel_problems(limits: UploadLimits, width: int, height: int) -> list[FieldError]:
    """Checked from the header, before the pixels are decoded (a small file can hold a huge
    image: a decompression bomb)."""
    if width * height > limits.max_pixels:
        return [
            FieldError(
                UPLOAD_FIELD,
                f"{width}x{height} px is more than {limits.max_pixels:,} pixels",
            )
        ]
    if max(width, height) > MAX_SIDE:
        return [FieldError(UPLOAD_FIELD, f"sides of at most {MAX_SIDE} px")]
    return []


_PNG_END = b"IEND\xaeB`\x82"  # the IEND chunk's type and CRC: the last bytes of every PNG


def trailing_data_problem(image_format: str, data: bytes) -> FieldError | None:
    """An image followed by something else (a ZIP, a script, a video) is a polyglot: other
    programs may read the file as that something else. We never serve uploaded bytes, but such
    a file is refused rather than silently cut, so its sender learns what was wrong."""
    if image_format == "PNG":
        clean = data.endswith(_PNG_END)
    elif image_format == "WEBP":  # RIFF: the header states the length of what follows it
        declared = int.from_bytes(data[4:8], "little")
        clean = data[:4] == b"RIFF" and 8 + declared + (declared & 1) == len(data)
    elif image_format == "JPEG":
        clean = data.endswith(b"\xff\xd9")  # EOI marker
    else:
        clean = False
    if clean:
        return None
    return FieldError(UPLOAD_FIELD, "has data after the end of the image (send a plain image)")


def _megabytes(size: int) -> str:
    return f"{size / 1048576:g} MB" if size >= 1048576 else f"{size:,} bytes"
