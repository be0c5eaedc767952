# Catalog's own targets (included by the root Makefile, which defines every service's test,
# lint, migrate, seed and serve; catalog has no worker). Paths are relative to the repo root.
CATALOG_BENCH_ARGS ?=

.PHONY: catalog-demo-data catalog-run catalog-bench

catalog-demo-data: ## regenerate deploy/demo/catalog.json from the deterministic generator
	$(UV) run --frozen python -m tools.catalog_demo

catalog-run: catalog-seed ## run the catalog alone on :8002 (gRPC :50052)
	$(UV) run --frozen python -m vanity_catalog serve

catalog-bench: ## list/detail req/s and p50/p95/p99, cache cold and warm (CATALOG_BENCH_ARGS=...)
	$(UV) run --frozen python services/catalog/bench/bench_catalog.py $(CATALOG_BENCH_ARGS)
