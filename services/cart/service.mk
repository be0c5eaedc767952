# Cart's own targets (included by the root Makefile, which defines every service's test, lint,
# migrate, seed, serve and worker; run from the repository root).
CART_BENCH_ARGS ?=

.PHONY: cart-test-mariadb cart-expire cart-bench

cart-test-mariadb: ## cart: the MariaDB concurrency tests only
	$(UV) run --frozen pytest services/cart/tests/test_concurrency_mariadb.py -q

cart-expire: install ## cart: delete abandoned guest carts now (what the beat job does)
	$(PY) -m vanity_cart expire-guest-carts

cart-bench: ## cart: GET /api/v1/cart with 5 lines at 32 clients (real cart process, stand-in deps)
	$(UV) run --frozen python services/cart/bench/bench_cart.py --clients 32 $(CART_BENCH_ARGS)
