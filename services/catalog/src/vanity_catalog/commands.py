"""What the admin use cases take: plain commands, free of REST/pydantic types.

Entry points (rest.py) translate their input models into these; the shape and format checks
happened there, the rules (domain.py) and the database checks happen in the use cases.
An update carries only the fields the caller sent: the others are `UNSET` (an explicit `None`
is a value, e.g. a category moved to the top level).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Final


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final[Any] = _Unset()


def sent_fields(command: object, *, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of an update command the caller set, without its identifying `keys`."""
    return {
        f.name: getattr(command, f.name)
        for f in fields(command)  # type: ignore[arg-type]
        if f.name not in keys and getattr(command, f.name) is not UNSET
    }


@dataclass(frozen=True, kw_only=True)
class NewVariant:
    sku: str
    name: str
    shade_hex: str | None = None
    size: str | None = None
    price_minor: int
    currency: str = "EUR"
    active: bool = True
    position: int = 0


@dataclass(frozen=True, kw_only=True)
class CreateProduct:
    slug: str | None = None
    name: str
    brand_id: int
    category_id: int
    description: str = ""
    images: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    status: str = "draft"
    variants: list[NewVariant] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class UpdateProduct:
    product_id: int
    slug: str | None = UNSET
    name: str | None = UNSET
    brand_id: int | None = UNSET
    category_id: int | None = UNSET
    description: str | None = UNSET
    images: list[str] | None = UNSET
    attributes: dict[str, Any] | None = UNSET
    tags: list[str] | None = UNSET
    status: str | None = UNSET

    def sent(self) -> dict[str, Any]:
        return sent_fields(self, keys=("product_id",))


@dataclass(frozen=True, kw_only=True)
class AddVariant:
    product_id: int
    variant: NewVariant


@dataclass(frozen=True, kw_only=True)
class UpdateVariant:
    product_id: int
    sku: str
    name: str | None = UNSET
    shade_hex: str | None = UNSET
    size: str | None = UNSET
    price_minor: int | None = UNSET
    currency: str | None = UNSET
    active: bool | None = UNSET
    position: int | None = UNSET

    def sent(self) -> dict[str, Any]:
        return sent_fields(self, keys=("product_id", "sku"))


@dataclass(frozen=True, kw_only=True)
class CreateBrand:
    slug: str | None = None
    name: str
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class UpdateBrand:
    brand_id: int
    slug: str | None = UNSET
    name: str | None = UNSET
    description: str | None = UNSET

    def sent(self) -> dict[str, Any]:
        return sent_fields(self, keys=("brand_id",))


@dataclass(frozen=True, kw_only=True)
class CreateCategory:
    slug: str | None = None
    name: str
    parent_id: int | None = None
    position: int = 0


@dataclass(frozen=True, kw_only=True)
class UpdateCategory:
    category_id: int
    slug: str | None = UNSET
    name: str | None = UNSET
    parent_id: int | None = UNSET  # None: move to the top level
    position: int | None = UNSET

    def sent(self) -> dict[str, Any]:
        return sent_fields(self, keys=("category_id",))
