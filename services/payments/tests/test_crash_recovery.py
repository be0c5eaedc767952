"""A process killed (SIGKILL) after the provider applied a charge and before payments stored the
answer: the payment is left pending with no intent id; the reconciliation job finds the intent
by our payment id and resolves it, and a retried Charge gets the same payment: one intent, one
authorization, on SQLite and MariaDB."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from vanity_payments.domain import PaymentStatus
from vanity_payments.ports import PaymentOutcome
from vanity_payments.service import ChargeCommand
from vanity_payments.tables import mock_intents

CHILD = Path(__file__).with_name("crash_child.py")


def run_and_kill_after_the_provider_applied(database_url: str, data_dir: Path) -> str:
    child = subprocess.Popen(
        [sys.executable, str(CHILD), database_url, str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()  # blocks until the provider applied (or the child died)
        assert line.startswith("APPLIED "), f"child said {line!r}: {child.stderr.read()}"
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
        return line.split()[1]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


async def test_a_process_killed_between_provider_and_commit_is_resolved_once(
    harness_factory, database_url, tmp_path
):
    harness = await harness_factory(database_url)  # migrated; the child uses the same database
    intent_id = run_and_kill_after_the_provider_applied(database_url, tmp_path)

    stuck = await harness.payments.get_payment(order_id="order-crash")
    assert (stuck.status, stuck.provider_reference) == (PaymentStatus.PENDING, None)
    assert await harness.count(mock_intents) == 1

    harness.clock.advance(minutes=10)
    report = await harness.payments.reconcile_stuck()
    assert (report.changed, report.mismatches, report.errors) == (1, 0, 0)
    resolved = await harness.payments.get_payment(payment_id=stuck.id)
    assert (resolved.status, resolved.provider_reference) == (PaymentStatus.AUTHORIZED, intent_id)

    retried = await harness.payments.charge(
        ChargeCommand("order:crash:charge", "order-crash", "user-1", 5_000, "EUR", "pm_card_visa")
    )
    assert (retried.id, retried.status) == (stuck.id, PaymentStatus.AUTHORIZED)
    assert await harness.count(mock_intents) == 1
    await harness.settle()
    assert [r["outcome"] for r in harness.checkout.reports] == [PaymentOutcome.SUCCEEDED]
