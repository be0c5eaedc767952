"""Cart use cases: commands in, views out, one write transaction each (REST, gRPC and tasks).

Live data: every view prices its lines with one `GetVariants` call to catalog and shows stock
with one `GetAvailability` call to inventory, made together and never inside a transaction.
Stored quantities are the only truth the cart keeps; prices are never stored. When a
dependency does not answer, reads still answer (lines flagged `live = False`) and writes that
need it fail fast with 503 `DEPENDENCY_UNAVAILABLE`.

Who owns a cart: a signed-in user (found by user id) or a guest (found by the SHA-256 of an
opaque token). A signed-in request carrying a guest token merges that guest cart into the
user's, once; the guest token then stops working.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta

import grpc
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from vanity_common.clock import Clock, utcnow
from vanity_common.db import Database
from vanity_common.errors import (
    FailedPrecondition,
    FieldError,
    InvalidArgument,
    NotFound,
    ServiceError,
)

from vanity_cart import domain, metrics
from vanity_cart import repository as repo
from vanity_cart.domain import Limits, LineAvailability, StockState
from vanity_cart.ports import (
    DEPENDENCY_ERRORS,
    CatalogPort,
    InventoryPort,
    StockInfo,
    VariantInfo,
)

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- commands/views


@dataclass(frozen=True)
class Shopper:
    """Who asks: a verified user id, a guest's cart token, or both (right after sign-in)."""

    user_id: str | None = None
    guest_token: str | None = None


@dataclass(frozen=True)
class Money:
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class LineView:
    sku: str
    quantity: int
    name: str | None = None
    brand: str | None = None
    variant_name: str | None = None  # shade or size
    image_url: str | None = None
    product_slug: str | None = None
    unit_price: Money | None = None
    line_total: Money | None = None
    on_sale: bool | None = None  # None: catalog did not answer; False: withdrawn or unknown
    availability: LineAvailability | None = None  # None: inventory did not answer
    live: bool = False  # price and stock both came from their services just now


@dataclass(frozen=True)
class CartView:
    cart_id: str | None
    user_id: str | None
    lines: tuple[LineView, ...]
    version: int
    locked_by: str | None
    # The guest token the client must keep sending (X-Cart-Token); None: forget any token.
    cart_token: str | None
    # Dependencies that did not answer for this view (its lines lack their live data).
    degraded: tuple[str, ...] = ()
    merged: bool = False  # a guest cart joined this cart during this request

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def subtotal(self) -> Money | None:
        """The total of the lines that can be bought at a live price (None: nothing priced, or
        prices in several currencies)."""
        totals = [ln.line_total for ln in self.lines if ln.line_total and ln.on_sale]
        if not totals or len({m.currency for m in totals}) != 1:
            return None
        return Money(sum(m.amount_minor for m in totals), totals[0].currency)


class NotEnoughStockError(ServiceError):
    """409 that says how many units can be bought (the figures are members of the problem)."""

    def __init__(self, error: domain.NotEnoughStock) -> None:
        super().__init__(
            message=str(error),
            reason=error.reason,
            errors=[FieldError("quantity", str(error))],
            http_status=409,
            grpc_code=grpc.StatusCode.FAILED_PRECONDITION,
            extensions={
                "sku": error.sku,
                "available_quantity": error.available,
                "quantity_in_cart": error.in_cart,
            },
        )
        self.sku = error.sku
        self.available = error.available
        self.in_cart = error.in_cart


def _version_mismatch(error: domain.VersionMismatch) -> ServiceError:
    return ServiceError(
        message=str(error),
        reason=error.reason,
        http_status=412,
        grpc_code=grpc.StatusCode.FAILED_PRECONDITION,
        headers={"ETag": f'"{error.current}"'},
    )


@contextmanager
def _translated():
    """Domain and port failures become the chassis errors every entry point renders."""
    try:
        yield
    except domain.InvalidInput as exc:
        raise InvalidArgument(
            str(exc), reason="VALIDATION_FAILED", errors=[FieldError(exc.field, str(exc))]
        ) from exc
    except domain.CartFull as exc:
        raise InvalidArgument(
            str(exc), reason=exc.reason, errors=[FieldError("sku", str(exc))]
        ) from exc
    except domain.LineNotFound as exc:
        raise NotFound(str(exc), reason=exc.reason, errors=[FieldError("sku", str(exc))]) from exc
    except domain.NotEnoughStock as exc:
        raise NotEnoughStockError(exc) from exc
    except domain.VersionMismatch as exc:
        raise _version_mismatch(exc) from exc
    except (domain.CartLocked, domain.CartEmpty) as exc:
        raise FailedPrecondition(str(exc), reason=exc.reason) from exc


class _NoChange(Exception):
    """The command turned out to change nothing: roll back the version bump."""


class _Retry(Exception):
    """The line changed between the look and the write: decide again."""


@dataclass(frozen=True)
class _Live:
    asked: frozenset[str]
    variants: dict[str, VariantInfo] | None
    stock: dict[str, StockInfo] | None

    @property
    def degraded(self) -> tuple[str, ...]:
        return tuple(
            name
            for name, data in (("catalog", self.variants), ("inventory", self.stock))
            if data is None
        )


# ------------------------------------------------------------------------------- the service


class CartService:
    def __init__(
        self,
        db: Database,
        catalog: CatalogPort,
        inventory: InventoryPort,
        limits: Limits,
        *,
        guest_cart_ttl: timedelta = timedelta(days=30),
        clock: Clock = utcnow,
        write_attempts: int = 8,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.inventory = inventory
        self.limits = limits
        self.guest_cart_ttl = guest_cart_ttl
        self.clock = clock
        self.write_attempts = write_attempts

    # ------------------------------------------------------------------------ plumbing

    async def _write(self, work: Callable[[AsyncConnection], Awaitable]):
        """Runs `work` in a fresh unit of work (the chassis' write transaction), again from the
        start on deadlock. `work` does database I/O only: it may run more than once."""
        return await self.db.write(
            lambda uow: work(uow.conn),
            attempts=self.write_attempts,
            on_retry=metrics.TX_RETRIES.inc,
        )

    async def _live(self, skus: Iterable[str], *, required: bool = False) -> _Live:
        """Catalog and inventory for these SKUs, asked at the same time (one call each)."""
        wanted = sorted(set(skus))
        if not wanted:
            return _Live(frozenset(), {}, {})
        variants, stock = await asyncio.gather(
            self.catalog.get_variants(wanted),
            self.inventory.get_availability(wanted),
            return_exceptions=True,
        )
        for name, result in (("catalog", variants), ("inventory", stock)):
            if not isinstance(result, BaseException):
                continue
            if not isinstance(result, DEPENDENCY_ERRORS) or required:
                raise result  # a write that needs it answers 503 (502) at once
            metrics.DEGRADED_VIEWS.labels(name).inc()
            log.warning(
                "cart answered without live %s data: %s",
                name,
                getattr(result, "failure", result),
                extra={"dependency": name},
            )
        return _Live(
            frozenset(wanted),
            None if isinstance(variants, BaseException) else variants,
            None if isinstance(stock, BaseException) else stock,
        )

    def _line(self, sku: str, quantity: int, live: _Live) -> LineView:
        if sku not in live.asked:  # added by a concurrent request after the look-up
            return LineView(sku, quantity)
        variant = None if live.variants is None else live.variants.get(sku)
        stock = None if live.stock is None else live.stock.get(sku)
        availability = None
        if live.stock is not None:
            available, level = (
                (stock.available, stock.level) if stock else (0, StockState.OUT_OF_STOCK)
            )
            availability = domain.line_availability(quantity, available, level, self.limits)
        if variant is None:
            return LineView(
                sku,
                quantity,
                on_sale=None if live.variants is None else False,
                availability=availability,
                live=False,
            )
        price = Money(variant.price_minor, variant.currency)
        return LineView(
            sku=sku,
            quantity=quantity,
            name=variant.product_name,
            brand=variant.brand_name,
            variant_name=variant.variant_name,
            image_url=variant.image_url or None,
            product_slug=variant.product_slug,
            unit_price=price,
            line_total=Money(price.amount_minor * quantity, price.currency),
            on_sale=variant.on_sale,
            availability=availability,
            live=availability is not None,
        )

    def _view(
        self,
        stored: repo.StoredCart | None,
        live: _Live,
        *,
        user_id: str | None,
        cart_token: str | None,
        merged: bool = False,
    ) -> CartView:
        if stored is None:
            return CartView(None, user_id, (), 0, None, cart_token)
        lines = tuple(self._line(sku, qty, live) for sku, qty in stored.lines)
        return CartView(
            cart_id=stored.row.id,
            user_id=stored.row.user_id,
            lines=lines,
            version=stored.row.version,
            locked_by=stored.row.locked_by,
            cart_token=cart_token,
            degraded=live.degraded if stored.lines else (),
            merged=merged,
        )

    def _unpriced(self, stored: repo.StoredCart | None, **kwargs) -> CartView:
        """Quantities only: no dependency is asked (so none is missing either)."""
        return self._view(stored, _Live(frozenset(), {}, {}), **kwargs)

    async def _priced(self, stored: repo.StoredCart | None, **kwargs) -> CartView:
        live = await self._live(sku for sku, _ in (stored.lines if stored else ()))
        return self._view(stored, live, **kwargs)

    async def _read(self, fetch) -> repo.StoredCart | None:
        async with self.db.connect() as conn:
            return await fetch(conn)

    async def _user_cart(self, user_id: str) -> repo.StoredCart:
        """The user's cart, created on first need (a concurrent creation wins harmlessly)."""
        stored = await self._read(lambda c: repo.cart_of_user(c, user_id))
        if stored is not None:
            return stored
        with suppress(IntegrityError):  # created meanwhile by a concurrent request
            await self._write(
                lambda c: repo.insert_cart(c, uuid.uuid4().hex, self.clock(), user_id=user_id)
            )
        stored = await self._read(lambda c: repo.cart_of_user(c, user_id))
        assert stored is not None
        return stored

    async def _new_guest_cart(self) -> tuple[repo.StoredCart, str]:
        token = domain.new_guest_token()
        cart_id = uuid.uuid4().hex
        await self._write(
            lambda c: repo.insert_cart(
                c, cart_id, self.clock(), token_hash=domain.hash_guest_token(token)
            )
        )
        stored = await self._read(lambda c: repo.cart_by_id(c, cart_id))
        assert stored is not None
        return stored, token

    async def _guest_cart(self, token: str | None) -> repo.StoredCart | None:
        if not token:
            return None
        digest = domain.hash_guest_token(token)
        return await self._read(lambda c: repo.guest_cart(c, digest))

    async def _resolve(self, shopper: Shopper) -> tuple[repo.StoredCart | None, str | None, bool]:
        """The shopper's cart (None: none yet), the token to hand back, and whether a guest
        cart merged into it now. Creates nothing: only an accepted add does (`_create`)."""
        if shopper.user_id:
            merged, keep_token = False, None
            if shopper.guest_token:
                outcome = await self._merge(shopper.user_id, shopper.guest_token)
                metrics.MERGES.labels(outcome).inc()
                merged = outcome == "merged"
                keep_token = shopper.guest_token if outcome == "deferred" else None
            stored = await self._read(lambda c: repo.cart_of_user(c, shopper.user_id))
            return stored, keep_token, merged
        stored = await self._guest_cart(shopper.guest_token)
        if stored is not None:
            return stored, shopper.guest_token, False
        return None, None, False  # no token, or an unknown or stale one: simply forgotten

    async def _create(self, shopper: Shopper) -> tuple[repo.StoredCart, str | None]:
        """A first cart: the user's, or a guest's with a new token."""
        if shopper.user_id:
            return await self._user_cart(shopper.user_id), None
        return await self._new_guest_cart()

    async def _claim(
        self, conn: AsyncConnection, cart_id: str, expected_version: int | None
    ) -> None:
        """Version + 1 and the row lock, or the reason this cart cannot change now."""
        if await repo.claim_for_write(conn, cart_id, expected_version, self.clock()):
            return
        row = await repo.header(conn, cart_id)
        if row is None:  # expired between the look-up and the write
            raise FailedPrecondition("This cart no longer exists; reload it.", reason="CART_GONE")
        if row.locked_by is not None:
            raise domain.CartLocked(
                "A checkout is in progress for this cart; it cannot change now."
            )
        raise domain.VersionMismatch(row.version)

    # ------------------------------------------------------------------------ reads

    async def get_cart(self, shopper: Shopper) -> CartView:
        stored, token, merged = await self._resolve(shopper)
        return await self._priced(stored, user_id=shopper.user_id, cart_token=token, merged=merged)

    async def get_user_cart(self, user_id: str) -> CartView:
        with _translated():
            user_id = _user_id(user_id)
        stored = await self._read(lambda c: repo.cart_of_user(c, user_id))
        return await self._priced(stored, user_id=user_id, cart_token=None)

    # ------------------------------------------------------------------------ writes

    async def add_item(
        self, shopper: Shopper, sku: str, quantity: int, expected_version: int | None = None
    ) -> CartView:
        with _translated():
            sku = domain.validate_sku(sku)
            domain.validate_quantity(quantity, self.limits)
        stored, token, merged = await self._resolve(shopper)
        in_cart = [s for s, _ in stored.lines] if stored else []
        live = await self._live([sku, *in_cart], required=True)
        variant = live.variants.get(sku) if live.variants is not None else None
        if variant is None:
            raise InvalidArgument(
                f"Unknown SKU: {sku}",
                reason="UNKNOWN_SKU",
                errors=[FieldError("sku", "no product has this SKU")],
            )
        if not variant.on_sale:
            raise InvalidArgument(
                f"{sku} is not on sale.",
                reason="NOT_ON_SALE",
                errors=[FieldError("sku", "this product is not on sale")],
            )
        stock = live.stock.get(sku) if live.stock is not None else None
        available = stock.available if stock else 0
        if stored is None:  # the first accepted add creates the cart (and a guest's token)
            stored, new_token = await self._create(shopper)
            token = new_token or token
        cart_id = stored.row.id

        async def work(conn: AsyncConnection) -> repo.StoredCart:
            await self._claim(conn, cart_id, expected_version)
            current = await repo.line_quantity(conn, cart_id, sku)
            wanted = current + quantity
            if wanted > self.limits.max_quantity_per_line:
                raise domain.InvalidInput(
                    "quantity",
                    f"at most {self.limits.max_quantity_per_line} per line"
                    f" ({current} already in the cart)",
                )
            if wanted > available:
                raise domain.NotEnoughStock(sku, available, current)
            if current:
                cap = domain.capacity(self.limits, available)
                if not await repo.add_to_line(conn, cart_id, sku, quantity, cap):
                    raise AssertionError("the cart row lock keeps the line stable")
            else:
                if await repo.line_count(conn, cart_id) >= self.limits.max_lines:
                    raise domain.CartFull(
                        f"A cart holds at most {self.limits.max_lines} different products."
                    )
                await repo.insert_line(conn, cart_id, sku, quantity, self.clock())
            return await repo.cart_by_id(conn, cart_id)

        with _translated():
            updated = await self._write(work)
        return self._view(updated, live, user_id=shopper.user_id, cart_token=token, merged=merged)

    async def set_quantity(
        self, shopper: Shopper, sku: str, quantity: int, expected_version: int | None = None
    ) -> CartView:
        """Sets a line; 0 removes it. Lowering works even when catalog and inventory are down."""
        with _translated():
            sku = domain.validate_sku(sku)
            domain.validate_quantity(quantity, self.limits, allow_zero=True)
        if quantity == 0:  # removes the line, which must be there (unlike DELETE)

            async def remove(conn: AsyncConnection, cart_id: str) -> bool:
                if not await repo.delete_line(conn, cart_id, sku):
                    raise domain.LineNotFound(f"{sku} is not in the cart.")
                return True

            return await self._change(shopper, expected_version, remove, required_sku=sku)
        stored, token, merged = await self._resolve(shopper)
        if stored is None and expected_version not in (None, 0):
            with _translated():
                raise domain.VersionMismatch(0)
        for _ in range(3):
            current = dict(stored.lines).get(sku, 0) if stored else 0
            if not current:
                with _translated():
                    raise domain.LineNotFound(f"{sku} is not in the cart.")
            try:
                updated, live = await self._set_line(
                    stored, sku, quantity, current, expected_version
                )
            except _Retry:  # the line shrank meanwhile: raising it now needs the stock figure
                stored = await self._read(lambda c, i=stored.row.id: repo.cart_by_id(c, i))
                continue
            return self._view(
                updated, live, user_id=shopper.user_id, cart_token=token, merged=merged
            )
        raise FailedPrecondition("The cart keeps changing; try again.", reason="CART_BUSY")

    async def _set_line(
        self,
        stored: repo.StoredCart,
        sku: str,
        quantity: int,
        current: int,
        expected_version: int | None,
    ) -> tuple[repo.StoredCart, _Live]:
        raising = quantity > current
        live = await self._live([s for s, _ in stored.lines], required=raising)
        cap = None  # lowering: no stock figure needed
        if raising:
            variant = live.variants.get(sku)
            if variant is None or not variant.on_sale:
                raise InvalidArgument(
                    f"{sku} is not on sale.",
                    reason="NOT_ON_SALE",
                    errors=[FieldError("sku", "this product is not on sale")],
                )
            stock = live.stock.get(sku)
            cap = stock.available if stock else 0
        cart_id = stored.row.id

        async def work(conn: AsyncConnection) -> repo.StoredCart:
            await self._claim(conn, cart_id, expected_version)
            now_have = await repo.line_quantity(conn, cart_id, sku)
            if not now_have:
                raise domain.LineNotFound(f"{sku} is not in the cart.")
            if now_have == quantity:
                raise _NoChange
            if not await repo.set_line(conn, cart_id, sku, quantity, cap):
                if cap is not None:
                    raise domain.NotEnoughStock(sku, cap, now_have)
                raise _Retry
            return await repo.cart_by_id(conn, cart_id)

        try:
            with _translated():
                return await self._write(work), live
        except _NoChange:  # already at that quantity: the version stays
            return await self._read(lambda c: repo.cart_by_id(c, cart_id)), live

    async def remove_item(
        self, shopper: Shopper, sku: str, expected_version: int | None = None
    ) -> CartView:
        """Removing a line that is not there answers the cart unchanged."""
        with _translated():
            sku = domain.validate_sku(sku)

        async def change(conn: AsyncConnection, cart_id: str) -> bool:
            return await repo.delete_line(conn, cart_id, sku)

        return await self._change(shopper, expected_version, change)

    async def clear(self, shopper: Shopper, expected_version: int | None = None) -> CartView:
        async def change(conn: AsyncConnection, cart_id: str) -> bool:
            return await repo.delete_lines(conn, cart_id) > 0

        return await self._change(shopper, expected_version, change)

    async def _change(
        self,
        shopper: Shopper,
        expected_version: int | None,
        change,
        *,
        required_sku: str | None = None,
    ) -> CartView:
        """A write that needs no live data: claim, change, roll back when nothing changed.
        With `required_sku`, a shopper without a cart gets LINE_NOT_FOUND for it."""
        stored, token, merged = await self._resolve(shopper)
        if stored is not None:
            cart_id = stored.row.id

            async def work(conn: AsyncConnection) -> repo.StoredCart:
                await self._claim(conn, cart_id, expected_version)
                if not await change(conn, cart_id):
                    raise _NoChange
                return await repo.cart_by_id(conn, cart_id)

            try:
                with _translated():
                    stored = await self._write(work)
            except _NoChange:
                stored = await self._read(lambda c: repo.cart_by_id(c, cart_id))
        else:
            with _translated():
                if expected_version not in (None, 0):
                    raise domain.VersionMismatch(0)
                if required_sku is not None:
                    raise domain.LineNotFound(f"{required_sku} is not in the cart.")
        return await self._priced(stored, user_id=shopper.user_id, cart_token=token, merged=merged)

    # ------------------------------------------------------------------------ merge

    async def _merge(self, user_id: str, guest_token: str) -> str:
        """Merges a live guest cart into the user's: "merged", "none" (unknown, stale or
        already merged token: nothing to do) or "deferred" (the user's cart is locked by a
        checkout; the guest cart stays as it is and merges on a later request)."""
        guest = await self._guest_cart(guest_token)
        if guest is None:
            return "none"
        if guest.lines:
            try:
                stock = await self.inventory.get_availability([s for s, _ in guest.lines])
            except DEPENDENCY_ERRORS as exc:
                # Availability is checked again at checkout; the merge still caps by the maximum.
                log.warning("merging a guest cart without stock figures: %s", exc)
                stock = None
        else:
            stock = {}
        available = None if stock is None else {s: i.available for s, i in stock.items()}
        user_cart = await self._user_cart(user_id)
        now = self.clock()

        async def work(conn: AsyncConnection) -> str:
            # Lock order: the guest cart (claimed once, for good), then the user's cart.
            if not await repo.mark_merged(conn, guest.row.id, user_cart.row.id, now):
                return "none"
            if not await repo.claim_for_write(conn, user_cart.row.id, None, now):
                raise _NoChange  # locked by a checkout: undo the claim, merge later
            mine = await repo.cart_by_id(conn, user_cart.row.id)
            theirs = await repo.cart_by_id(conn, guest.row.id)
            have = dict(mine.lines)
            planned = domain.merge_quantities(have, list(theirs.lines), self.limits, available)
            for sku, quantity in planned.items():
                if sku not in have:
                    await repo.insert_line(conn, user_cart.row.id, sku, quantity, now)
                elif quantity > have[sku]:
                    await repo.add_to_line(
                        conn, user_cart.row.id, sku, quantity - have[sku], quantity
                    )
            await repo.delete_lines(conn, guest.row.id)
            return "merged"

        try:
            return await self._write(work)
        except _NoChange:
            return "deferred"

    # ------------------------------------------------------------------------ checkout (gRPC)

    async def lock_for_checkout(self, user_id: str, checkout_id: str) -> CartView:
        """Freezes the user's cart for one checkout; the same checkout may ask again."""
        with _translated():
            user_id = _user_id(user_id)
            checkout_id = domain.validate_checkout_id(checkout_id)
        now = self.clock()

        async def work(conn: AsyncConnection) -> repo.StoredCart:
            stored = await repo.cart_of_user(conn, user_id)
            if stored is None:
                raise domain.CartEmpty("The cart is empty.")
            if not await repo.lock(conn, stored.row.id, checkout_id, now):
                row = await repo.header(conn, stored.row.id)
                if row is not None and row.locked_by == checkout_id:
                    return await repo.cart_by_id(conn, stored.row.id)
                raise domain.CartLocked("Another checkout is in progress for this cart.")
            locked = await repo.cart_by_id(conn, stored.row.id)  # stable: the row is ours now
            if not locked.lines:
                raise domain.CartEmpty("The cart is empty.")
            return locked

        with _translated():
            stored = await self._write(work)
        return await self._priced(stored, user_id=user_id, cart_token=None)

    async def unlock_for_checkout(self, user_id: str, checkout_id: str) -> CartView:
        """Releases the lock `checkout_id` holds; a no-op otherwise (retries, late calls).
        Answers quantities only: a compensation must not depend on catalog or inventory."""
        with _translated():
            user_id = _user_id(user_id)
            checkout_id = domain.validate_checkout_id(checkout_id)

        async def work(conn: AsyncConnection) -> repo.StoredCart | None:
            stored = await repo.cart_of_user(conn, user_id)
            if stored is not None and await repo.unlock(conn, stored.row.id, checkout_id):
                return await repo.cart_by_id(conn, stored.row.id)
            return stored

        stored = await self._write(work)
        return self._unpriced(stored, user_id=user_id, cart_token=None)

    async def clear_for_checkout(self, user_id: str, checkout_id: str) -> CartView:
        """Empties the cart `checkout_id` locked and unlocks it. Repeats are no-ops, and so is a
        call from a checkout that does not hold the lock: whatever the shopper put in since is
        never thrown away."""
        with _translated():
            user_id = _user_id(user_id)
            checkout_id = domain.validate_checkout_id(checkout_id)
        now = self.clock()

        async def work(conn: AsyncConnection) -> repo.StoredCart | None:
            stored = await repo.cart_of_user(conn, user_id)
            if stored is not None and await repo.release_for_clear(
                conn, stored.row.id, checkout_id, now
            ):
                await repo.delete_lines(conn, stored.row.id)
                return await repo.cart_by_id(conn, stored.row.id)
            return stored

        stored = await self._write(work)
        return self._unpriced(stored, user_id=user_id, cart_token=None)

    # ------------------------------------------------------------------------ housekeeping

    async def expire_guest_carts(self, batch: int = 500) -> int:
        """Deletes guest carts untouched for `guest_cart_ttl` (merged ones included), in
        batches of short transactions. Safe to run at any time and from several workers."""
        idle_since = self.clock() - self.guest_cart_ttl
        removed = 0
        while True:
            ids = await self._read(lambda c: repo.abandoned_guest_carts(c, idle_since, batch))
            if not ids:
                return removed
            deleted = await self._write(lambda c, ids=ids: repo.delete_carts(c, ids, idle_since))
            metrics.GUEST_CARTS_EXPIRED.inc(deleted)
            removed += deleted
            if len(ids) < batch:
                return removed


def _user_id(user_id: str) -> str:
    user_id = (user_id or "").strip()
    if not user_id:
        raise domain.InvalidInput("user_id", "user_id is required")
    if len(user_id) > 64:
        raise domain.InvalidInput("user_id", "user_id is at most 64 characters")
    return user_id
