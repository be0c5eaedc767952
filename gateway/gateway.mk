# Gateway targets (included by the root Makefile). Paths are relative to the repo root.
KEYS_DIR ?= .data/keys
GATEWAY_CONFIG ?= .data/gateway/kong.yml
GATEWAY_UPSTREAMS ?= gateway/upstreams.local.yml
GATEWAY_HOST ?= 127.0.0.1
GATEWAY_PORT ?= 8000

.PHONY: gateway-config gateway-validate gateway-run gateway-test gateway-bench

## Render the deployable kong.yml (+ jwt credentials for every public key in KEYS_DIR).
## Key rotation = run this again; a running stand-in reloads the file within a second.
## REDIS_URL=redis://host:6379/0 switches every rate-limiting plugin to policy: redis.
gateway-config: ## render .data/gateway/kong.yml with jwt credentials for every key in KEYS_DIR
	KEYS_DIR=$(KEYS_DIR) $(UV) run --frozen python -m vanity_gateway.render --out $(GATEWAY_CONFIG)

## deck validate (structure) + the strict checker (plugins, keys, references, ranges) on the
## committed and the rendered file.
gateway-validate: deck ## deck validate + the strict plugin/field checker on kong.yml (committed and rendered)
	deck validate -s gateway/kong.yml
	$(UV) run --frozen python -m vanity_gateway.validate gateway/kong.yml
	@if [ -f $(GATEWAY_CONFIG) ]; then \
	  deck validate -s $(GATEWAY_CONFIG) && \
	  $(UV) run --frozen python -m vanity_gateway.validate $(GATEWAY_CONFIG); \
	else echo "($(GATEWAY_CONFIG) not rendered yet: run make gateway-config)"; fi

## Run the local stand-in on :8000 (status/metrics on :8100).
gateway-run: ## run the Kong stand-in alone on :8000 (status and metrics on :8100)
	$(UV) run --frozen python -m vanity_gateway --config $(GATEWAY_CONFIG) --upstreams $(GATEWAY_UPSTREAMS) \
	  --host $(GATEWAY_HOST) --port $(GATEWAY_PORT)

gateway-test: ## gateway tests (real upstream processes)
	$(UV) run --frozen pytest gateway -q

## Added latency / throughput of the stand-in vs direct, one run, loopback.
gateway-bench: ## added latency and throughput of the stand-in against calling the upstream directly
	$(UV) run --frozen python gateway/bench/bench.py --requests 3000 --concurrency 1,16
