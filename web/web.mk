# The web app (web/: Preact + TypeScript, built with Vite). Included by the root Makefile; paths
# are relative to the repo root. `make web` is a no-op when the build is newer than its sources.
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) \
               web/index.html web/vite.config.ts web/tsconfig.json
WEB_DEPS := web/node_modules/.package-lock.json

.PHONY: web web-test web-browser chromium

# npm ci: exactly the committed package-lock.json (npm writes node_modules/.package-lock.json)
$(WEB_DEPS): web/package-lock.json web/package.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is missing: install Node.js 20.19 or newer" >&2; exit 1; }
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web/dist/index.html: $(WEB_DEPS) $(WEB_SOURCES)
	cd web && npm run --silent build
	@touch $@

web: web/dist/index.html ## build the storefront and admin console into web/dist (npm ci + vite build, when stale)

web-test: $(WEB_DEPS) ## web unit tests (Vitest) and the TypeScript check
	cd web && npx --no-install tsc --noEmit && npx --no-install vitest run

chromium: ## Debian's Chromium for the browser tests, when /usr/bin/chromium is missing
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: sudo apt-get install chromium" >&2; exit 1; fi; }

web-browser: web chromium ## browser tests (playwright-core + Chromium) against a fresh suite on shifted ports
	$(UV) run --frozen pytest -q -p no:cacheprovider tests/e2e/test_web_browser.py
