"""Pure cart rules: no I/O.

- Validation of what a shopper asks for (SKU, quantity) against the cart's limits.
- `Cart`, an immutable executable specification of a cart: add / set / remove / clear, the
  checkout lock, optimistic versions and the guest-to-user merge. The SQL implementation in
  `repository.py` + `service.py` must behave like it (the property tests drive both).
- How a line's availability is presented (state and the quantity still buyable).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

MAX_SKU_LENGTH = 64
MAX_CHECKOUT_ID_LENGTH = 64
GUEST_TOKEN_BYTES = 32  # 256 bits: unguessable, so a fast hash is enough to store it


class StockState(StrEnum):
    IN_STOCK = "in_stock"
    LOW = "low"
    OUT_OF_STOCK = "out_of_stock"


class CartError(Exception):
    """A cart rule was broken; `reason` is the stable code entry points report."""

    reason = "CART_ERROR"
    field: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)


class InvalidInput(CartError):
    reason = "INVALID"

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


class CartFull(CartError):
    reason = "CART_FULL"
    field = "sku"


class LineNotFound(CartError):
    reason = "LINE_NOT_FOUND"
    field = "sku"


class CartLocked(CartError):
    reason = "CART_LOCKED"


class CartEmpty(CartError):
    reason = "CART_EMPTY"


class VersionMismatch(CartError):
    reason = "CART_VERSION_MISMATCH"

    def __init__(self, current: int) -> None:
        super().__init__(f"The cart has changed (now version {current}); reload it and retry.")
        self.current = current


class NotEnoughStock(CartError):
    reason = "NOT_ENOUGH_STOCK"
    field = "quantity"

    def __init__(self, sku: str, available: int, in_cart: int) -> None:
        super().__init__(
            f"Only {available} of {sku} can be bought"
            + (f" ({in_cart} already in the cart)." if in_cart else ".")
        )
        self.sku = sku
        self.available = available
        self.in_cart = in_cart


@dataclass(frozen=True)
class Limits:
    max_lines: int = 50
    max_quantity_per_line: int = 10


def validate_sku(sku: str) -> str:
    sku = (sku or "").strip()
    if not sku:
        raise InvalidInput("sku", "sku is required")
    if len(sku) > MAX_SKU_LENGTH:
        raise InvalidInput("sku", f"sku is at most {MAX_SKU_LENGTH} characters")
    if not sku.isprintable():
        raise InvalidInput("sku", "sku must not contain control characters")
    return sku


def validate_quantity(quantity: int, limits: Limits, *, allow_zero: bool = False) -> int:
    """Quantities are whole units from 1 (0 when it means "remove") to the per-line maximum."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidInput("quantity", "quantity must be a whole number")
    low = 0 if allow_zero else 1
    if quantity < low:
        raise InvalidInput("quantity", f"quantity must be at least {low}")
    if quantity > limits.max_quantity_per_line:
        raise InvalidInput(
            "quantity", f"quantity must be at most {limits.max_quantity_per_line} per line"
        )
    return quantity


def validate_checkout_id(checkout_id: str) -> str:
    checkout_id = (checkout_id or "").strip()
    if not checkout_id:
        raise InvalidInput("checkout_id", "checkout_id is required")
    if len(checkout_id) > MAX_CHECKOUT_ID_LENGTH:
        raise InvalidInput(
            "checkout_id", f"checkout_id is at most {MAX_CHECKOUT_ID_LENGTH} characters"
        )
    return checkout_id


def parse_version(value: str | None) -> int | None:
    """An `If-Match` value: `"3"`, `W/"3"`, `3` or `*` (any version: None)."""
    if value is None:
        return None
    text = value.strip()
    if text == "*":
        return None
    text = text.removeprefix("W/").strip().strip('"')
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput("If-Match", 'If-Match must be the cart\'s ETag, e.g. "3"')
    return int(text)


def new_guest_token() -> str:
    return secrets.token_urlsafe(GUEST_TOKEN_BYTES)


def hash_guest_token(token: str) -> str:
    """Only this digest is stored: a leaked database does not hand out live cart tokens."""
    return hashlib.sha256(token.encode()).hexdigest()


def capacity(limits: Limits, available: int | None) -> int:
    """Most units one line may hold: the per-line maximum, and the stock when it is known."""
    if available is None:
        return limits.max_quantity_per_line
    return max(0, min(limits.max_quantity_per_line, available))


@dataclass(frozen=True)
class CartLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class Cart:
    """A cart and the rules of every change to it. Changes return a new cart."""

    lines: tuple[CartLine, ...] = ()
    version: int = 0
    locked_by: str | None = None
    merged_guest_carts: frozenset[str] = frozenset()

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    def quantity_of(self, sku: str) -> int:
        return next((line.quantity for line in self.lines if line.sku == sku), 0)

    def _writable(self, expected_version: int | None) -> None:
        if self.locked_by is not None:
            raise CartLocked("A checkout is in progress for this cart; it cannot change now.")
        if expected_version is not None and expected_version != self.version:
            raise VersionMismatch(self.version)

    def _with_lines(self, lines: list[CartLine]) -> Cart:
        return replace(self, lines=tuple(lines), version=self.version + 1)

    def add(
        self,
        sku: str,
        quantity: int,
        limits: Limits,
        *,
        available: int | None = None,
        expected_version: int | None = None,
    ) -> Cart:
        validate_quantity(quantity, limits)
        self._writable(expected_version)
        current = self.quantity_of(sku)
        if not current and len(self.lines) >= limits.max_lines:
            raise CartFull(f"A cart holds at most {limits.max_lines} different products.")
        wanted = current + quantity
        if wanted > limits.max_quantity_per_line:
            raise InvalidInput(
                "quantity",
                f"at most {limits.max_quantity_per_line} per line ({current} already in the cart)",
            )
        if available is not None and wanted > available:
            raise NotEnoughStock(sku, max(available, 0), current)
        if current:
            lines = [CartLine(sku, wanted) if ln.sku == sku else ln for ln in self.lines]
        else:
            lines = [*self.lines, CartLine(sku, quantity)]
        return self._with_lines(lines)

    def set_quantity(
        self,
        sku: str,
        quantity: int,
        limits: Limits,
        *,
        available: int | None = None,
        expected_version: int | None = None,
    ) -> Cart:
        """Sets a line that exists; 0 removes it. Lowering never needs the stock figure."""
        validate_quantity(quantity, limits, allow_zero=True)
        self._writable(expected_version)
        current = self.quantity_of(sku)
        if not current:
            raise LineNotFound(f"{sku} is not in the cart.")
        if quantity == 0:
            return self.remove(sku, expected_version=expected_version)
        if quantity > current and available is not None and quantity > available:
            raise NotEnoughStock(sku, max(available, 0), current)
        if quantity == current:
            return self
        return self._with_lines(
            [CartLine(sku, quantity) if ln.sku == sku else ln for ln in self.lines]
        )

    def remove(self, sku: str, *, expected_version: int | None = None) -> Cart:
        """Removing a line that is not there changes nothing (the version stays)."""
        self._writable(expected_version)
        if not self.quantity_of(sku):
            return self
        return self._with_lines([ln for ln in self.lines if ln.sku != sku])

    def clear(self, *, expected_version: int | None = None) -> Cart:
        self._writable(expected_version)
        return self._with_lines([]) if self.lines else self

    def lock(self, checkout_id: str) -> Cart:
        """Idempotent for the same checkout; the version is the lines' version and stays."""
        if self.locked_by == checkout_id:
            return self
        if self.locked_by is not None:
            raise CartLocked("Another checkout is in progress for this cart.")
        if not self.lines:
            raise CartEmpty("The cart is empty.")
        return replace(self, locked_by=checkout_id)

    def unlock(self, checkout_id: str) -> Cart:
        """A no-op unless `checkout_id` holds the lock (a late or repeated unlock is harmless)."""
        return replace(self, locked_by=None) if self.locked_by == checkout_id else self

    def merge(
        self,
        guest_cart_id: str,
        guest: Cart,
        limits: Limits,
        available: Mapping[str, int] | None = None,
    ) -> Cart:
        """The signed-in shopper's cart after taking in a guest cart once.

        Quantities of the same SKU are added, capped by the per-line maximum and (when known)
        by the stock, but never below what the user already had; new SKUs join while the cart
        has room. A guest cart already merged changes nothing; a locked cart is not changed
        (the merge waits for the checkout to finish).
        """
        if guest_cart_id in self.merged_guest_carts or self.locked_by is not None:
            return self
        stock = None if available is None else dict(available)
        planned = merge_quantities(
            {ln.sku: ln.quantity for ln in self.lines},
            [(ln.sku, ln.quantity) for ln in guest.lines],
            limits,
            stock,
        )
        return replace(
            self,
            lines=tuple(CartLine(sku, qty) for sku, qty in planned.items()),
            version=self.version + 1,
            merged_guest_carts=self.merged_guest_carts | {guest_cart_id},
        )


def merge_quantities(
    user: Mapping[str, int],
    guest: list[tuple[str, int]],
    limits: Limits,
    available: Mapping[str, int] | None,
) -> dict[str, int]:
    """The merged lines in order (the user's first, then the guest's new SKUs)."""
    merged = dict(user)
    for sku, quantity in guest:
        have = merged.get(sku, 0)
        stock = None if available is None else available.get(sku, 0)
        cap = max(have, capacity(limits, stock))
        target = min(have + quantity, cap)
        if have or (target > 0 and len(merged) < limits.max_lines):
            merged[sku] = target
    return merged


@dataclass(frozen=True)
class LineAvailability:
    state: StockState
    buyable_quantity: int  # what one line can hold now: stock capped by the per-line maximum
    short: bool  # the line holds more than can be bought


def line_availability(
    quantity: int, available: int, level: StockState, limits: Limits
) -> LineAvailability:
    buyable = capacity(limits, available)
    state = StockState.OUT_OF_STOCK if available <= 0 else level
    return LineAvailability(state, buyable, quantity > max(available, 0))
