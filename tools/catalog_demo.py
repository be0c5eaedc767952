"""The demo catalog generator: deterministic (seeded RNG), realistic enough to click through.

`generate()` always returns the same catalog; `python -m tools.catalog_demo [PATH]` writes it to
`deploy/demo/catalog.json` (committed), the single source the seeders read: catalog's `seed`
loads it and inventory reads its SKUs (`products[*].variants[*].sku`). Nothing at runtime
imports this module. Brands are invented; shades and sizes are typical of the trade.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vanity_catalog.domain import slugify
from vanity_catalog.seed import DEMO_FILE

SEED = 20251125
PRODUCT_COUNT = 200
BASE_TIME = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

BRANDS = [
    ("Maison Lumiere", "MLU", "Parisian colour house known for luminous, buildable textures."),
    ("Velvet & Vine", "VAV", "Plant-powered makeup with a velvet finish."),
    ("Nordic Bloom", "NBL", "Scandinavian skincare: minimal formulas, cold-climate botanicals."),
    ("Atelier Rouge", "ARG", "Lip specialists since 1987."),
    ("Petal Theory", "PTH", "Soft-focus colour inspired by garden flowers."),
    ("Glow Republic", "GLR", "Dewy skin and sheer colour for every day."),
    ("Sable & Co", "SBC", "Professional brushes and tools, hand-finished."),
    ("Dermalab", "DML", "Dermatologist-developed actives at honest concentrations."),
    ("Kaia Botanics", "KAI", "Cold-pressed oils and balms from small farms."),
    ("Oro Cosmetics", "ORO", "Gilded highlighters and warm-toned palettes."),
    ("Saltwater Studio", "SWS", "Beach-born haircare and texture sprays."),
    ("Hanami", "HNM", "Japanese-inspired layering skincare."),
    ("Cedar & Smoke", "CSM", "Small-batch fragrances built around woods and resins."),
    ("Luxe Lab", "LXL", "High-performance foundations in 40 shades."),
    ("Pure Provence", "PPV", "Lavender, olive and sunshine from the south of France."),
    ("Mira Beauty", "MIR", "Clean, fragrance-free essentials."),
    ("Blackbird Noir", "BBN", "Intense eyes: liners, mascaras and smoky shadows."),
    ("Solstice Skin", "SOL", "Mineral and hybrid sun protection."),
    ("Verdant", "VRD", "Refillable, vegan colour cosmetics."),
    ("Aurelia Parfums", "AUP", "Eaux de parfum composed in Grasse."),
    ("Copper Comb", "CPC", "Salon haircare for colour-treated hair."),
    ("Moonflower", "MFL", "Night-time rituals: masks, oils and balms."),
    ("Studio 27", "S27", "Backstage makeup for long days under lights."),
    ("Honeycomb Apothecary", "HCA", "Honey, propolis and beeswax skincare."),
]

# top level -> second level -> leaf: (slug, name, kind, code, price range in cents, lines)
TREE: list[tuple[str, list[tuple[str, list[tuple[str, str, str, tuple[int, int], list[str]]]]]]] = [
    (
        "Makeup",
        [
            (
                "Face",
                [
                    (
                        "Foundation",
                        "foundation",
                        "FDN",
                        (2400, 5200),
                        [
                            "Skin Tint",
                            "Second Skin Foundation",
                            "Matte Perfection Foundation",
                            "Serum Foundation",
                            "Long-Wear Foundation",
                        ],
                    ),
                    (
                        "Concealer",
                        "complexion",
                        "CNC",
                        (1800, 3400),
                        ["Radiant Concealer", "Full Cover Concealer", "Brightening Pen"],
                    ),
                    (
                        "Blush",
                        "blush",
                        "BLS",
                        (1600, 3600),
                        ["Cream Blush", "Powder Blush", "Liquid Blush Drops"],
                    ),
                    (
                        "Highlighter",
                        "highlight",
                        "HLT",
                        (1800, 4200),
                        ["Glow Highlighter", "Liquid Light", "Baked Highlighter"],
                    ),
                    (
                        "Powder",
                        "powder",
                        "PWD",
                        (2000, 4400),
                        ["Setting Powder", "Pressed Powder", "Blurring Powder"],
                    ),
                ],
            ),
            (
                "Eyes",
                [
                    (
                        "Mascara",
                        "mascara",
                        "MSC",
                        (1400, 3200),
                        ["Volume Mascara", "Lengthening Mascara", "Lash Lift Mascara"],
                    ),
                    (
                        "Eyeshadow",
                        "eyeshadow",
                        "EYS",
                        (1200, 5800),
                        ["Eyeshadow Palette", "Cream Shadow Stick", "Single Shadow"],
                    ),
                    (
                        "Eyeliner",
                        "liner",
                        "EYL",
                        (1200, 2800),
                        ["Liquid Liner", "Gel Pencil", "Kohl Kajal"],
                    ),
                    (
                        "Brows",
                        "brow",
                        "BRW",
                        (1400, 2800),
                        ["Brow Pencil", "Brow Gel", "Brow Pomade"],
                    ),
                ],
            ),
            (
                "Lips",
                [
                    (
                        "Lipstick",
                        "lipstick",
                        "LIP",
                        (1800, 4200),
                        [
                            "Velvet Matte Lipstick",
                            "Satin Lipstick",
                            "Sheer Balm Lipstick",
                            "Liquid Lipstick",
                        ],
                    ),
                    (
                        "Lip Gloss",
                        "gloss",
                        "GLS",
                        (1400, 3000),
                        ["Lip Gloss", "Plumping Gloss", "Lip Oil"],
                    ),
                    (
                        "Lip Liner",
                        "lipliner",
                        "LNR",
                        (1200, 2400),
                        ["Lip Liner", "Precision Lip Pencil"],
                    ),
                    ("Lip Balm", "balm", "BLM", (800, 2200), ["Lip Balm", "Overnight Lip Mask"]),
                ],
            ),
        ],
    ),
    (
        "Skincare",
        [
            (
                "Cleansers",
                [
                    (
                        "Cleansing Oil",
                        "skin",
                        "CLO",
                        (1800, 4200),
                        ["Cleansing Oil", "Cleansing Balm"],
                    ),
                    (
                        "Gel Cleanser",
                        "skin",
                        "CLG",
                        (1200, 3200),
                        ["Gentle Gel Cleanser", "Foaming Cleanser", "Clarifying Cleanser"],
                    ),
                    (
                        "Micellar Water",
                        "skin",
                        "MCW",
                        (900, 2400),
                        ["Micellar Water", "Soothing Micellar Water"],
                    ),
                ],
            ),
            (
                "Moisturisers",
                [
                    (
                        "Day Cream",
                        "skin",
                        "DYC",
                        (2200, 7800),
                        ["Daily Moisturiser", "Barrier Cream", "Water Cream", "Rich Cream"],
                    ),
                    (
                        "Night Cream",
                        "skin",
                        "NTC",
                        (2800, 8800),
                        ["Night Cream", "Sleeping Mask", "Retinal Night Cream"],
                    ),
                    ("Eye Cream", "skin", "EYC", (2400, 6800), ["Eye Cream", "Depuffing Eye Gel"]),
                ],
            ),
            (
                "Treatments",
                [
                    (
                        "Serum",
                        "serum",
                        "SRM",
                        (2400, 9800),
                        [
                            "Vitamin C Serum",
                            "Hyaluronic Serum",
                            "Niacinamide Serum",
                            "Peptide Serum",
                            "Retinol Serum",
                        ],
                    ),
                    (
                        "Face Oil",
                        "serum",
                        "FOL",
                        (2800, 7200),
                        ["Face Oil", "Rosehip Oil", "Squalane Oil"],
                    ),
                    (
                        "Exfoliator",
                        "skin",
                        "EXF",
                        (1800, 4800),
                        ["AHA Toner", "Enzyme Powder", "BHA Liquid Exfoliant"],
                    ),
                ],
            ),
            (
                "Suncare",
                [
                    (
                        "Face SPF",
                        "sun",
                        "SPF",
                        (1800, 4200),
                        [
                            "Daily Fluid SPF 50",
                            "Tinted Sunscreen SPF 30",
                            "Mineral Sunscreen SPF 50",
                        ],
                    ),
                    (
                        "Body SPF",
                        "sun",
                        "BSP",
                        (1600, 3800),
                        ["Body Sun Lotion SPF 30", "Sun Mist SPF 50"],
                    ),
                ],
            ),
        ],
    ),
    (
        "Fragrance",
        [
            (
                "Women's Fragrance",
                [
                    (
                        "Women's Eau de Parfum",
                        "fragrance",
                        "WEP",
                        (5200, 16800),
                        ["Eau de Parfum", "Intense Eau de Parfum"],
                    ),
                    (
                        "Women's Eau de Toilette",
                        "fragrance",
                        "WET",
                        (3800, 9800),
                        ["Eau de Toilette", "Eau Fraiche"],
                    ),
                ],
            ),
            (
                "Men's Fragrance",
                [
                    (
                        "Men's Eau de Parfum",
                        "fragrance",
                        "MEP",
                        (5400, 14800),
                        ["Eau de Parfum", "Parfum"],
                    ),
                    (
                        "Aftershave",
                        "fragrance",
                        "AFT",
                        (2800, 6400),
                        ["Aftershave Balm", "Aftershave Splash"],
                    ),
                ],
            ),
            (
                "Unisex Fragrance",
                [
                    (
                        "Unisex Eau de Parfum",
                        "fragrance",
                        "UEP",
                        (6800, 18800),
                        ["Eau de Parfum", "Extrait de Parfum"],
                    ),
                    (
                        "Body Mist",
                        "fragrance",
                        "BMS",
                        (1800, 3800),
                        ["Body Mist", "Hair & Body Mist"],
                    ),
                ],
            ),
        ],
    ),
    (
        "Haircare",
        [
            (
                "Shampoo & Conditioner",
                [
                    (
                        "Shampoo",
                        "hair",
                        "SHP",
                        (1400, 3800),
                        [
                            "Hydrating Shampoo",
                            "Clarifying Shampoo",
                            "Colour Care Shampoo",
                            "Volume Shampoo",
                        ],
                    ),
                    (
                        "Conditioner",
                        "hair",
                        "CND",
                        (1400, 3800),
                        ["Hydrating Conditioner", "Repair Conditioner", "Lightweight Conditioner"],
                    ),
                ],
            ),
            (
                "Hair Treatments",
                [
                    (
                        "Hair Mask",
                        "hair",
                        "HMK",
                        (1800, 4800),
                        ["Repair Mask", "Bond Mask", "Curl Mask"],
                    ),
                    ("Hair Oil", "hair", "HOL", (1800, 4600), ["Hair Oil", "Scalp Serum"]),
                ],
            ),
            (
                "Styling",
                [
                    (
                        "Hairspray",
                        "hair",
                        "HSP",
                        (1200, 3200),
                        ["Flexible Hairspray", "Strong Hold Hairspray"],
                    ),
                    (
                        "Texturising Spray",
                        "hair",
                        "TXS",
                        (1600, 3600),
                        ["Sea Salt Spray", "Dry Texture Spray"],
                    ),
                ],
            ),
        ],
    ),
    (
        "Tools",
        [
            (
                "Brushes",
                [
                    (
                        "Face Brushes",
                        "tool",
                        "FBR",
                        (1800, 5200),
                        ["Foundation Brush", "Powder Brush", "Kabuki Brush"],
                    ),
                    (
                        "Eye Brushes",
                        "tool",
                        "EBR",
                        (1200, 3200),
                        ["Blending Brush", "Angled Liner Brush"],
                    ),
                ],
            ),
            (
                "Applicators",
                [
                    ("Sponges", "tool", "SPG", (800, 2200), ["Blending Sponge", "Mini Sponge Duo"]),
                    (
                        "Facial Tools",
                        "tool",
                        "FTL",
                        (2400, 6800),
                        ["Jade Roller", "Gua Sha Stone", "Ice Globes"],
                    ),
                ],
            ),
        ],
    ),
]

SKIN_SHADES = [
    ("Porcelain 1N", "#F4DCCB"),
    ("Ivory 2C", "#EFD3BD"),
    ("Fair 3W", "#E9C9A8"),
    ("Light 4N", "#E0BB98"),
    ("Beige 5W", "#D6AA84"),
    ("Sand 6N", "#CB9C76"),
    ("Honey 7W", "#BF8A5F"),
    ("Caramel 8N", "#A87449"),
    ("Chestnut 9W", "#8E5C38"),
    ("Espresso 10N", "#6B4228"),
    ("Mahogany 11C", "#553220"),
    ("Ebony 12N", "#3E2416"),
]
LIP_SHADES = [
    ("Ruby", "#9B111E"),
    ("Cherry Bomb", "#A4161A"),
    ("Rosewood", "#8E4A49"),
    ("Nude Petal", "#C9A08D"),
    ("Coral Reef", "#F2665A"),
    ("Mauve Moment", "#A86C83"),
    ("Berry Kiss", "#7A1F3D"),
    ("Brick", "#8B3A2E"),
    ("Pink Peony", "#E07A9B"),
    ("Plum Noir", "#5B1F3A"),
    ("Fig", "#6E3B47"),
    ("Terracotta", "#B5563C"),
    ("Cinnamon", "#9C5A3C"),
    ("Scarlet", "#C1121F"),
]
BLUSH_SHADES = [
    ("Peach Fuzz", "#F4A988"),
    ("Rose", "#D9738B"),
    ("Apricot", "#F0A070"),
    ("Berry", "#A23B5C"),
    ("Bronze", "#B0703E"),
    ("Champagne", "#E8C9A0"),
    ("Pearl", "#F1E6DA"),
    ("Gold Dust", "#D4AF37"),
]
EYE_SHADES = [
    ("Jet Black", "#0A0A0A"),
    ("Brown Black", "#2B1D14"),
    ("Espresso", "#3C2A21"),
    ("Navy", "#1B2A4A"),
    ("Olive", "#5A5A2E"),
    ("Plum", "#5E2750"),
    ("Bronze", "#8C5A2B"),
    ("Taupe", "#8B7D6B"),
]
BROW_SHADES = [
    ("Blonde", "#B89A6E"),
    ("Taupe", "#8B7D6B"),
    ("Auburn", "#7C3F26"),
    ("Brunette", "#4E3424"),
    ("Soft Black", "#2A2420"),
]
POWDER_SHADES = [
    ("Translucent", "#F5EDE3"),
    ("Light", "#E8CFB4"),
    ("Medium", "#C99E78"),
    ("Deep", "#8A5C3C"),
]

SIZES = {
    "skin": [("30 ml", 1.0), ("50 ml", 1.45), ("100 ml", 2.3)],
    "serum": [("15 ml", 0.6), ("30 ml", 1.0), ("50 ml", 1.5)],
    "sun": [("50 ml", 1.0), ("100 ml", 1.7), ("200 ml", 2.8)],
    "fragrance": [("30 ml", 0.6), ("50 ml", 1.0), ("100 ml", 1.55)],
    "hair": [("100 ml", 0.6), ("250 ml", 1.0), ("500 ml", 1.7)],
}
SHADES = {
    "foundation": SKIN_SHADES,
    "complexion": SKIN_SHADES,
    "lipstick": LIP_SHADES,
    "gloss": LIP_SHADES,
    "lipliner": LIP_SHADES,
    "blush": BLUSH_SHADES,
    "highlight": BLUSH_SHADES,
    "eyeshadow": EYE_SHADES,
    "liner": EYE_SHADES,
    "mascara": EYE_SHADES[:4],
    "brow": BROW_SHADES,
    "powder": POWDER_SHADES,
    "balm": LIP_SHADES[:6],
}
FINISHES = {
    "foundation": ["matte", "natural", "radiant", "satin"],
    "complexion": ["natural", "radiant"],
    "lipstick": ["matte", "satin", "gloss"],
    "gloss": ["gloss", "shimmer"],
    "lipliner": ["matte"],
    "blush": ["matte", "satin", "shimmer"],
    "highlight": ["shimmer", "metallic"],
    "eyeshadow": ["matte", "shimmer", "metallic"],
    "liner": ["matte", "metallic"],
    "powder": ["matte", "natural"],
    "balm": ["gloss", "natural"],
    "mascara": ["natural"],
    "brow": ["natural"],
}
INGREDIENTS = {
    "makeup": [
        "Dimethicone",
        "Mica",
        "Titanium Dioxide",
        "Iron Oxides",
        "Jojoba Oil",
        "Vitamin E",
        "Shea Butter",
        "Hyaluronic Acid",
        "Squalane",
        "Beeswax",
        "Carnauba Wax",
        "Kaolin",
    ],
    "skin": [
        "Niacinamide",
        "Hyaluronic Acid",
        "Ceramides",
        "Vitamin C",
        "Retinol",
        "Glycerin",
        "Squalane",
        "Panthenol",
        "Centella Asiatica",
        "Salicylic Acid",
        "Lactic Acid",
        "Green Tea Extract",
        "Peptides",
        "Zinc Oxide",
        "Aloe Vera",
        "Rosehip Oil",
    ],
    "fragrance": [
        "Alcohol Denat.",
        "Parfum",
        "Bergamot",
        "Jasmine",
        "Sandalwood",
        "Vanilla",
        "Rose Absolute",
        "Vetiver",
        "Amber",
        "Cedarwood",
        "Iris",
        "Oud",
    ],
    "hair": [
        "Argan Oil",
        "Keratin",
        "Biotin",
        "Coconut Oil",
        "Panthenol",
        "Sea Salt",
        "Rice Protein",
        "Shea Butter",
        "Castor Oil",
        "Tea Tree Oil",
    ],
    "tool": [],
}
TAGS = [
    "vegan",
    "cruelty-free",
    "bestseller",
    "new",
    "fragrance-free",
    "long-wear",
    "clean",
    "refillable",
    "gift",
    "travel-size",
    "dermatologist-tested",
    "award-winner",
]
SKIN_TYPES = ["dry", "oily", "combination", "normal", "sensitive", "mature"]
ADJECTIVES = [
    "Signature",
    "Soft Focus",
    "Pro",
    "Ultra",
    "Daily",
    "Cloud",
    "Silk",
    "Bare",
    "Luminous",
    "Hydra",
    "Pure",
    "Icon",
]


def _family(kind: str) -> str:
    if kind in SIZES:
        return "fragrance" if kind == "fragrance" else ("hair" if kind == "hair" else "skin")
    return "tool" if kind == "tool" else "makeup"


def _price(rng: random.Random, low: int, high: int) -> int:
    euros = rng.randrange(low // 100, high // 100 + 1)
    return euros * 100 + rng.choice([0, 0, 50, 90, 99])


def generate() -> dict[str, Any]:
    rng = random.Random(SEED)
    brand_rows = [
        {"slug": slugify(name), "name": name, "code": code, "description": desc}
        for name, code, desc in BRANDS
    ]
    categories: list[dict[str, Any]] = []
    leaves: list[tuple[str, str, str, tuple[int, int], list[str]]] = []
    for top_name, seconds in TREE:
        top = {"slug": slugify(top_name), "name": top_name, "children": []}
        for second_name, leaf_list in seconds:
            second = {"slug": slugify(second_name), "name": second_name, "children": []}
            for leaf_name, kind, code, prices, lines in leaf_list:
                leaf_slug = slugify(leaf_name)
                second["children"].append({"slug": leaf_slug, "name": leaf_name, "children": []})
                leaves.append((leaf_slug, kind, code, prices, lines))
            top["children"].append(second)
        categories.append(top)

    products: list[dict[str, Any]] = []
    used_slugs: set[str] = set()
    for index in range(PRODUCT_COUNT):
        leaf_slug, kind, code, (low, high), lines = leaves[index % len(leaves)]
        brand = brand_rows[rng.randrange(len(brand_rows))]
        line = rng.choice(lines)
        name = line if rng.random() < 0.45 else f"{rng.choice(ADJECTIVES)} {line}"
        slug = slugify(f"{brand['name']} {name}")
        n = 2
        while slug in used_slugs:
            slug = slugify(f"{brand['name']} {name} {n}")
            n += 1
        used_slugs.add(slug)
        family = _family(kind)
        base = _price(rng, low, high)
        sku_stem = f"{brand['code']}-{code}{index + 1:03d}"
        variants = []
        if kind in SHADES:
            shades = SHADES[kind]
            count = min(
                len(shades), rng.randint(3, 8 if kind in ("foundation", "complexion") else 6)
            )
            for v, (shade, hex_) in enumerate(rng.sample(shades, count)):
                variants.append(
                    {
                        "sku": f"{sku_stem}-{v + 1:02d}",
                        "name": shade,
                        "shade_hex": hex_,
                        "size": None,
                        "price_minor": base,
                        "currency": "EUR",
                        "active": True,
                    }
                )
        elif kind in SIZES:
            sizes = SIZES[kind]
            start = rng.randrange(0, 2)
            for v, (size, factor) in enumerate(sizes[start : start + rng.randint(1, 3)]):
                price = round(base * factor / 50.0) * 50 - (1 if rng.random() < 0.3 else 0)
                variants.append(
                    {
                        "sku": f"{sku_stem}-{v + 1:02d}",
                        "name": size,
                        "shade_hex": None,
                        "size": size,
                        "price_minor": max(price, 100),
                        "currency": "EUR",
                        "active": True,
                    }
                )
        else:
            variants.append(
                {
                    "sku": f"{sku_stem}-01",
                    "name": "Standard",
                    "shade_hex": None,
                    "size": None,
                    "price_minor": base,
                    "currency": "EUR",
                    "active": True,
                }
            )
        for v in variants[1:]:
            if rng.random() < 0.06:
                v["active"] = False
        roll = rng.random()
        status = "draft" if roll < 0.03 else ("archived" if roll < 0.05 else "active")
        attributes: dict[str, Any] = {}
        if family in ("skin",) or kind in ("foundation", "complexion"):
            attributes["skin_types"] = (
                ["all"] if rng.random() < 0.3 else sorted(rng.sample(SKIN_TYPES, rng.randint(1, 3)))
            )
        if kind in FINISHES:
            attributes["finish"] = rng.choice(FINISHES[kind])
        if kind in ("foundation", "complexion"):
            attributes["coverage"] = rng.choice(["sheer", "light", "medium", "full"])
        pool = INGREDIENTS[family]
        if pool:
            attributes["ingredients"] = rng.sample(pool, min(len(pool), rng.randint(3, 6)))
        if variants[0]["size"]:
            attributes["volume"] = variants[0]["size"]
        tags = sorted(rng.sample(TAGS, rng.randint(0, 3)))
        attributes["vegan"] = "vegan" in tags
        attributes["cruelty_free"] = "cruelty-free" in tags or rng.random() < 0.5
        created = BASE_TIME + timedelta(minutes=index * 173 + rng.randrange(0, 120))
        leaf_name = leaf_slug.replace("-", " ")
        description = (
            f"{name} by {brand['name']}. "
            f"{brand['description']} "
            f"A {attributes.get('finish', 'modern')} {leaf_name} "
            + (f"with {', '.join(attributes['ingredients'][:3])}." if pool else "built to last.")
        )
        products.append(
            {
                "slug": slug,
                "name": name,
                "brand": brand["slug"],
                "category": leaf_slug,
                "description": description,
                "images": [
                    f"https://cdn.vanity.shop/products/{slug}/{i}.jpg"
                    for i in range(1, rng.randint(2, 4))
                ],
                "attributes": attributes,
                "tags": tags,
                "status": status,
                "created_at": created.isoformat().replace("+00:00", "Z"),
                "variants": variants,
            }
        )
    return {
        "version": 1,
        "currency": "EUR",
        "brands": [{k: b[k] for k in ("slug", "name", "description")} for b in brand_rows],
        "categories": categories,
        "products": products,
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def write_demo_file(path: Path = DEMO_FILE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(generate()), encoding="utf-8")
    return path


def main(args: list[str]) -> int:
    target = Path(args[0]) if args else DEMO_FILE
    path = write_demo_file(target)
    data = generate()
    variants = sum(len(p["variants"]) for p in data["products"])
    print(
        f"wrote {path}: {len(data['brands'])} brands, {len(data['products'])} products, {variants} variants"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
