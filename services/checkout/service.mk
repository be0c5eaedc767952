# Checkout's own targets (included by the root Makefile, which defines every service's test,
# lint, migrate, seed, serve and worker; run from the repository root).
CHECKOUT_BENCH_ARGS ?=
CHECKOUT_BENCH := $(UV) run --frozen python services/checkout/bench/bench_checkout.py

.PHONY: checkout-test-crash checkout-test-mariadb checkout-recover checkout-bench checkout-bench-gateway

checkout-test-crash: ## checkout: the SIGKILL crash tests (real checkout processes, real inventory + payments)
	$(UV) run --frozen pytest services/checkout/tests/test_saga_sigkill.py -q

checkout-test-mariadb: ## checkout: the MariaDB race tests (last units, one Idempotency-Key x 20)
	$(UV) run --frozen pytest services/checkout/tests/test_checkout_races_mariadb.py services/checkout/tests/test_saga_recovery_mariadb.py -q

checkout-bench: ## checkout: sagas/s + p50/p95/p99 on MariaDB, mock provider (in-process, services in processes, through the gateway)
	$(CHECKOUT_BENCH) --mode inprocess --orders 200 --concurrency 8 $(CHECKOUT_BENCH_ARGS)
	$(CHECKOUT_BENCH) --mode services --orders 200 --concurrency 8 $(CHECKOUT_BENCH_ARGS)
	$(CHECKOUT_BENCH) --mode gateway --orders 100 --concurrency 8 $(CHECKOUT_BENCH_ARGS)

checkout-bench-gateway: ## checkout: the gateway half of checkout-bench alone
	$(CHECKOUT_BENCH) --mode gateway --orders 100 --concurrency 8 $(CHECKOUT_BENCH_ARGS)

checkout-recover: install ## checkout: one saga recovery sweep now (what the beat job does)
	$(PY) -m vanity_checkout recover
