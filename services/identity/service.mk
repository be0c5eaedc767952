# Identity service targets (included by the root Makefile). See docs/identity.md.
IDENTITY := uv run python -m vanity_identity

.PHONY: identity-migrate identity-seed identity-run identity-worker identity-test identity-lint \
	identity-jwks create-admin rotate-keys retire-keys

identity-migrate: ## identity: apply database migrations
	$(IDENTITY) migrate

identity-seed: identity-migrate ## identity: demo customer (development only; password in .data/demo-credentials.txt)
	$(IDENTITY) seed

identity-run: identity-migrate ## identity: serve HTTP :8001 and gRPC :50051 (dev keys generated on first start)
	$(IDENTITY) serve

identity-worker: ## identity: Celery worker + beat (password-reset e-mails, purge of expired tokens)
	uv run celery -A vanity_identity.worker worker -B -Q identity --loglevel INFO

identity-test: ## identity: tests (SQLite, and MariaDB when reachable)
	uv run pytest services/identity -q

identity-lint:
	uv run ruff check services/identity && uv run ruff format --check services/identity

identity-jwks: ## identity: print the published verification keys (JWKS)
	$(IDENTITY) jwks

# make create-admin EMAIL=boss@example.com [NAME="Jo Boss"] [PERMS=catalog,inventory,orders,users,payments]
# Password: prompted on a terminal, or from IDENTITY_ADMIN_PASSWORD. There is no default password.
create-admin: identity-migrate ## identity: create the first admin (or promote an account)
	$(IDENTITY) create-admin $(if $(EMAIL),--email "$(EMAIL)") $(if $(NAME),--name "$(NAME)") $(if $(PERMS),--perms "$(PERMS)")

# Rotation without downtime: `make rotate-keys gateway-config` (new key signs, old one still verifies).
# Staged: `make rotate-keys STAGE=1 gateway-config`, then `make rotate-keys ACTIVATE=<key-id>`.
rotate-keys: ## identity: new signing key pair (old public keys stay published)
	$(IDENTITY) rotate-keys $(if $(STAGE),--stage) $(if $(ACTIVATE),--activate "$(ACTIVATE)")

# Drops every non-active key once the active one has signed for longer than the token lifetime
# (refuses earlier unless FORCE=1). Follow with `make gateway-config`.
retire-keys: ## identity: remove public keys no live token can need
	$(IDENTITY) retire-keys $(if $(FORCE),--force)
