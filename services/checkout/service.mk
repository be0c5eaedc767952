# Checkout targets (included by the root Makefile; run from the repository root).
CHECKOUT_PKG := vanity_checkout
CHECKOUT_BENCH_ARGS ?=

.PHONY: checkout-test checkout-test-crash checkout-test-mariadb checkout-lint checkout-migrate \
	checkout-serve checkout-worker checkout-recover checkout-bench checkout-bench-gateway

checkout-test: ## checkout: all tests (SQLite, and MariaDB when reachable; incl. SIGKILL crash tests)
	uv run pytest services/checkout -q

checkout-test-crash: ## checkout: the SIGKILL crash tests (real checkout processes, real inventory + payments)
	uv run pytest services/checkout/tests/test_saga_sigkill.py -q

checkout-test-mariadb: ## checkout: the MariaDB race tests (last units, one Idempotency-Key x 20)
	uv run pytest services/checkout/tests/test_checkout_races_mariadb.py services/checkout/tests/test_saga_recovery_mariadb.py -q

checkout-lint: ## checkout: ruff lint + format check
	uv run ruff check services/checkout
	uv run ruff format --check services/checkout

checkout-migrate: ## checkout: apply migrations to CHECKOUT_DATABASE_URL (default SQLite)
	uv run python -m $(CHECKOUT_PKG) migrate

checkout-serve: ## checkout: HTTP 8005 + gRPC 50055
	uv run python -m $(CHECKOUT_PKG) serve

checkout-worker: ## checkout: Celery worker with beat (saga recovery every 10 s, outbox relay, e-mails)
	uv run celery -A $(CHECKOUT_PKG).worker:celery_app worker -B -Q checkout -l INFO

checkout-bench: ## checkout: sagas/s + p50/p95/p99 on MariaDB, mock provider (in-process, then through the gateway)
	uv run python services/checkout/bench/bench_checkout.py --mode inprocess --orders 200 --concurrency 8 $(CHECKOUT_BENCH_ARGS)
	uv run python services/checkout/bench/bench_checkout.py --mode gateway --orders 100 --concurrency 8 $(CHECKOUT_BENCH_ARGS)

checkout-bench-gateway: ## checkout: the gateway half of checkout-bench alone
	uv run python services/checkout/bench/bench_checkout.py --mode gateway --orders 100 --concurrency 8 $(CHECKOUT_BENCH_ARGS)

checkout-recover: ## checkout: one saga recovery sweep now (what the beat job does)
	uv run python -m $(CHECKOUT_PKG) recover
