# Inventory's own targets (included by the root Makefile, which defines every service's test,
# lint, migrate, seed, serve and worker; run from the repository root).
INVENTORY_BENCH_ARGS ?=
INVENTORY_BENCH := $(UV) run --frozen python services/inventory/bench/bench_hot_sku.py

.PHONY: inventory-test-mariadb inventory-audit inventory-expire inventory-bench inventory-bench-grpc

inventory-test-mariadb: ## inventory: the MariaDB concurrency tests only
	$(UV) run --frozen pytest services/inventory/tests/test_concurrency_mariadb.py -q

inventory-audit: install ## inventory: recompute balances from the ledger (exit 1 on drift)
	$(PY) -m vanity_inventory audit

inventory-expire: install ## inventory: expire due reservations now (what the beat job does)
	$(PY) -m vanity_inventory expire

inventory-bench: ## inventory: hot-SKU benchmark on MariaDB (in-process use cases)
	$(INVENTORY_BENCH) --concurrency 8 16 64 --with-commit $(INVENTORY_BENCH_ARGS)

inventory-bench-grpc: ## inventory: the same through a real gRPC server process
	$(INVENTORY_BENCH) --mode grpc --concurrency 8 16 64 $(INVENTORY_BENCH_ARGS)
