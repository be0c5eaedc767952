# Catalog targets (included by the root Makefile). Paths are relative to the repo root.
CATALOG_BENCH_ARGS ?=

.PHONY: catalog-test catalog-lint catalog-migrate catalog-seed catalog-demo-data catalog-run catalog-bench

catalog-test: ## catalog tests (SQLite, and MariaDB when reachable)
	$(UV) run --frozen pytest services/catalog -q -p no:cacheprovider

catalog-lint: ## ruff on the catalog service
	$(UV) run --frozen ruff check services/catalog
	$(UV) run --frozen ruff format --check services/catalog

catalog-migrate: ## apply catalog migrations (CATALOG_DATABASE_URL or the SQLite default)
	$(UV) run --frozen python -m vanity_catalog migrate

catalog-seed: catalog-migrate ## load the demo catalog (deploy/demo/catalog.json), idempotent
	$(UV) run --frozen python -m vanity_catalog seed

catalog-demo-data: ## regenerate deploy/demo/catalog.json from the deterministic generator
	$(UV) run --frozen python -m tools.catalog_demo

catalog-run: catalog-seed ## run the catalog alone on :8002 (gRPC :50052)
	$(UV) run --frozen python -m vanity_catalog serve

catalog-bench: ## list/detail req/s and p50/p95/p99, cache cold and warm (CATALOG_BENCH_ARGS=...)
	$(UV) run --frozen python services/catalog/bench/bench_catalog.py $(CATALOG_BENCH_ARGS)
