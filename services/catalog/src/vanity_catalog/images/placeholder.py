"""Generated demo art: one soft, distinct picture per product and per shade, drawn offline.

A placeholder is stored as its recipe (colour, brand initial, motif, a composition seed): all
of the demo's recipes in one small object written when the demo catalog is seeded, so seeding
stays quick. Its pixels are drawn from the recipe the first time a size is asked for, then
stored like any other variant. The key is the hash of the recipe: the same product and shade
always get the same key.

Colours follow the web app's drawn art (web/src/lib/colour.ts): the shade itself, or for a
product without one a soft hue derived from its name (FNV-1a), tinted towards white.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import orjson
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from vanity_catalog.images.rules import ImageKey

SIDE = 960  # the master size placeholders claim (they are drawn at each served width)
VERSION = 1  # bump when the drawing changes: new keys, so no cache keeps the old art
MOTIFS = ("bottle", "lipstick", "jar", "compact")  # products; shades get a "swatch"
_SUPERSAMPLE = 2  # drawn twice as large, then reduced: smooth edges from ImageDraw
_PLUM = (61, 43, 61)
_CREAM = (246, 239, 233)

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Placeholder:
    colour: str  # "#rrggbb"
    initial: str  # the brand's initial, shown on the label
    motif: str
    seed: int  # varies light and proportions: two products of one colour still differ
    version: int = VERSION

    def as_dict(self) -> dict[str, Any]:
        # by hand: dataclasses.asdict deep-copies, a third of the seeder's time
        return {
            "colour": self.colour,
            "initial": self.initial,
            "motif": self.motif,
            "seed": self.seed,
            "version": self.version,
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.as_dict(), option=orjson.OPT_SORT_KEYS)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Placeholder:
        return Placeholder(
            colour=str(data["colour"]),
            initial=str(data["initial"])[:1],
            motif=str(data["motif"]),
            seed=int(data["seed"]),
            version=int(data.get("version", VERSION)),
        )

    @cached_property
    def key(self) -> ImageKey:
        return ImageKey.of(self.to_json(), SIDE, SIDE)


# ---- recipes ---------------------------------------------------------------------------------


def fnv1a(text: str) -> int:
    """The web app's hash (colour.ts hashString), so both arts agree on a product's colour."""
    h = 2166136261
    for ch in text.encode("utf-16-le")[::2]:  # charCodeAt for the BMP, as the web app does
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h


def _hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _parse_hex(value: str | None) -> RGB | None:
    if not value or len(value) != 7 or value[0] != "#":
        return None
    try:
        n = int(value[1:], 16)
    except ValueError:
        return None
    return (n >> 16) & 255, (n >> 8) & 255, n & 255


def name_colour(name: str) -> str:
    """colour.ts productColour without a shade: hsl(hash % 360, 38%, 62%)."""
    hue = fnv1a(name) % 360
    r, g, b = colorsys.hls_to_rgb(hue / 360, 0.62, 0.38)
    return _hex((round(r * 255), round(g * 255), round(b * 255)))


def _initial(brand: str) -> str:
    return next((c.upper() for c in brand if c.isalnum()), "V")


# What a category's products look like, by a word of its slug (first match wins).
_CATEGORY_MOTIFS = (
    ("lip", "lipstick"), ("mascara", "lipstick"), ("liner", "lipstick"), ("brow", "lipstick"),
    ("concealer", "lipstick"), ("cream", "jar"), ("mask", "jar"), ("exfoliator", "jar"),
    ("blush", "compact"), ("highlighter", "compact"), ("powder", "compact"),
    ("eyeshadow", "compact"), ("oil", "bottle"), ("serum", "bottle"), ("foundation", "bottle"),
    ("cleanser", "bottle"), ("water", "bottle"), ("shampoo", "bottle"), ("conditioner", "bottle"),
    ("spray", "bottle"), ("mist", "bottle"), ("parfum", "bottle"), ("toilette", "bottle"),
    ("aftershave", "bottle"), ("spf", "bottle"),
)  # fmt: skip


def _motif_for(category: str, slug: str) -> str:
    for word, motif in _CATEGORY_MOTIFS:
        if word in category:
            return motif
    return MOTIFS[fnv1a(slug) % len(MOTIFS)]  # brushes, tools...: one of them, by the product


def product_placeholder(
    slug: str, name: str, brand: str, shade_hex: str | None, index: int = 0, category: str = ""
) -> Placeholder:
    """The `index`-th picture of a product: its first shade's colour (else one from its name),
    what its category looks like (a lipstick, a jar...), another motif for each further one."""
    colour = _hex(_parse_hex(shade_hex)) if _parse_hex(shade_hex) else name_colour(name)
    first = MOTIFS.index(_motif_for(category, slug))
    motif = MOTIFS[(first + index) % len(MOTIFS)]
    seed = fnv1a(f"{slug}#{index}")
    return Placeholder(colour=colour, initial=_initial(brand), motif=motif, seed=seed)


def shade_placeholder(sku: str, brand: str, shade_hex: str) -> Placeholder:
    rgb = _parse_hex(shade_hex) or (160, 120, 120)
    return Placeholder(colour=_hex(rgb), initial=_initial(brand), motif="swatch", seed=fnv1a(sku))


# ---- drawing ---------------------------------------------------------------------------------


def _mix(rgb: RGB, target: RGB, amount: float) -> RGB:
    return tuple(round(c + (t - c) * amount) for c, t in zip(rgb, target, strict=True))  # type: ignore[return-value]


def _luminance(rgb: RGB) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)  # Pillow's bundled font: nothing to download


def _background(d: int, colour: RGB, seed: int) -> Image.Image:
    top = Image.new("RGB", (d, d), _mix(colour, (255, 255, 255), 0.88))
    bottom = Image.new("RGB", (d, d), _mix(colour, (255, 255, 255), 0.66))
    canvas = Image.composite(bottom, top, Image.linear_gradient("L").resize((d, d)))
    # a soft light, placed by the seed
    glow = Image.eval(Image.radial_gradient("L"), lambda v: max(0, 255 - v * 2) * 0.45)
    size = int(d * (0.9 + (seed % 5) * 0.08))
    x = int(d * (0.15 + (seed >> 3) % 7 * 0.1)) - size // 2
    y = int(d * (0.12 + (seed >> 6) % 4 * 0.06)) - size // 2
    light = Image.new("L", (d, d), 0)
    light.paste(glow.resize((size, size)), (x, y))
    canvas.paste((255, 255, 255), (0, 0), light)
    return canvas


def _shadow(canvas: Image.Image, box: tuple[float, float, float, float], strength: int) -> None:
    """A blurred floor shadow, blurred at a small scale (a full-size blur is slow)."""
    d = canvas.width
    small = max(8, d // 8)
    mask = Image.new("L", (small, small), 0)
    scale = small / d
    ImageDraw.Draw(mask).ellipse([v * scale for v in box], fill=strength)
    mask = mask.filter(ImageFilter.GaussianBlur(small / 40)).resize((d, d))
    canvas.paste((40, 25, 35), (0, 0), mask)


def _label(draw: ImageDraw.ImageDraw, box, initial: str, ink: RGB) -> None:
    x0, y0, x1, y1 = box
    draw.rounded_rectangle(box, radius=(x1 - x0) * 0.06, fill=(255, 255, 255, 150))
    size = int((y1 - y0) * 0.62)
    draw.text(((x0 + x1) / 2, (y0 + y1) / 2), initial, font=_font(size), fill=ink, anchor="mm")


def _motif(canvas: Image.Image, p: Placeholder, colour: RGB) -> None:
    """The product (or the shade) in front of the background: shapes drawn at twice the size
    on a transparent layer and reduced onto the canvas, for smooth edges."""
    width = canvas.width
    d = width * _SUPERSAMPLE
    u = d / 300  # drawn on a 300-unit grid, like the web app's SVG art
    cap = _PLUM if _luminance(colour) > 0.45 else _CREAM
    overlay = Image.new("RGBA", (d, d), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    stretch = (p.seed % 3) * 6  # proportions vary a little with the seed
    sheen = (255, 255, 255, 70)

    def box(x0, y0, x1, y1):
        return [x0 * u, y0 * u, x1 * u, y1 * u]

    shadow = {"bottle": (80, 238, 220, 262), "lipstick": (96, 240, 204, 262)}.get(
        p.motif, (66, 236, 234, 264)
    )
    _shadow(canvas, [v * width / 300 for v in shadow], 70 if p.motif == "swatch" else 90)
    if p.motif == "bottle":
        draw.rounded_rectangle(box(104, 104 - stretch, 196, 250), radius=20 * u, fill=colour)
        draw.rounded_rectangle(box(130, 62 - stretch, 170, 108 - stretch), radius=6 * u, fill=cap)
        draw.rounded_rectangle(box(112, 120, 124, 230), radius=6 * u, fill=sheen)
        _label(draw, box(122, 150, 178, 196), p.initial, _PLUM)
    elif p.motif == "lipstick":  # a case, a collar, and the bullet with its slanted tip
        tip = 52 - stretch
        draw.polygon([(130 * u, 128 * u), (130 * u, (tip + 22) * u), (170 * u, tip * u),
                      (170 * u, 128 * u)], fill=colour)  # fmt: skip
        draw.rounded_rectangle(box(124, 122, 176, 142), radius=3 * u, fill=_mix(cap, colour, 0.3))
        draw.rounded_rectangle(box(116, 138, 184, 252), radius=8 * u, fill=cap)
        draw.rounded_rectangle(box(122, 148, 130, 242), radius=4 * u, fill=sheen)
        _label(draw, box(138, 176, 174, 214), p.initial, _PLUM)
    elif p.motif == "jar":
        draw.rounded_rectangle(box(88, 148 - stretch, 212, 252), radius=18 * u, fill=colour)
        draw.rounded_rectangle(box(80, 118 - stretch, 220, 156 - stretch), radius=12 * u, fill=cap)
        draw.rounded_rectangle(box(98, 164, 110, 236), radius=6 * u, fill=sheen)
        _label(draw, box(122, 178, 178, 226), p.initial, _PLUM)
    elif p.motif == "compact":
        draw.ellipse(box(70, 88, 230, 248), fill=cap)
        draw.ellipse(box(88, 106, 212, 230), fill=colour)
        draw.ellipse(box(108, 122, 140, 150), fill=(255, 255, 255, 90))
        ink = _PLUM if _luminance(colour) > 0.35 else _CREAM
        draw.text((150 * u, 168 * u), p.initial, font=_font(int(34 * u)), fill=(*ink, 150), anchor="mm")  # fmt: skip
    else:  # swatch: a pressed pan of the shade and a stroke of it, as on a beauty counter
        _swatch(draw, u, colour, p)
    small = overlay.resize((width, width), Image.Resampling.LANCZOS)
    canvas.paste(small, (0, 0), small)


def _band(draw: ImageDraw.ImageDraw, centre, angle: float, length: float, r: float, fill) -> None:
    """A straight stroke of half-width `r` with round ends (a polygon: Pillow's wide lines are
    not exact at an angle)."""
    cx, cy = centre
    dx, dy = math.cos(angle) * length / 2, math.sin(angle) * length / 2
    nx, ny = -math.sin(angle) * r, math.cos(angle) * r
    a, b = (cx - dx, cy - dy), (cx + dx, cy + dy)
    draw.polygon(
        [(a[0] + nx, a[1] + ny), (b[0] + nx, b[1] + ny), (b[0] - nx, b[1] - ny),
         (a[0] - nx, a[1] - ny)],
        fill=fill,
    )  # fmt: skip
    for x, y in (a, b):
        draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)


def _swatch(draw: ImageDraw.ImageDraw, u: float, colour: RGB, p: Placeholder) -> None:
    # the stroke: a band with round ends across the lower half, tilted by the seed
    angle = math.radians(-14 - p.seed % 16)
    cx, cy, length = 150 * u, 218 * u, 170 * u
    _band(draw, (cx, cy), angle, length, 22 * u, colour)
    _band(draw, (cx, cy - 9 * u), angle, length * 0.8, 4 * u, (255, 255, 255, 34))
    # the pan: a pale metal ring, the pressed shade, a highlight, the brand's initial
    ring = _mix(colour, (255, 255, 255), 0.72)
    draw.ellipse([90 * u, 36 * u, 210 * u, 156 * u], fill=ring)
    draw.ellipse([102 * u, 48 * u, 198 * u, 144 * u], fill=colour)
    draw.ellipse([118 * u, 60 * u, 150 * u, 84 * u], fill=(255, 255, 255, 80))
    ink = _PLUM if _luminance(colour) > 0.35 else _CREAM
    draw.text((176 * u, 126 * u), p.initial, font=_font(int(18 * u)), fill=(*ink, 170), anchor="mm")  # fmt: skip


def render(p: Placeholder, width: int) -> Image.Image:
    """The placeholder `width` px square (RGB)."""
    colour = _parse_hex(p.colour) or (160, 120, 120)
    canvas = _background(width, colour, p.seed)
    _motif(canvas, p, colour)
    return canvas
