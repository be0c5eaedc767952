# Cart targets (included by the root Makefile; run from the repository root).
CART_PKG := vanity_cart
CART_BENCH_ARGS ?=

.PHONY: cart-test cart-test-mariadb cart-lint cart-migrate cart-serve cart-worker cart-expire cart-bench

cart-test: ## cart: all tests (SQLite, and MariaDB when reachable)
	uv run pytest services/cart -q

cart-test-mariadb: ## cart: the MariaDB concurrency tests only
	uv run pytest services/cart/tests/test_concurrency_mariadb.py -q

cart-lint: ## cart: ruff lint + format check
	uv run ruff check services/cart
	uv run ruff format --check services/cart

cart-migrate: ## cart: apply migrations to CART_DATABASE_URL (default SQLite)
	uv run python -m $(CART_PKG) migrate

cart-serve: ## cart: HTTP 8004 + gRPC 50054
	uv run python -m $(CART_PKG) serve

cart-worker: ## cart: Celery worker with beat (guest cart expiry, hourly)
	uv run celery -A $(CART_PKG).worker:celery_app worker -B -Q cart -l INFO

cart-expire: ## cart: delete abandoned guest carts now (what the beat job does)
	uv run python -m $(CART_PKG) expire-guest-carts

cart-bench: ## cart: GET /api/v1/cart with 5 lines at 32 clients (real cart process, stand-in deps)
	uv run python services/cart/bench/bench_cart.py --clients 32 $(CART_BENCH_ARGS)
