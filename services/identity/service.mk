# Identity's own targets (included by the root Makefile, which defines every service's test,
# lint, migrate, seed, serve and worker). See docs/identity.md.
IDENTITY := $(PY) -m vanity_identity

.PHONY: identity-jwks create-admin rotate-keys retire-keys

identity-jwks: install ## identity: print the published verification keys (JWKS)
	$(IDENTITY) jwks

# make create-admin EMAIL=boss@example.com [NAME="Jo Boss"] [PERMS=catalog,inventory,orders,users,payments]
# Password: prompted on a terminal, or from IDENTITY_ADMIN_PASSWORD. There is no default password.
create-admin: identity-migrate ## identity: create the first admin (or promote an account)
	$(IDENTITY) create-admin $(if $(EMAIL),--email "$(EMAIL)") $(if $(NAME),--name "$(NAME)") $(if $(PERMS),--perms "$(PERMS)")

# Rotation without downtime: `make rotate-keys gateway-config` (new key signs, old one still verifies).
# Staged: `make rotate-keys STAGE=1 gateway-config`, then `make rotate-keys ACTIVATE=<key-id>`.
rotate-keys: install ## identity: new signing key pair (old public keys stay published)
	$(IDENTITY) rotate-keys $(if $(STAGE),--stage) $(if $(ACTIVATE),--activate "$(ACTIVATE)")

# Drops every non-active key once the active one has signed for longer than the token lifetime
# (refuses earlier unless FORCE=1). Follow with `make gateway-config`.
retire-keys: install ## identity: remove public keys no live token can need
	$(IDENTITY) retire-keys $(if $(FORCE),--force)
