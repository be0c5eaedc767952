"""Property-based tests (hypothesis) of the pure cart rules, and of the SQL implementation
against them: the same random commands on the domain `Cart` and on the real service (SQLite)
give the same lines, versions and refusals."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from vanity_cart import domain
from vanity_cart.domain import Cart, CartLine, Limits, StockState
from vanity_cart.service import Shopper
from vanity_common.errors import ServiceError
from vanity_testkit import FakeClock

from .conftest import Shop, make_container

LIMITS = Limits(max_lines=3, max_quantity_per_line=5)
SKUS = ["A", "B", "C", "D"]
sku_st = st.sampled_from(SKUS)
qty_st = st.integers(-1, 7)
stock_st = st.one_of(st.none(), st.integers(0, 8))


def cart_st():
    lines = st.lists(
        st.tuples(sku_st, st.integers(1, LIMITS.max_quantity_per_line)),
        unique_by=lambda t: t[0],
        max_size=LIMITS.max_lines,
    )
    return lines.map(lambda ls: Cart(tuple(CartLine(s, q) for s, q in ls), version=len(ls)))


def check_invariants(cart: Cart) -> None:
    skus = [ln.sku for ln in cart.lines]
    assert len(skus) == len(set(skus)) <= LIMITS.max_lines
    assert all(1 <= ln.quantity <= LIMITS.max_quantity_per_line for ln in cart.lines)


def apply(cart: Cart, op: tuple) -> Cart:
    kind, sku, qty, stock = op
    try:
        if kind == "add":
            return cart.add(sku, qty, LIMITS, available=stock)
        if kind == "set":
            return cart.set_quantity(sku, qty, LIMITS, available=stock)
        if kind == "remove":
            return cart.remove(sku)
        return cart.clear()
    except domain.CartError:
        return cart


ops_st = st.lists(
    st.tuples(st.sampled_from(["add", "set", "remove", "clear"]), sku_st, qty_st, stock_st),
    max_size=30,
)


@given(ops_st)
def test_any_sequence_of_changes_keeps_the_rules(ops):
    cart = Cart()
    for op in ops:
        before = cart
        cart = apply(cart, op)
        check_invariants(cart)
        # the version moves exactly when the lines change, by one
        assert cart.version == before.version + (cart.lines != before.lines)


@given(cart_st(), ops_st)
def test_a_locked_cart_refuses_every_write(cart, ops):
    locked = cart.lock("order-1") if cart.lines else cart
    if not cart.lines:
        with pytest.raises(domain.CartEmpty):
            cart.lock("order-1")
        return
    assert locked.lock("order-1") == locked  # idempotent
    with pytest.raises(domain.CartLocked):
        locked.lock("order-2")
    for kind, sku, qty, stock in ops:
        with pytest.raises((domain.CartLocked, domain.InvalidInput)):
            if kind == "add":
                locked.add(sku, qty, LIMITS, available=stock)
            elif kind == "set":
                locked.set_quantity(sku, qty, LIMITS, available=stock)
            elif kind == "remove":
                locked.remove(sku)
            else:
                locked.clear()
    assert locked.unlock("order-2") == locked
    assert locked.unlock("order-1").locked_by is None


@given(
    cart_st(),
    cart_st(),
    st.one_of(st.none(), st.dictionaries(sku_st, st.integers(0, 8))),
)
def test_merge_adds_caps_and_happens_once(user, guest, stock):
    merged = user.merge("guest-1", guest, LIMITS, stock)
    mine = {ln.sku: ln.quantity for ln in user.lines}
    theirs = {ln.sku: ln.quantity for ln in guest.lines}
    result = {ln.sku: ln.quantity for ln in merged.lines}
    check_invariants(merged)
    assert merged.version == user.version + 1
    assert merged.merge("guest-1", guest, LIMITS, stock) == merged  # a retried merge
    for sku, quantity in result.items():
        have = mine.get(sku, 0)
        assert quantity >= have  # never takes away what the user had
        assert quantity <= have + theirs.get(sku, 0)
        cap = domain.capacity(LIMITS, None if stock is None else stock.get(sku, 0))
        assert quantity <= max(have, cap)
    for sku in mine:
        assert sku in result
    for sku, quantity in theirs.items():
        if sku not in mine and sku not in result:
            # dropped only for want of room or stock
            room = len(result) >= LIMITS.max_lines
            assert (
                room or domain.capacity(LIMITS, None if stock is None else stock.get(sku, 0)) == 0
            )
        elif sku in mine:
            cap = domain.capacity(LIMITS, None if stock is None else stock.get(sku, 0))
            assert result[sku] == max(mine[sku], min(mine[sku] + quantity, cap))


def test_a_locked_cart_defers_the_merge():
    user = Cart((CartLine("A", 1),), version=1).lock("order-1")
    guest = Cart((CartLine("B", 1),), version=1)
    assert user.merge("g", guest, LIMITS) == user


def test_input_rules():
    assert domain.validate_sku("  LIP-1 ") == "LIP-1"
    for bad in ["", "   ", "x" * 65, "A\nB"]:
        with pytest.raises(domain.InvalidInput):
            domain.validate_sku(bad)
    for bad in [0, -1, 6, True, 1.0, "1"]:
        with pytest.raises(domain.InvalidInput):
            domain.validate_quantity(bad, LIMITS)
    assert domain.validate_quantity(0, LIMITS, allow_zero=True) == 0
    assert [domain.parse_version(v) for v in ['"3"', 'W/"4"', "5", "*", None]] == [
        3,
        4,
        5,
        None,
        None,
    ]
    for bad in ["", "abc", '"-1"', '"1.5"', "9" * 30]:
        with pytest.raises(domain.InvalidInput):
            domain.parse_version(bad)
    token = domain.new_guest_token()
    assert len(token) >= 43 and domain.new_guest_token() != token
    assert domain.hash_guest_token(token) != token and len(domain.hash_guest_token(token)) == 64


@given(st.integers(1, 5), st.integers(-3, 20), st.sampled_from(list(StockState)))
def test_line_availability(quantity, available, level):
    shown = domain.line_availability(quantity, available, level, LIMITS)
    assert 0 <= shown.buyable_quantity <= LIMITS.max_quantity_per_line
    assert shown.buyable_quantity <= max(available, 0)
    assert shown.short == (quantity > max(available, 0))
    if available <= 0:
        assert shown.state is StockState.OUT_OF_STOCK


# --------------------------------------------------------------- SQL behaves like the model


class SqlMatchesModel(RuleBasedStateMachine):
    """Each rule runs a command on the domain cart and on the real service (SQLite)."""

    @initialize()
    def start(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.folder = Path(tempfile.mkdtemp())
        self.shop = Shop()
        for sku in SKUS:
            self.shop.product(sku, 100, 8)
        self.container = self.loop.run_until_complete(
            make_container(
                f"sqlite+aiosqlite:///{self.folder / 'cart.db'}",
                self.folder,
                FakeClock(),
                self.shop,
                max_lines=LIMITS.max_lines,
                max_quantity_per_line=LIMITS.max_quantity_per_line,
            )
        )
        self.model = Cart()
        self.shopper = Shopper(user_id="alice")

    def teardown(self) -> None:
        if hasattr(self, "container"):
            self.loop.run_until_complete(self.container.aclose())
            self.loop.close()
            shutil.rmtree(self.folder, ignore_errors=True)

    def both(self, model_change, service_call) -> None:
        try:
            expected = model_change(self.model)
        except domain.CartError as exc:
            expected = exc
        try:
            self.loop.run_until_complete(service_call(self.container.cart))
            outcome = None
        except ServiceError as exc:
            outcome = exc
        if isinstance(expected, domain.CartError):
            assert outcome is not None, f"service accepted what the model refused: {expected}"
        else:
            assert outcome is None, f"service refused what the model accepted: {outcome}"
            self.model = expected

    @rule(sku=sku_st, qty=qty_st, stock=st.integers(0, 8))
    def add(self, sku, qty, stock):
        self.shop.stock[sku] = stock
        self.both(
            lambda m: m.add(sku, qty, LIMITS, available=stock),
            lambda s: s.add_item(self.shopper, sku, qty),
        )

    @rule(sku=sku_st, qty=qty_st, stock=st.integers(0, 8))
    def set(self, sku, qty, stock):
        self.shop.stock[sku] = stock
        self.both(
            lambda m: m.set_quantity(sku, qty, LIMITS, available=stock),
            lambda s: s.set_quantity(self.shopper, sku, qty),
        )

    @rule(sku=sku_st)
    def remove(self, sku):
        self.both(lambda m: m.remove(sku), lambda s: s.remove_item(self.shopper, sku))

    @precondition(lambda self: self.model.version % 4 == 3)
    @rule()
    def clear(self):
        self.both(lambda m: m.clear(), lambda s: s.clear(self.shopper))

    @rule(stale=st.booleans())
    def add_with_version(self, stale):
        expected = self.model.version - 1 if stale else self.model.version
        self.shop.stock["A"] = 8
        self.both(
            lambda m: m.add("A", 1, LIMITS, available=8, expected_version=expected),
            lambda s: s.add_item(self.shopper, "A", 1, expected),
        )

    @invariant()
    def same_cart(self):
        if not hasattr(self, "container"):
            return
        view = self.loop.run_until_complete(self.container.cart.get_cart(self.shopper))
        assert sorted((ln.sku, ln.quantity) for ln in view.lines) == sorted(
            (ln.sku, ln.quantity) for ln in self.model.lines
        )
        assert view.version == self.model.version


TestSqlMatchesModel = SqlMatchesModel.TestCase
TestSqlMatchesModel.settings = settings(
    max_examples=25,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
