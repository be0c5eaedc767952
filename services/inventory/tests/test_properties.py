"""Property-based tests (hypothesis).

1. The domain model: any sequence of reserve/commit/release/expire/adjust/restock with time
   moving forward keeps the invariants (no negative stock, reserved = active lines, ledger sums =
   balances, availability within bounds).
2. The SQL implementation behaves like the model: the same random operations run against the
   real service (SQLite, injected clock) give the same outcomes, availability and statuses, and
   the database's ledger stays consistent.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from vanity_common.db import Database
from vanity_common.errors import ServiceError
from vanity_common.migrations import migrate
from vanity_inventory import domain
from vanity_inventory.domain import ReservationStatus, effective_status
from vanity_inventory.service import InventoryService
from vanity_testkit import T0, FakeClock

from .conftest import assert_ledger_consistent
from .inventory_model import InventoryModel

SKUS = ["A", "B", "C"]
ORDERS = [f"o{i}" for i in range(6)]
lines_strategy = st.dictionaries(st.sampled_from(SKUS), st.integers(1, 4), min_size=1, max_size=3)


def test_invalid_transitions_are_refused():
    now = T0
    later = now + timedelta(seconds=1)
    with pytest.raises(domain.ReservationExpired):
        domain.decide_commit(ReservationStatus.ACTIVE, now, now)  # at expiry time exactly
    with pytest.raises(domain.ReservationExpired):
        domain.decide_commit(ReservationStatus.EXPIRED, later, now)
    with pytest.raises(domain.ReservationReleased):
        domain.decide_commit(ReservationStatus.RELEASED, later, now)
    with pytest.raises(domain.ReservationCommitted):
        domain.decide_release(ReservationStatus.COMMITTED, later, now)
    assert domain.decide_commit(ReservationStatus.COMMITTED, now, later) is (
        domain.CommitAction.ALREADY_COMMITTED
    )
    assert domain.decide_release(ReservationStatus.ACTIVE, now, now) is domain.ReleaseAction.EXPIRE
    assert domain.normalise_lines([("B", 1), ("A", 2), ("B", 3)]) == {"A": 2, "B": 4}
    assert list(domain.normalise_lines([("Z", 1), ("A", 1)])) == ["A", "Z"]  # lock order


class ModelMachine(RuleBasedStateMachine):
    """Drives the pure model; invariants are checked after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.model = InventoryModel()
        self.now = T0

    @initialize(stock=st.lists(st.integers(0, 8), min_size=3, max_size=3))
    def start(self, stock):
        for sku, qty in zip(SKUS, stock, strict=True):
            self.model.restock(sku, qty)

    @rule(order=st.sampled_from(ORDERS), lines=lines_strategy, ttl=st.integers(1, 60))
    def reserve(self, order, lines, ttl):
        before = {s: self.model.available(s, self.now) for s in SKUS}
        try:
            self.model.reserve(order, dict(sorted(lines.items())), ttl, self.now)
        except domain.InsufficientStock as exc:
            assert any(before[s] < lines[s] for s in exc.skus)
        except domain.ReservationMismatch:
            assert order in self.model.reservations

    @rule(order=st.sampled_from(ORDERS))
    def commit(self, order):
        on_hand = {s: self.model.stock[s].on_hand for s in SKUS}
        try:
            r = self.model.commit(order, self.now)
        except (domain.ReservationNotFound, domain.ReservationReleased):
            return
        except domain.ReservationExpired:
            assert {s: self.model.stock[s].on_hand for s in SKUS} == on_hand  # never sold
            return
        assert r.status is ReservationStatus.COMMITTED

    @rule(order=st.sampled_from(ORDERS))
    def release(self, order):
        try:
            self.model.release(order, self.now)
        except domain.ReservationCommitted:
            assert self.model.reservations[order].status is ReservationStatus.COMMITTED

    @rule(seconds=st.integers(0, 40))
    def tick(self, seconds):
        self.now += timedelta(seconds=seconds)

    @rule()
    def expire_job(self):
        self.model.expire_due(self.now)
        for r in self.model.reservations.values():
            assert not (r.status is ReservationStatus.ACTIVE and r.expires_at <= self.now)

    @rule(sku=st.sampled_from(SKUS), delta=st.integers(-5, 5).filter(bool))
    def adjust(self, sku, delta):
        try:
            self.model.adjust(sku, delta, self.now)
        except domain.BelowReserved:
            s = self.model.stock[sku]
            assert s.on_hand + delta < s.reserved

    @invariant()
    def invariants(self):
        self.model.check_invariants(self.now)


ModelMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)
TestModel = ModelMachine.TestCase


_TEMPLATE = Path(tempfile.mkdtemp(prefix="inv-props-")) / "template.db"


def _migrated_copy(target: Path) -> str:
    """A fresh database per example, copied from one migrated template (fast shrinking)."""
    if not _TEMPLATE.exists():
        asyncio.run(migrate("vanity_inventory", f"sqlite+aiosqlite:///{_TEMPLATE}"))
    shutil.copyfile(_TEMPLATE, target)
    return f"sqlite+aiosqlite:///{target}"


class DifferentialMachine(RuleBasedStateMachine):
    """The real service on SQLite vs the model, step by step."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        url = _migrated_copy(Path(self.tmp.name) / "p.db")
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock()
        self.model = InventoryModel()
        self.service = InventoryService(Database(url), 5, clock=self.clock)

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def teardown(self):
        self.run(self.service.db.dispose())
        self.loop.close()
        self.tmp.cleanup()

    def both(self, real, model):
        """Runs one operation on both; they must agree on success or on the error reason."""
        try:
            model_result, model_error = model(), None
        except domain.DomainError as exc:
            model_result, model_error = None, exc.reason
        try:
            real_result, real_error = self.run(real), None
        except ServiceError as exc:
            real_result, real_error = None, exc.reason
        assert real_error == model_error, (real_error, model_error)
        return real_result, model_result

    @initialize(stock=st.lists(st.integers(0, 8), min_size=3, max_size=3))
    def start(self, stock):
        for sku, qty in zip(SKUS, stock, strict=True):
            self.model.restock(sku, qty)
            self.run(self.service.set_stock(sku, qty, "initial stock", actor="test"))

    @rule(order=st.sampled_from(ORDERS), lines=lines_strategy, ttl=st.integers(1, 60))
    def reserve(self, order, lines, ttl):
        real, model = self.both(
            self.service.reserve(order, list(lines.items()), ttl),
            lambda: self.model.reserve(order, dict(sorted(lines.items())), ttl, self.clock()),
        )
        if real is not None:
            assert real.lines == model.lines
            assert real.status is effective_status(model.status, model.expires_at, self.clock())

    @rule(order=st.sampled_from(ORDERS))
    def commit(self, order):
        self.both(self.service.commit(order), lambda: self.model.commit(order, self.clock()))

    @rule(order=st.sampled_from(ORDERS))
    def release(self, order):
        real, model = self.both(
            self.service.release(order), lambda: self.model.release(order, self.clock())
        )
        if model is not None:
            assert real.status is effective_status(model.status, model.expires_at, self.clock())

    @rule(seconds=st.integers(0, 40))
    def tick(self, seconds):
        self.clock.advance(seconds)

    @rule()
    def expire_job(self):
        self.run(self.service.expire_due())
        self.model.expire_due(self.clock())

    @rule(sku=st.sampled_from(SKUS), delta=st.integers(-5, 5).filter(bool))
    def adjust(self, sku, delta):
        self.both(
            self.service.adjust_stock(sku, delta, "count", actor="test"),
            lambda: self.model.adjust(sku, delta, self.clock()),
        )

    @invariant()
    def same_observable_state(self):
        now = self.clock()
        real = {a.sku: a.available for a in self.run(self.service.availability(SKUS))}
        assert real == {s: self.model.available(s, now) for s in SKUS}
        for order, r in self.model.reservations.items():
            view = self.run(self.service.get_reservation(order))
            assert view.status is effective_status(r.status, r.expires_at, now), order
        self.run(assert_ledger_consistent(self.service))


DifferentialMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSqlMatchesModel = DifferentialMachine.TestCase
