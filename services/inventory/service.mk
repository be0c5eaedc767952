# Inventory targets (included by the root Makefile; run from the repository root).
INVENTORY_PKG := vanity_inventory
INVENTORY_BENCH_ARGS ?=

.PHONY: inventory-test inventory-test-mariadb inventory-lint inventory-migrate inventory-seed \
	inventory-serve inventory-worker inventory-audit inventory-expire inventory-bench \
	inventory-bench-grpc

inventory-test: ## inventory: all tests (SQLite, and MariaDB when reachable)
	uv run pytest services/inventory -q

inventory-test-mariadb: ## inventory: the MariaDB concurrency tests only
	uv run pytest services/inventory/tests/test_concurrency_mariadb.py -q

inventory-lint: ## inventory: ruff lint + format check
	uv run ruff check services/inventory
	uv run ruff format --check services/inventory

inventory-migrate: ## inventory: apply migrations to INVENTORY_DATABASE_URL (default SQLite)
	uv run python -m $(INVENTORY_PKG) migrate

inventory-seed: inventory-migrate ## inventory: demo stock for deploy/demo/catalog.json SKUs
	uv run python -m $(INVENTORY_PKG) seed

inventory-serve: ## inventory: HTTP 8003 + gRPC 50053
	uv run python -m $(INVENTORY_PKG) serve

inventory-worker: ## inventory: Celery worker with beat (expiry 30 s, audit 10 min, low-stock sweep)
	uv run celery -A $(INVENTORY_PKG).worker:celery_app worker -B -Q inventory -l INFO

inventory-audit: ## inventory: recompute balances from the ledger (exit 1 on drift)
	uv run python -m $(INVENTORY_PKG) audit

inventory-expire: ## inventory: expire due reservations now (what the beat job does)
	uv run python -m $(INVENTORY_PKG) expire

inventory-bench: ## inventory: hot-SKU benchmark on MariaDB (in-process use cases)
	uv run python services/inventory/bench/bench_hot_sku.py --concurrency 8 16 64 --with-commit $(INVENTORY_BENCH_ARGS)

inventory-bench-grpc: ## inventory: the same through a real gRPC server process
	uv run python services/inventory/bench/bench_hot_sku.py --mode grpc --concurrency 8 16 64 $(INVENTORY_BENCH_ARGS)
