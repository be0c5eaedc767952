"""Admin input models: shape and format checks, reported per field (problem+json `errors`).

Each model turns into the plain command its use case takes (`.command(...)`, commands.py).
The rules (domain.py) and those that need the database (unique slug/SKU, existing
brand/category, category cycles) are applied by the use cases and reported the same way.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from vanity_common.types import DbId, SafeMultilineText, SafeText

from vanity_catalog import commands
from vanity_catalog.domain import CURRENCY_RE, HEX_RE, SKU_RE, SLUG_RE, normalise_tags

Slug = Annotated[str, Field(min_length=1, max_length=160, pattern=SLUG_RE.pattern)]
Sku = Annotated[str, Field(min_length=2, max_length=64, pattern=SKU_RE.pattern)]
Name = Annotated[SafeText, Field(min_length=1, max_length=200)]
ShortName = Annotated[SafeText, Field(min_length=1, max_length=120)]
Price = Annotated[int, Field(ge=0, le=100_000_000, strict=True)]
Currency = Annotated[str, Field(pattern=CURRENCY_RE.pattern)]
ImageUrl = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^(https?://|/)\S+$")]
Hex = Annotated[str, Field(pattern=HEX_RE.pattern)]
Status = Literal["draft", "active", "archived"]
SkinType = Literal["all", "dry", "oily", "combination", "normal", "sensitive", "mature"]
Finish = Literal["matte", "satin", "natural", "dewy", "radiant", "shimmer", "metallic", "gloss"]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Attributes(_Input):
    skin_types: list[SkinType] = Field(default_factory=list, max_length=7)
    finish: Finish | None = None
    coverage: Literal["sheer", "light", "medium", "full"] | None = None
    ingredients: list[Annotated[SafeText, Field(min_length=1, max_length=80)]] = Field(
        default_factory=list, max_length=60
    )
    volume: Annotated[SafeText, Field(max_length=32)] | None = None
    vegan: bool | None = None
    cruelty_free: bool | None = None
    fragrance_free: bool | None = None


def _tags(value: list[str]) -> list[str]:
    tags = normalise_tags(value)
    if len(tags) != len(value):
        raise ValueError("tags must be distinct, non-empty words (letters, digits, hyphens)")
    return tags


class VariantCreate(_Input):
    sku: Sku
    name: ShortName
    shade_hex: Hex | None = None
    size: Annotated[SafeText, Field(max_length=32)] | None = None
    price_minor: Price
    currency: Currency = "EUR"
    active: bool = True
    position: Annotated[int, Field(ge=0, le=10_000)] = 0

    def command(self) -> commands.NewVariant:
        return commands.NewVariant(**self.model_dump())


class VariantUpdate(_Input):
    name: ShortName | None = None
    shade_hex: Hex | None = None
    size: Annotated[SafeText, Field(max_length=32)] | None = None
    price_minor: Price | None = None
    currency: Currency | None = None
    active: bool | None = None
    position: Annotated[int, Field(ge=0, le=10_000)] | None = None

    def command(self, product_id: int, sku: str) -> commands.UpdateVariant:
        return commands.UpdateVariant(
            product_id=product_id, sku=sku, **self.model_dump(exclude_unset=True)
        )


class ProductCreate(_Input):
    slug: Slug | None = None
    name: Name
    brand_id: DbId
    category_id: DbId
    description: Annotated[SafeMultilineText, Field(max_length=5000)] = ""
    images: list[ImageUrl] = Field(default_factory=list, max_length=12)
    attributes: Attributes = Field(default_factory=Attributes)
    tags: list[str] = Field(default_factory=list, max_length=20)
    status: Status = "draft"
    variants: list[VariantCreate] = Field(default_factory=list, max_length=60)

    @field_validator("tags")
    @classmethod
    def _check_tags(cls, value: list[str]) -> list[str]:
        return _tags(value)

    def command(self) -> commands.CreateProduct:
        return commands.CreateProduct(
            **self.model_dump(exclude={"variants"}), variants=[v.command() for v in self.variants]
        )


class ProductUpdate(_Input):
    slug: Slug | None = None
    name: Name | None = None
    brand_id: DbId | None = None
    category_id: DbId | None = None
    description: Annotated[SafeMultilineText, Field(max_length=5000)] | None = None
    images: list[ImageUrl] | None = Field(default=None, max_length=12)
    attributes: Attributes | None = None
    tags: list[str] | None = Field(default=None, max_length=20)
    status: Status | None = None

    @field_validator("tags")
    @classmethod
    def _check_tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _tags(value)

    def command(self, product_id: int) -> commands.UpdateProduct:
        fields = self.model_dump(exclude_unset=True, exclude={"attributes"})
        if "attributes" in self.model_fields_set:  # the whole object: defaults included
            fields["attributes"] = None if self.attributes is None else self.attributes.model_dump()
        return commands.UpdateProduct(product_id=product_id, **fields)


class BrandCreate(_Input):
    slug: Slug | None = None
    name: ShortName
    description: Annotated[SafeMultilineText, Field(max_length=2000)] = ""

    def command(self) -> commands.CreateBrand:
        return commands.CreateBrand(**self.model_dump())


class BrandUpdate(_Input):
    slug: Slug | None = None
    name: ShortName | None = None
    description: Annotated[SafeMultilineText, Field(max_length=2000)] | None = None

    def command(self, brand_id: int) -> commands.UpdateBrand:
        return commands.UpdateBrand(brand_id=brand_id, **self.model_dump(exclude_unset=True))


class CategoryCreate(_Input):
    slug: Slug | None = None
    name: ShortName
    parent_id: DbId | None = None
    position: Annotated[int, Field(ge=0, le=10_000)] = 0

    def command(self) -> commands.CreateCategory:
        return commands.CreateCategory(**self.model_dump())


class CategoryUpdate(_Input):
    slug: Slug | None = None
    name: ShortName | None = None
    parent_id: DbId | None = None  # explicit null: move to the top level
    position: Annotated[int, Field(ge=0, le=10_000)] | None = None

    def command(self, category_id: int) -> commands.UpdateCategory:
        return commands.UpdateCategory(
            category_id=category_id, **self.model_dump(exclude_unset=True)
        )
